"""The backtune problems of PyTorch's Conv2d and Linear layers: one geometry per layer,
shared by the modules' backward, the model importer and the benchmark."""
import torch
import torch.nn.functional as F
from torch import nn

import backtune


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv_padding(module, kernel=None, dilation=None):
    """A Conv2d's zero padding as ((top, bottom), (left, right)): its integers, 'valid', or
    'same' (total dilation * (kernel - 1), the extra row and column at the end, as PyTorch
    pads), or backtune's Conv2d's explicit uneven padding. padding_mode other than 'zeros'
    pads the input first (the convolution itself then has none)."""
    bt_pad = getattr(module, "bt_padding", None)
    if bt_pad is not None:
        return bt_pad
    if module.padding_mode != "zeros":
        return ((0, 0), (0, 0))
    kernel = kernel or module.kernel_size
    dilation = dilation or module.dilation
    if module.padding == "valid":
        return ((0, 0), (0, 0))
    if module.padding == "same":
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in total)
    ph, pw = _pair(module.padding)
    return ((ph, ph), (pw, pw))


def conv_problem(op, x_shape, weight_shape, stride, padding, dilation, groups, layout="nchw",
                 accumulate=False, name=""):
    """The problem of a convolution of input x_shape (N, C, H, W) with weights
    (K, C/G, R, S); padding ((top, bottom), (left, right))."""
    n, c, h, w = x_shape
    k, _, r, s = weight_shape
    return backtune.Problem.conv(op, n, c, h, w, k, r, s, stride=stride, padding=padding,
                                 dilation=dilation, groups=groups, layout=layout,
                                 accumulate=accumulate, name=name)


def module_conv_problem(module, x_shape, op="conv_bwd_w", layout="nchw", name=""):
    """The problem of an nn.Conv2d applied to an input of x_shape (before any non-zero
    padding_mode's padding: that padding is added to the input size)."""
    x_shape = tuple(x_shape)
    if module.padding_mode != "zeros":
        (pt, pb), (pl, pr) = _mode_padding(module)
        x_shape = x_shape[:2] + (x_shape[2] + pt + pb, x_shape[3] + pl + pr)
    return conv_problem(op, x_shape, module.weight.shape, _pair(module.stride),
                        conv_padding(module), _pair(module.dilation), module.groups, layout,
                        name=name)


def linear_problem(op, x_shape, weight_shape, name=""):
    """The problem of a linear layer with weights (out, in) applied to an input of x_shape
    (..., in): the leading dimensions are the FC's minibatch."""
    n = 1
    for d in tuple(x_shape)[:-1]:
        n *= d
    return backtune.Problem.fc(op, n, weight_shape[1], weight_shape[0], name=name)


def _mode_padding(module):
    # F.pad's order (left, right, top, bottom) -> ((top, bottom), (left, right))
    l, r, t, b = module._reversed_padding_repeated_twice
    return ((t, b), (l, r))


def conv_forward(x, weight, bias, stride, padding, dilation, groups):
    """PyTorch's convolution with ((top, bottom), (left, right)) zero padding: uneven padding
    pads the input first, as PyTorch's own padding='same' does."""
    (pt, pb), (pl, pr) = padding
    if pt == pb and pl == pr:
        return F.conv2d(x, weight, bias, stride, (pt, pl), dilation, groups)
    return F.conv2d(F.pad(x, (pl, pr, pt, pb)), weight, bias, stride, 0, dilation, groups)


def model_layers(model):
    """(name, module) of every nn.Conv2d and nn.Linear of a model, in module order."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))]


def layout_of(t):
    """'nhwc' for a dense channels_last 4-D tensor (that is not also dense NCHW), 'nchw' for
    a contiguous one, None for anything else."""
    if t.is_contiguous():
        return "nchw"
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return "nhwc"
    return None


def memory_format(layout):
    return torch.channels_last if layout == "nhwc" else torch.contiguous_format

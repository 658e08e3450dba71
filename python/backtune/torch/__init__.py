"""PyTorch layers whose backward runs on backtune.

    import torchvision, backtune.torch
    model = backtune.torch.convert(torchvision.models.resnet50())   # in place
    loss = model(images).logsumexp(1).mean(); loss.backward()          # dX, dW, db by backtune

Conv2d and Linear are drop-in subclasses of torch.nn's: the forward is PyTorch's; the
backward (dX, dW, db) runs on backtune plans cached per problem (made once, executed every
step). convert(model) swaps every nn.Conv2d and nn.Linear of a model to them in place (the
same Parameter objects, hooks and state), revert(model) swaps them back.

Weight and bias gradients. During loss.backward(), a backtune layer adds its dW and db into
the parameter's .grad itself, with the library's accumulate (no temporary, no separate add),
and hands autograd None for them; a parameter without .grad gets a new one, written
directly. So a layer called twice in one forward, layers tied to one Parameter, and
gradient accumulation over several backward calls all sum into .grad as autograd would. The
other cases go through autograd as usual (a fresh tensor per use, which autograd sums):
torch.autograd.grad() asking for the parameter, a parameter with tensor hooks, a .grad that
is not a dense float32 CPU tensor of the parameter's shape, a weight that is not a leaf.
backward(inputs=...) without the parameter computes no dW at all. Details: docs/python.md.
"""
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from backtune import BacktuneError, TensorError, tuning_load as _tuning_load

from .functional import clear_plans, conv_backward, linear_backward, plans, set_threads
from .layers import conv_forward, conv_padding, layout_of

__all__ = ["Conv2d", "Linear", "convert", "revert", "plans", "clear_plans", "set_threads",
           "tuning_load", "conv_backward", "linear_backward", "BacktuneError", "TensorError"]


def tuning_load(path):
    """backtune.tuning_load, and the cached plans are made again under the new table."""
    notes = _tuning_load(path)
    clear_plans()
    return notes


def _check_input(x, what):
    if x.device.type != "cpu":
        raise TensorError(f"{what}: input on device '{x.device}'; backtune layers run their "
                          "backward on CPU only")
    if x.dtype != torch.float32:
        raise TensorError(f"{what}: input dtype {x.dtype}; backtune layers take torch.float32 "
                          "(convert the model and inputs with .float())")


def _check_param(p, what):
    if p is not None and (p.device.type != "cpu" or p.dtype != torch.float32):
        raise TensorError(f"{what}: parameter of dtype {p.dtype} on '{p.device}'; backtune "
                          "layers need float32 CPU parameters")


# How a parameter's gradient is delivered (see the module docstring).
_SKIP, _DIRECT, _RETURN = "skip", "direct", "return"


def _route(ctx, index, needed):
    """(_SKIP | _DIRECT | _RETURN, the parameter) for forward input `index`."""
    if not needed:
        return _SKIP, None
    node = ctx.next_functions[index][0]
    if node is None or type(node).__name__ != "AccumulateGrad":
        return _RETURN, None  # not a leaf: its gradient flows on through autograd
    param = node.variable
    if param._backward_hooks:
        return _RETURN, param  # hooks see the summed gradient, through AccumulateGrad
    try:
        will_run = torch._C._will_engine_execute_node(node)
    except RuntimeError:
        return _RETURN, param  # torch.autograd.grad() asks for this parameter
    except AttributeError:
        return _RETURN, param  # a torch without the query: autograd's way
    if not will_run:
        return _SKIP, param  # backward(inputs=...) without this parameter
    g = param.grad
    if g is None or (g.device.type == "cpu" and g.dtype == torch.float32 and not g.is_sparse
                     and g.shape == param.shape and g.is_contiguous() and not g.requires_grad):
        return _DIRECT, param
    return _RETURN, param


def _param_grads(ctx, has_bias):
    """How dW and db are delivered (see the module docstring): returns (mask of dw and db to
    compute, dw and db buffers or None, accumulate, finish) where finish(dw, db) gives what
    backward hands autograd for the weight and the bias."""
    wr, wp = _route(ctx, 1, ctx.needs_input_grad[1])
    br, bp = _route(ctx, 2, has_bias and ctx.needs_input_grad[2])
    into = {i: p.grad for i, (r, p) in enumerate(((wr, wp), (br, bp)))
            if r == _DIRECT and p.grad is not None}

    def finish(dw, db):
        out = []
        for route, param, grad in ((wr, wp, dw), (br, bp, db)):
            if route == _DIRECT and param.grad is None:
                param.grad = grad
            out.append(grad if route == _RETURN else None)
        return tuple(out)

    return (wr != _SKIP or br != _SKIP, br != _SKIP), into.get(0), into.get(1), bool(into), \
        finish


class _ConvFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, geometry, threads):
        if layout_of(x) is None:  # neither NCHW nor channels_last: the backward needs one
            x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.has_bias, ctx.threads = geometry, bias is not None, threads
        return conv_forward(x, weight, bias, *geometry)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        (want_w, want_b), dw, db, accumulate, finish = _param_grads(ctx, ctx.has_bias)
        dx, dw, db = conv_backward(dy, x, weight, *ctx.geometry,
                                   (ctx.needs_input_grad[0], want_w, want_b), dw=dw, db=db,
                                   accumulate=accumulate, threads=ctx.threads)
        return (dx,) + finish(dw, db) + (None, None)


class _LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, threads):
        x = x.contiguous()
        ctx.save_for_backward(x, weight)
        ctx.has_bias, ctx.threads = bias is not None, threads
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x, weight = ctx.saved_tensors
        (want_w, want_b), dw, db, accumulate, finish = _param_grads(ctx, ctx.has_bias)
        dx, dw, db = linear_backward(dy, x, weight, (ctx.needs_input_grad[0], want_w, want_b),
                                     dw=dw, db=db, accumulate=accumulate, threads=ctx.threads)
        return (dx,) + finish(dw, db) + (None,)


def _recording(*tensors):
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d whose backward runs on backtune. Takes nn.Conv2d's arguments; padding
    may also be a 4-tuple (left, right, top, bottom), F.pad's order, for uneven zero padding
    (padding='same' is uneven too when dilation * (kernel - 1) is odd)."""

    bt_padding = None  # ((top, bottom), (left, right)) when given as a 4-tuple
    bt_threads = None  # threads of this layer's plans (None: backtune.torch's default)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        uneven = None
        if not isinstance(padding, (int, str)) and len(tuple(padding)) == 4:
            if padding_mode != "zeros":
                raise ValueError("a 4-tuple padding is zero padding (padding_mode='zeros')")
            left, right, top, bottom = padding
            uneven, padding = ((top, bottom), (left, right)), 0
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.bt_padding = uneven

    def extra_repr(self):
        text = super().extra_repr()
        if self.bt_padding is not None:
            (t, b), (l, r) = self.bt_padding
            text += f", padding(left, right, top, bottom)=({l}, {r}, {t}, {b})"
        return text

    def forward(self, x):
        padding = conv_padding(self)
        stride, dilation = tuple(self.stride), tuple(self.dilation)
        if self.padding_mode != "zeros":
            x = torch.nn.functional.pad(x, self._reversed_padding_repeated_twice,
                                        mode=self.padding_mode)
        if not _recording(x, self.weight, self.bias):
            return conv_forward(x, self.weight, self.bias, stride, padding, dilation,
                                self.groups)
        _check_input(x, "backtune.torch.Conv2d")
        _check_param(self.weight, "backtune.torch.Conv2d.weight")
        _check_param(self.bias, "backtune.torch.Conv2d.bias")
        if x.dim() != 4:
            raise TensorError(f"backtune.torch.Conv2d: input of shape {tuple(x.shape)}; "
                              "backtune takes batched 4-D (N, C, H, W) input")
        return _ConvFunction.apply(x, self.weight, self.bias,
                                   (stride, padding, dilation, self.groups), self.bt_threads)


class Linear(nn.Linear):
    """torch.nn.Linear whose backward runs on backtune (input (..., in_features): the leading
    dimensions form the FC's minibatch)."""

    bt_threads = None

    def forward(self, x):
        if not _recording(x, self.weight, self.bias):
            return torch.nn.functional.linear(x, self.weight, self.bias)
        _check_input(x, "backtune.torch.Linear")
        _check_param(self.weight, "backtune.torch.Linear.weight")
        _check_param(self.bias, "backtune.torch.Linear.bias")
        return _LinearFunction.apply(x, self.weight, self.bias, self.bt_threads)


_SWAPS = {nn.Conv2d: Conv2d, nn.Linear: Linear}


def convert(model):
    """Makes every nn.Conv2d and nn.Linear of model (exactly those classes, not subclasses)
    a backtune layer, in place: the same objects, parameters, buffers and hooks, with the
    backtune class. Returns the model."""
    for m in model.modules():
        swap = _SWAPS.get(type(m))
        if swap is not None:
            m.__class__ = swap
    return model


def revert(model):
    """Undoes convert (also turns backtune layers created directly into torch.nn's; a
    Conv2d with 4-tuple padding cannot be, and raises ValueError)."""
    for m in model.modules():
        if type(m) is Conv2d and m.bt_padding is not None:
            raise ValueError("a backtune Conv2d with (left, right, top, bottom) padding has no "
                             "torch.nn.Conv2d equivalent")
    back = {v: k for k, v in _SWAPS.items()}
    for m in model.modules():
        if type(m) in back:
            m.__class__ = back[type(m)]
    return model

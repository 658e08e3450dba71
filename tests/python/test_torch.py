"""backtune.torch: converted layers' gradients against PyTorch's, per layer with the
library's tolerance (normalised error <= 1, backtune/torch/reference.py), weight sharing,
every geometry, bad input."""
import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import backtune.torch as btt
from backtune.torch import reference
from backtune.torch.layers import conv_padding

LAYOUTS = ["nchw", "nhwc"]


def _fmt(layout):
    return torch.channels_last if layout == "nhwc" else torch.contiguous_format


def check_layers(model, x, layout):
    """Converts a copy of model, runs a training step on it, and checks every layer's dX, dW
    and db (as the layer produced them: dX from its backward hook, dW and db from .grad)
    against PyTorch's backward of that layer on the same activations. Returns the layer
    count; also checks the end-to-end input gradient against the unconverted model's."""
    # eval(): dropout off and batch norm fixed, so both models compute the same function
    model = model.to(memory_format=_fmt(layout)).eval()
    converted = btt.convert(copy.deepcopy(model))
    x = x.contiguous(memory_format=_fmt(layout)).requires_grad_()
    seen = {}

    def forward_hook(m, inputs, output):
        seen.setdefault(m, {})["x"] = inputs[0].detach()

    def backward_hook(m, grad_input, grad_output):
        seen[m]["dx"] = grad_input[0]
        seen[m]["dy"] = grad_output[0]

    layers = [m for m in converted.modules() if isinstance(m, (btt.Conv2d, btt.Linear))]
    assert layers and all(type(m) in (btt.Conv2d, btt.Linear) for m in layers)
    for m in layers:
        m.register_forward_hook(forward_hook)
        m.register_full_backward_hook(backward_hook)
    y = converted(x)
    weights = torch.randn(y.shape)
    (y * weights).sum().backward()
    for m in layers:
        s = seen[m]
        mask = (s["dx"] is not None, True, m.bias is not None)
        got = (s["dx"], m.weight.grad, m.bias.grad if m.bias is not None else None)
        if isinstance(m, nn.Conv2d):
            geometry = (m.stride, conv_padding(m), m.dilation, m.groups)
            ref = reference.conv_backward(s["dy"], s["x"], m.weight, *geometry, mask)
            errors = reference.conv_errors(got, ref, s["dy"], s["x"], m.weight, *geometry)
        else:
            x2, dy2 = s["x"].reshape(-1, m.in_features), s["dy"].reshape(-1, m.out_features)
            got = (got[0].reshape(x2.shape) if got[0] is not None else None,) + got[1:]
            ref = reference.linear_backward(dy2, x2, m.weight, mask)
            errors = reference.linear_errors(got, ref, dy2, x2, m.weight)
        assert max(errors.values()) <= 1, (m, errors)
    # End to end, against the unconverted model (differences propagate through the layers,
    # so this compares with a relative tolerance).
    x_ref = x.detach().clone().requires_grad_()
    (model(x_ref) * weights).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, rtol=1e-3,
                          atol=1e-4 * float(x_ref.grad.abs().max()))
    return len(layers)


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32)
        self.pw = nn.Conv2d(32, 24, 1)
        self.g = nn.Conv2d(24, 24, 3, padding=2, dilation=2, groups=3)
        self.fc = nn.Linear(24 * 6 * 6, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.relu(self.c2(x))
        x = F.relu(self.pw(self.dw(x)))
        x = self.g(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 6), 1))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_small_cnn(layout):
    assert check_layers(SmallCNN(), torch.randn(2, 3, 12, 12), layout) == 6


@pytest.mark.parametrize("layout", LAYOUTS)
def test_torchvision_mobilenet_v2(layout):
    # Depthwise, pointwise, strided, and the classifier, at a small resolution.
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=10)
    assert check_layers(model, torch.randn(2, 3, 32, 32), layout) == 53


GEOMETRIES = {
    "same_even_kernel": dict(in_channels=4, out_channels=6, kernel_size=4, padding="same"),
    "same_dilated": dict(in_channels=4, out_channels=6, kernel_size=2, padding="same",
                         dilation=3),
    "tf_same_stride2": dict(in_channels=4, out_channels=6, kernel_size=3, stride=2,
                            padding=(0, 1, 0, 1)),
    "uneven_rect": dict(in_channels=4, out_channels=4, kernel_size=(3, 2), padding=(2, 0, 1, 3),
                        groups=2),
    "strided_dilated": dict(in_channels=4, out_channels=8, kernel_size=3, stride=(2, 1),
                            padding=(2, 1), dilation=(2, 1)),
    "depthwise_no_bias": dict(in_channels=8, out_channels=8, kernel_size=5, padding=2,
                              groups=8, bias=False),
    "depthwise_multiplier": dict(in_channels=4, out_channels=8, kernel_size=3, padding=1,
                                 groups=4),
    "reflect": dict(in_channels=4, out_channels=6, kernel_size=3, padding=1,
                    padding_mode="reflect"),
    "valid": dict(in_channels=4, out_channels=6, kernel_size=3, padding="valid"),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_conv_geometries(name, layout):
    conv = btt.Conv2d(**GEOMETRIES[name])
    plain = btt.revert(nn.Sequential(copy.deepcopy(conv)))[0] \
        if conv.bt_padding is None else None
    x = torch.randn(2, conv.in_channels, 9, 10).contiguous(memory_format=_fmt(layout))
    x.requires_grad_()
    y = conv(x)
    if plain is not None:  # the forward is PyTorch's
        assert torch.equal(y, plain(x))
    else:
        (t, b), (l, r) = conv.bt_padding
        ref_y = F.conv2d(F.pad(x, (l, r, t, b)), conv.weight, conv.bias, conv.stride, 0,
                         conv.dilation, conv.groups)
        assert torch.equal(y, ref_y)
    dy = torch.randn(y.shape).contiguous(memory_format=_fmt(layout))
    y.backward(dy)
    geometry = (conv.stride, conv_padding(conv), conv.dilation, conv.groups)
    xp = F.pad(x.detach(), conv._reversed_padding_repeated_twice, mode=conv.padding_mode) \
        if conv.padding_mode != "zeros" else x.detach()
    ref = reference.conv_backward(dy, xp, conv.weight, *geometry,
                                  (True, True, conv.bias is not None))
    errors = reference.conv_errors(
        (None, conv.weight.grad, conv.bias.grad if conv.bias is not None else None), ref,
        dy, xp, conv.weight, *geometry)
    assert max(errors.values()) <= 1, errors
    # dx through the padding_mode's pad: compare with autograd's on the PyTorch layer
    x_ref = x.detach().clone().requires_grad_()
    ref_conv = copy.deepcopy(conv)
    F.conv2d(F.pad(x_ref, (geometry[1][1][0], geometry[1][1][1], geometry[1][0][0],
                           geometry[1][0][1])) if conv.padding_mode == "zeros" else
             F.pad(x_ref, conv._reversed_padding_repeated_twice, mode=conv.padding_mode),
             ref_conv.weight, ref_conv.bias, conv.stride, 0, conv.dilation,
             conv.groups).backward(dy)
    assert torch.allclose(x.grad, x_ref.grad, rtol=1e-5, atol=1e-5)


def test_linear_3d_input():
    lin = btt.Linear(8, 5)
    x = torch.randn(3, 4, 8, requires_grad=True)
    dy = torch.randn(3, 4, 5)
    lin(x).backward(dy)
    ref = reference.linear_backward(dy.reshape(12, 5), x.detach().reshape(12, 8), lin.weight,
                                    (True, True, True))
    errors = reference.linear_errors((x.grad.reshape(12, 8), lin.weight.grad, lin.bias.grad),
                                     ref, dy.reshape(12, 5), x.detach().reshape(12, 8),
                                     lin.weight)
    assert max(errors.values()) <= 1, errors


# ---- shared weights ----

def _close(a, b):
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def _pair(model_fn):
    torch.manual_seed(1)
    ref = model_fn()
    ours = btt.convert(copy.deepcopy(ref))
    return ours, ref


class Twice(nn.Module):
    """One conv called twice, two convs tied to one Parameter, a linear used twice."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.b.weight = self.a.weight
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.b(F.relu(self.a(F.relu(self.a(x)))))
        z = y.mean((2, 3))
        return self.fc(self.fc(z))


@pytest.mark.parametrize("existing", [False, True])
def test_shared_weights_sum(existing):
    ours, ref = _pair(Twice)
    x = torch.randn(2, 4, 6, 6)
    btt.clear_plans()
    for m in (ours, ref):
        if existing:  # a .grad already there (zero_grad(set_to_none=False)): added into
            for p in m.parameters():
                p.grad = torch.ones_like(p)
        for step in range(2):  # two backward passes accumulate
            m(x).square().sum().backward()
    assert ours.a.weight is ours.b.weight
    # Every use after the first added into .grad with the library's accumulate
    adds = [text for text, *_ in btt.plans() if text.endswith(" accumulate")]
    assert any(t.startswith("conv_bwd_w ") for t in adds) and \
        any(t.startswith("fc_bwd_w ") for t in adds), btt.plans()
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        assert _close(p.grad, q.grad), name


def test_shared_with_plain_pytorch_use():
    # The same Parameter used by a backtune layer and by F.conv2d: autograd's AccumulateGrad
    # and backtune's accumulate both add into .grad.
    conv = btt.Conv2d(3, 3, 3, padding=1)
    ref = copy.deepcopy(conv)
    x = torch.randn(2, 3, 5, 5)
    (conv(x) + F.conv2d(x, conv.weight, None, 1, 1)).sum().backward()
    (F.conv2d(x, ref.weight, ref.bias, 1, 1) + F.conv2d(x, ref.weight, None, 1, 1)).sum() \
        .backward()
    assert _close(conv.weight.grad, ref.weight.grad) and _close(conv.bias.grad, ref.bias.grad)


def test_autograd_grad_and_backward_inputs():
    ours, ref = _pair(Twice)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    params = [ours.a.weight, ours.fc.bias]
    btt.clear_plans()
    got = torch.autograd.grad(ours(x).sum(), params + [x])
    want = torch.autograd.grad(ref(x).sum(), [ref.a.weight, ref.fc.bias, x])
    assert all(_close(g, w) for g, w in zip(got, want))
    assert all(p.grad is None for p in ours.parameters())  # autograd.grad leaves .grad alone
    assert not any(text.endswith(" accumulate") for text, *_ in btt.plans())
    ours(x).sum().backward(inputs=[x])
    assert all(p.grad is None for p in ours.parameters())


def test_hook_on_weight_sees_the_sum():
    ours, ref = _pair(Twice)
    seen = []
    ours.a.weight.register_hook(lambda g: seen.append(g.clone()))
    x = torch.randn(2, 4, 6, 6)
    ours(x).sum().backward()
    ref(x).sum().backward()
    assert len(seen) == 1 and _close(seen[0], ref.a.weight.grad)
    assert _close(ours.a.weight.grad, ref.a.weight.grad)


def test_plans_made_once():
    model = btt.convert(SmallCNN())
    x = torch.randn(2, 3, 12, 12)
    btt.clear_plans()
    for _ in range(3):
        model.zero_grad(set_to_none=False)
        model(x).sum().backward()
        count = len(btt.plans())
    # 6 layers: bwd_w each, bwd_d for the 5 whose input needs a gradient; the first step
    # writes new .grad tensors (accumulate 0), the next ones add into them (accumulate 1)
    assert count == 6 + 6 + 5


def test_convert_keeps_parameters_and_revert():
    model = SmallCNN()
    params = list(model.parameters())
    assert btt.convert(model) is model
    assert [p for p in model.parameters()] == params
    assert type(model.c1) is btt.Conv2d and type(model.fc) is btt.Linear
    btt.revert(model)
    assert type(model.c1) is nn.Conv2d and type(model.fc) is nn.Linear


# ---- bad input ----

def test_bad_input_raises():
    conv = btt.Conv2d(3, 4, 3)
    with pytest.raises(btt.TensorError, match="dtype torch.float64"):
        conv(torch.randn(1, 3, 5, 5, dtype=torch.float64, requires_grad=True))
    with pytest.raises(btt.TensorError, match="device 'meta'"):
        conv(torch.randn(1, 3, 5, 5, device="meta"))
    with pytest.raises(btt.TensorError, match="float32 CPU parameters"):
        btt.convert(nn.Linear(3, 4).double())(torch.randn(2, 3))
    # Inference needs no backward: any input PyTorch takes
    with torch.no_grad():
        assert conv.double()(torch.randn(1, 3, 5, 5, dtype=torch.float64)).shape == \
            (1, 4, 3, 3)


def test_non_contiguous_input_is_copied():
    conv = btt.Conv2d(3, 4, 3, padding=1)
    ref = copy.deepcopy(conv)
    base = torch.randn(2, 3, 8, 16)
    x = base[:, :, :, ::2]  # neither NCHW nor channels_last: the layer saves a copy
    conv(x).sum().backward()
    ref(x.contiguous()).sum().backward()
    assert _close(conv.weight.grad, ref.weight.grad)

"""PyTorch's own backward of a layer (its CPU kernels, as autograd would call them), and the
normalised difference of two gradients under the library's tolerance.

The tolerance is the library's (kernels/check/check.h): an output of a reduction of length L
may differ from the exact result by FLT_EPSILON * (L + 1) * sum|terms|, where sum|terms| is
the same gradient computed on the absolute values of the inputs. The normalised error of a
gradient is max |a - b| / that bound over its elements: two float results each within the
bound of the exact one differ by at most 2; the tests ask for <= 1. An approximate algorithm
(Winograd) has the bound F * FLT_EPSILON * (L + 1) * the largest sum|terms| of the output,
F its plan's error_factor (0 for direct sums)."""
import torch
import torch.nn.functional as F

FLT_EPSILON = float(torch.finfo(torch.float32).eps)


def conv_backward(dy, x, w, stride, padding, dilation, groups, mask):
    """PyTorch's convolution backward: (dx, dw, db) for mask (dx, dw, db) of booleans;
    padding ((top, bottom), (left, right)); uneven padding as PyTorch's 'same' runs it (the
    input padded, then the padding's backward)."""
    (pt, pb), (pl, pr) = padding
    even = pt == pb and pl == pr
    xp = x if even else F.pad(x, (pl, pr, pt, pb))
    dx, dw, db = torch.ops.aten.convolution_backward(
        dy, xp, w, [w.shape[0]] if mask[2] else None, list(stride),
        [pt, pl] if even else [0, 0], list(dilation), False, [0, 0], groups, list(mask))
    if mask[0] and not even:
        dx = dx[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return dx, dw, db


def linear_backward(dy, x, w, mask):
    """PyTorch's linear backward (addmm's: two matrix products and a sum) on 2-D x and dy."""
    dx = dy.mm(w) if mask[0] else None
    dw = dy.t().mm(x) if mask[1] else None
    db = dy.sum(0) if mask[2] else None
    return dx, dw, db


def _ratio(a, b, bound):
    diff = (a.double() - b.double()).abs()
    bound = bound.double()
    bad = (bound == 0) & (diff > 0)
    if bad.any():
        return float("inf")
    return float((diff / bound.clamp_min(torch.finfo(torch.float64).tiny)).max()) \
        if diff.numel() else 0.0


def _bound(length, absolute, factor):
    if factor > 0:
        return factor * FLT_EPSILON * (length + 1) * absolute.abs().max() * \
            torch.ones_like(absolute)
    return FLT_EPSILON * (length + 1) * absolute


def conv_errors(got, ref, dy, x, w, stride, padding, dilation, groups, factors=(0, 0, 0)):
    """Normalised errors {dx, dw, db} of got against ref (tuples (dx, dw, db), None where
    not computed) for a convolution; factors: the error factors of the plans that computed
    them (Plan.error_factor)."""
    mask = [got[i] is not None and ref[i] is not None for i in range(3)]
    absolute = conv_backward(dy.abs(), x.abs(), w.abs(), stride, padding, dilation, groups,
                             mask)
    k_per_group, r, s = w.shape[0] // groups, w.shape[2], w.shape[3]
    lengths = (k_per_group * r * s, dy.shape[0] * dy.shape[2] * dy.shape[3],
               dy.shape[0] * dy.shape[2] * dy.shape[3])
    return {name: _ratio(got[i], ref[i], _bound(lengths[i], absolute[i], factors[i]))
            for i, name in enumerate(("dx", "dw", "db")) if mask[i]}


def linear_errors(got, ref, dy, x, w):
    """The same for a linear layer (2-D x and dy)."""
    mask = [got[i] is not None and ref[i] is not None for i in range(3)]
    absolute = linear_backward(dy.abs(), x.abs(), w.abs(), mask)
    lengths = (w.shape[0], dy.shape[0], dy.shape[0])
    return {name: _ratio(got[i], ref[i], FLT_EPSILON * (lengths[i] + 1) * absolute[i])
            for i, name in enumerate(("dx", "dw", "db")) if mask[i]}

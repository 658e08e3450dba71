"""backtune's backward of one convolution or linear layer on torch tensors, on plans cached
per problem and thread count (made once, executed every step)."""
import threading

import torch

import backtune
from backtune import TensorError

from . import layers
from .layers import layout_of, memory_format

_plans = {}
_plans_lock = threading.Lock()
_threads = None


def set_threads(n):
    """Threads of the plans made from now on (None: torch.get_num_threads() when a plan is
    made, so backtune runs with as many threads as PyTorch)."""
    global _threads
    if n is not None and n < 1:
        raise ValueError("threads must be >= 1")
    _threads = n


def plan_for(problem, threads=None):
    """The cached plan of a problem for `threads` threads (made on first use: the tuning
    table's variant, else the heuristic's)."""
    threads = threads or _threads or torch.get_num_threads()
    key = (problem.key(), threads)
    with _plans_lock:
        plan = _plans.get(key)
        if plan is None:
            plan = _plans[key] = backtune.Plan(problem, params=f"threads={threads}")
    return plan


def plans():
    """The cached plans, as [(problem text, threads, variant, source, params)]."""
    with _plans_lock:
        return [(p.problem.text, key[1], p.variant, p.source, p.params)
                for key, p in _plans.items()]


def clear_plans():
    """Forgets the cached plans: the next backward makes them again (e.g. after a new table)."""
    with _plans_lock:
        _plans.clear()


def _output(given, shape, fmt, accumulate):
    if given is not None:
        return given
    return torch.zeros(shape).contiguous(memory_format=fmt) if accumulate else \
        torch.empty(shape, memory_format=fmt)


def conv_backward(dy, x, w, stride, padding, dilation, groups, mask, dx=None, dw=None,
                  db=None, accumulate=False, threads=None):
    """(dx, dw, db) of a convolution for mask (dx, dw, db) of booleans, by backtune. x and
    dy dense NCHW or channels_last (dy is made so like x if it is not); padding ((top,
    bottom), (left, right)). Outputs given are written in place (dw and db: added into with
    accumulate); missing ones are allocated. dw is computed whenever db is."""
    layout = layout_of(x)
    if layout is None:
        raise TensorError(f"x: strides {x.stride()} are neither contiguous NCHW nor dense "
                          "channels_last")
    fmt = memory_format(layout)
    dy = dy.contiguous(memory_format=fmt) if layout == "nhwc" else dy.contiguous()
    problem = layers.conv_problem("conv_bwd_d", x.shape, w.shape, stride, padding, dilation,
                                  groups, layout)
    if mask[0]:
        dx = _output(dx, x.shape, fmt, False)
        plan_for(problem, threads).execute(w=w.contiguous(), dy=dy, dx=dx)
    if mask[1] or mask[2]:
        dw = _output(dw, w.shape, torch.contiguous_format, accumulate)
        if mask[2]:
            db = _output(db, (w.shape[0],), torch.contiguous_format, accumulate)
        plan = plan_for(problem.replace(op="conv_bwd_w", accumulate=accumulate), threads)
        plan.execute(x=x, dy=dy, dw=dw, db=db if mask[2] else None)
    return (dx if mask[0] else None, dw if mask[1] else None, db if mask[2] else None)


def linear_backward(dy, x, w, mask, dx=None, dw=None, db=None, accumulate=False,
                    threads=None):
    """The same for a linear layer: x (..., in), dy (..., out), w (out, in); dx comes back
    in x's shape."""
    problem = layers.linear_problem("fc_bwd_d", x.shape, w.shape)
    x2 = x.reshape(problem.n, problem.c)
    dy2 = dy.reshape(problem.n, problem.k).contiguous()
    if mask[0]:
        dx = _output(dx, x.shape, torch.contiguous_format, False)
        plan_for(problem, threads).execute(w=w.contiguous(), dy=dy2,
                                           dx=dx.view(problem.n, problem.c))
    if mask[1] or mask[2]:
        dw = _output(dw, w.shape, torch.contiguous_format, accumulate)
        if mask[2]:
            db = _output(db, (w.shape[0],), torch.contiguous_format, accumulate)
        plan = plan_for(problem.replace(op="fc_bwd_w", accumulate=accumulate), threads)
        plan.execute(x=x2.contiguous(), dy=dy2, dw=dw, db=db if mask[2] else None)
    return (dx if mask[0] else None, dw if mask[1] else None, db if mask[2] else None)

"""The training-step benchmark: the backward of every convolution and linear layer of a
torchvision model, by backtune and by PyTorch's own CPU kernels, on real activations.

1. A forward pass of the model (train mode) on random images records every layer's input x;
   a backward pass of a real loss (cross entropy on random labels) records every layer's
   output gradient dy. A layer called twice is two cases.
2. Per case, backtune's plans are made and both sides run once to warm up; every output is
   compared with the library's tolerance (backtune.torch.reference: normalised error, 1 is
   the tolerance).
3. Timing: `reps` rounds; in each, every case runs backtune's backward, then PyTorch's
   (the other order on odd rounds), each timed alone with perf_counter. Per case and side,
   the median over rounds; the totals are sums of medians.

Both sides compute what a training step needs: dW and db always, dX except for a layer whose
input needs no gradient (the first convolution). PyTorch's side is
torch.ops.aten.convolution_backward (what autograd calls for a convolution) and, for a
linear layer, addmm's backward (dy @ W, dy^T @ x, sum). backtune's side is
backtune.torch.conv_backward / linear_backward, what backtune.torch's layers run, into
outputs allocated once and reused.

Fairness: both sides run with the same thread count (torch.set_num_threads and the plans'
threads=T) on the same bound OpenMP threads (the command re-executes itself with
OMP_PLACES=cores OMP_PROC_BIND=close unless either is set, as the backtune command does:
PyTorch and libbacktune share libgomp). PyTorch allocates its outputs (and temporaries) on
every call; glibc hands a large buffer out as fresh mmap'd memory whose first touch
page-faults on every call (on the VMs measured this halved the bandwidth of the layers it
hit), while backtune's outputs are allocated once. So the command also preloads jemalloc
(libjemalloc2) with MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1, which keeps freed
memory mapped for reuse: after the warm-up, both sides write into memory already mapped.
--system-malloc keeps glibc's malloc; without libjemalloc2 the command says so and runs on.
"""
import ctypes.util
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from . import functional, reference
from .layers import conv_padding, conv_problem, layout_of, linear_problem, model_layers

REEXEC_MARK = "BACKTUNE_BENCH_ENV"
OMP_BINDING = {"OMP_PLACES": "cores", "OMP_PROC_BIND": "close"}
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


def prepare_environment(argv, system_malloc):
    """Re-executes the command once with OMP_BINDING (unless either variable is set) and,
    unless system_malloc, jemalloc preloaded. Returns what is in effect, for the header."""
    if os.environ.get(REEXEC_MARK) is None:
        env = dict(os.environ)
        note = ""
        if "OMP_PLACES" not in env and "OMP_PROC_BIND" not in env:
            env.update(OMP_BINDING)
        if not system_malloc:
            jemalloc = ctypes.util.find_library("jemalloc")
            if jemalloc:
                # after any preload already there (a sanitizer runtime must stay first)
                env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"), jemalloc]))
                env.setdefault("MALLOC_CONF", JEMALLOC_CONF)
            else:
                note = ("no libjemalloc2: PyTorch's outputs come from glibc's malloc and may "
                        "page-fault on every call (apt-get install libjemalloc2)")
        env[REEXEC_MARK] = note or "-"
        os.execve(sys.executable, [sys.executable, "-m", "backtune.torch"] + argv, env)
    settings = {k: os.environ.get(k, "(unset)")
                for k in ("OMP_PLACES", "OMP_PROC_BIND", "LD_PRELOAD", "MALLOC_CONF")}
    note = os.environ[REEXEC_MARK]
    return settings, "" if note == "-" else note


class Case:
    """One call of one layer: its module, input and output gradient, and the geometry."""

    def __init__(self, name, module, x, dy, need_dx):
        self.name, self.module, self.x, self.dy, self.need_dx = name, module, x, dy, need_dx
        self.is_conv = isinstance(module, nn.Conv2d)
        self.w = module.weight.detach()
        self.has_bias = module.bias is not None
        self.mask = (need_dx, True, self.has_bias)
        if self.is_conv:
            if module.padding_mode != "zeros":
                self.x = F.pad(x, module._reversed_padding_repeated_twice,
                               mode=module.padding_mode)
            self.geometry = (tuple(module.stride), conv_padding(module),
                             tuple(module.dilation), module.groups)
        else:
            self.x = x.reshape(-1, x.shape[-1])  # dy is set in this 2-D form by capture()

    def ours(self, threads, outputs):
        """backtune's backward into the outputs of the previous case of the same shapes in
        `outputs` (a dict the caller keeps: allocated once, warm, and shared by the cases
        that can, which bounds the memory the benchmark needs)."""
        self.threads = threads
        key = (self.is_conv, tuple(self.x.shape), self.x.stride(), tuple(self.w.shape),
               self.mask)
        out = outputs.get(key, (None, None, None))
        if self.is_conv:
            got = functional.conv_backward(self.dy, self.x, self.w, *self.geometry, self.mask,
                                           *out, threads=threads)
        else:
            got = functional.linear_backward(self.dy, self.x, self.w, self.mask, *out,
                                             threads=threads)
        outputs[key] = got
        return got

    def torch(self):
        if self.is_conv:
            return reference.conv_backward(self.dy, self.x, self.w, *self.geometry, self.mask)
        return reference.linear_backward(self.dy, self.x, self.w, self.mask)

    def errors(self, got, ref):
        if self.is_conv:
            weights = self.problem()
            factors = [functional.plan_for(weights.replace(op="conv_bwd_d"),
                                           self.threads).error_factor if self.need_dx else 0,
                       functional.plan_for(weights, self.threads).error_factor]
            return reference.conv_errors(got, ref, self.dy, self.x, self.w, *self.geometry,
                                         factors=factors + factors[1:])
        return reference.linear_errors(got, ref, self.dy, self.x, self.w)

    def problem(self):
        if self.is_conv:
            return conv_problem("conv_bwd_w", self.x.shape, self.w.shape, *self.geometry,
                                layout=layout_of(self.x))
        return linear_problem("fc_bwd_w", self.x.shape, self.w.shape)


def capture(model, images, labels):
    """The cases of one training step of model: forward records inputs, backward the output
    gradients of every nn.Conv2d and nn.Linear call."""
    cases, hooks = [], []
    for name, module in model_layers(model):
        def hook(m, inputs, output, name=name):
            x = inputs[0]
            case = Case(name, m, x.detach(), None, x.requires_grad)
            cases.append(case)

            def grad_hook(g, case=case):
                case.dy = g.detach() if case.is_conv else g.detach().reshape(-1, g.shape[-1])
            output.register_hook(grad_hook)
        hooks.append(module.register_forward_hook(hook))
    out = model(images)
    logits = out.logits if hasattr(out, "logits") else out
    loss = F.cross_entropy(logits, labels)
    if getattr(out, "aux_logits", None) is not None:
        loss = loss + 0.4 * F.cross_entropy(out.aux_logits, labels)
    loss.backward()
    for h in hooks:
        h.remove()
    missing = [c.name for c in cases if c.dy is None]
    if missing:
        raise RuntimeError(f"no output gradient reached {', '.join(missing)}")
    return cases


def build_model(name, channels_last):
    from backtune.model_import import torchvision_model

    model = torchvision_model(name, train=True)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _short(problem):
    text = problem.descriptor
    return text if len(text) <= 44 else text[:41] + "..."


def run(args, env):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    from .. import library_path

    size = args.size or (299 if args.model == "inception_v3" else 224)
    model = build_model(args.model, args.channels_last)
    images = torch.randn(args.batch, 3, size, size)
    if args.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (args.batch,))
    cases = capture(model, images, labels)
    fmt = "channels_last (NHWC)" if args.channels_last else "contiguous (NCHW)"
    print(f"model {args.model}, batch {args.batch}, {size}x{size}, {fmt}, threads "
          f"{args.threads}, {args.reps} rounds, {len(cases)} layer calls")
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads); backtune "
          f"{library_path()}; BACKTUNE_TABLE={os.environ.get('BACKTUNE_TABLE', '(unset)')}")
    settings, note = env
    print("environment: " + " ".join(f"{k}={v}" for k, v in settings.items()))
    if note:
        print(f"note: {note}")

    worst, outputs = 0.0, {}
    for case in cases:  # warm-up: plans, outputs, allocator; and the check
        got = case.ours(args.threads, outputs)
        ref = case.torch()
        errs = case.errors(got, ref)
        case.error = max(errs.values()) if errs else 0.0
        worst = max(worst, case.error)
        del got, ref
        case.torch()
        case.ours(args.threads, outputs)
    times = {id(c): ([], []) for c in cases}
    for rnd in range(args.reps):
        for case in cases:
            sides = [0, 1] if rnd % 2 == 0 else [1, 0]
            for side in sides:
                start = time.perf_counter()
                if side == 0:
                    case.ours(args.threads, outputs)
                else:
                    case.torch()
                times[id(case)][side].append(time.perf_counter() - start)

    header = (f"{'layer':<34} {'problem':<44} {'dX':>2} {'backtune':>9} {'torch':>9} "
              f"{'speedup':>7} {'err':>7}  variants (bwd_d, bwd_w: source)")
    print(header)
    total_ours = total_torch = 0.0
    for case in cases:
        ours = statistics.median(times[id(case)][0]) * 1e3
        theirs = statistics.median(times[id(case)][1]) * 1e3
        total_ours += ours
        total_torch += theirs
        problem = case.problem()
        used = []
        for op in ((problem.op.replace("_w", "_d"),) if case.need_dx else ()) + (problem.op,):
            plan = functional.plan_for(problem.replace(op=op), args.threads)
            used.append(f"{plan.variant.split('__', 1)[1]}: {plan.source}")
        print(f"{case.name[:34]:<34} {_short(problem):<44} {'y' if case.need_dx else 'n':>2} "
              f"{ours:9.3f} {theirs:9.3f} {theirs / ours:7.2f} {case.error:7.1e}  "
              + ", ".join(used))
    speedup = total_torch / total_ours if total_ours > 0 else math.nan
    print(f"backward: backtune {total_ours:.2f} ms, torch {total_torch:.2f} ms, speedup "
          f"{speedup:.3f}, max normalised grad error {worst:.2e}")
    return 0 if worst <= 1.0 else 1

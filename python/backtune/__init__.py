"""backtune from Python: problems, plans and execution on torch tensors, over libbacktune.so
through ctypes (pure Python: nothing is compiled against a particular torch).

    import backtune, torch
    p = backtune.Problem.parse("conv_bwd_w_nhwc mb2ic16ih8oc32kh3ph1")
    plan = backtune.Plan(p)                       # dispatch: tuning table, then heuristic
    x = torch.randn(p.x_shape).contiguous(memory_format=torch.channels_last)
    dy = torch.randn(p.dy_shape).contiguous(memory_format=torch.channels_last)
    dw, db = torch.empty(p.w_shape), torch.empty(p.db_shape)
    plan.execute(x=x, dy=dy, dw=dw, db=db)        # in place, no copies

Tensors must be float32 CPU tensors, dense in the problem's layout (NCHW: contiguous; NHWC:
channels_last); anything else raises TensorError. Library failures raise BacktuneError
carrying bt_last_error(). Tuning tables: BACKTUNE_TABLE in the environment, as for any
program linked with the library, or tuning_load(path). docs/python.md has the details.
"""
import ctypes
import threading

from . import _lib
from ._lib import LIB as _L

__all__ = [
    "BacktuneError",
    "TensorError",
    "Problem",
    "Plan",
    "tuning_load",
    "variants",
    "library_path",
    "OPS",
]

OPS = ("fc_bwd_d", "fc_bwd_w", "conv_bwd_d", "conv_bwd_w")  # bt_op order
LAYOUTS = ("nchw", "nhwc")
_STATUS = ("BT_OK", "BT_EINVAL", "BT_EUNSUPPORTED", "BT_ENOMEM", "BT_EIO")


class BacktuneError(RuntimeError):
    """A libbacktune call failed: .status is its bt_status name, the message bt_last_error()."""

    def __init__(self, status, message):
        self.status = _STATUS[status] if 0 <= status < len(_STATUS) else str(status)
        super().__init__(f"{message} ({self.status})" if message else self.status)


class TensorError(BacktuneError, ValueError):
    """A tensor the library cannot take as it is (dtype, device, shape, memory layout)."""

    def __init__(self, message):
        super().__init__(1, message)
        self.status = "BT_EINVAL"


def _last_error():
    m = _L.bt_last_error()
    return m.decode() if m else ""


def _check(status):
    if status != _lib.BT_OK:
        raise BacktuneError(status, _last_error())


def library_path():
    """The path of the libbacktune.so in use."""
    return _lib.PATH


def _pair(v, what):
    if isinstance(v, int):
        return v, v
    v = tuple(v)
    if len(v) != 2 or not all(isinstance(i, int) for i in v):
        raise ValueError(f"{what} must be an int or a pair of ints, not {v!r}")
    return v


class Problem:
    """One backward problem: a normalized struct bt_problem (and the descriptor's name)."""

    def __init__(self, cproblem, name=""):
        norm = _lib.CProblem()
        _check(_L.bt_problem_normalize(ctypes.byref(cproblem), ctypes.byref(norm)))
        self._p = norm
        self.name = name

    @classmethod
    def parse(cls, text):
        """'<op>[_nchw|_nhwc] <benchdnn descriptor> [accumulate]', the library's grammar."""
        p = _lib.CProblem()
        name = ctypes.create_string_buffer(256)
        _check(_L.bt_problem_parse_named(text.encode(), ctypes.byref(p), name, len(name)))
        return cls(p, name.value.decode())

    @classmethod
    def conv(cls, op, n, c, h, w, k, r, s, stride=1, padding=0, dilation=1, groups=1,
             layout="nchw", accumulate=False, name=""):
        """A convolution's problem in PyTorch's terms. op: 'conv_bwd_d' or 'conv_bwd_w';
        padding: int, (ph, pw), or ((top, bottom), (left, right)) for uneven padding;
        dilation 1 is a dense kernel."""
        if op not in ("conv_bwd_d", "conv_bwd_w"):
            raise ValueError(f"op must be conv_bwd_d or conv_bwd_w, not {op!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be nchw or nhwc, not {layout!r}")
        sh, sw = _pair(stride, "stride")
        dh, dw = _pair(dilation, "dilation")
        pads = tuple(padding) if not isinstance(padding, int) else (padding, padding)
        if len(pads) == 2 and all(isinstance(q, int) for q in pads):
            (pt, pb), (pl, pr) = (pads[0], pads[0]), (pads[1], pads[1])
        else:
            (pt, pb), (pl, pr) = (_pair(pads[0], "padding"), _pair(pads[1], "padding"))
        uneven = pt != pb or pl != pr
        p = _lib.CProblem(op=OPS.index(op), layout=LAYOUTS.index(layout), n=n, c=c, h=h, w=w,
                          k=k, r=r, s=s, stride_h=sh, stride_w=sw, pad_h=pt, pad_w=pl,
                          dil_h=dh, dil_w=dw, groups=groups, accumulate=int(bool(accumulate)),
                          pad_h_end=pb if uneven else 0, pad_w_end=pr if uneven else 0,
                          pad_end_set=int(uneven))
        return cls(p, name)

    @classmethod
    def fc(cls, op, n, c, k, accumulate=False, name=""):
        """A fully-connected layer's problem: x is n x c, dy n x k, w k x c."""
        if op not in ("fc_bwd_d", "fc_bwd_w"):
            raise ValueError(f"op must be fc_bwd_d or fc_bwd_w, not {op!r}")
        p = _lib.CProblem(op=OPS.index(op), n=n, c=c, k=k, accumulate=int(bool(accumulate)))
        return cls(p, name)

    def replace(self, **fields):
        """A copy with fields changed: op='conv_bwd_w', layout='nhwc', accumulate=True, n=8,
        or any other bt_problem field."""
        p = _lib.CProblem.from_buffer_copy(self._p)
        for key, value in fields.items():
            if key == "op":
                value = OPS.index(value)
            elif key == "layout":
                value = LAYOUTS.index(value)
            elif key == "accumulate":
                value = int(bool(value))
            elif key not in dict(_lib.CProblem._fields_):
                raise ValueError(f"no problem field {key!r}")
            setattr(p, key, value)
        return Problem(p, self.name)

    def __getattr__(self, key):
        if key in dict(_lib.CProblem._fields_):
            return getattr(self._p, key)
        raise AttributeError(key)

    @property
    def op(self):
        return OPS[self._p.op]

    @property
    def layout(self):
        return LAYOUTS[self._p.layout]

    @property
    def is_fc(self):
        return self._p.op < 2

    @property
    def text(self):
        """Canonical problem text (bt_problem_format): parses back to the same problem."""
        size = _L.bt_problem_format(ctypes.byref(self._p), None, 0)
        buf = ctypes.create_string_buffer(size + 1)
        _L.bt_problem_format(ctypes.byref(self._p), buf, len(buf))
        return buf.value.decode()

    @property
    def descriptor(self):
        """The benchdnn descriptor alone (no op, layout or 'accumulate'), as suites hold it."""
        return self.text.split()[1]

    @property
    def flops(self):
        return _L.bt_problem_flops(ctypes.byref(self._p))

    @property
    def out_size(self):
        return (_L.bt_problem_out_h(ctypes.byref(self._p)),
                _L.bt_problem_out_w(ctypes.byref(self._p)))

    # Logical shapes (NCHW order of dimensions whatever the layout; weights K x C/G x R x S).
    @property
    def x_shape(self):
        p = self._p
        return (p.n, p.c) if self.is_fc else (p.n, p.c, p.h, p.w)

    @property
    def dy_shape(self):
        p = self._p
        return (p.n, p.k) if self.is_fc else (p.n, p.k) + self.out_size

    @property
    def w_shape(self):
        p = self._p
        return (p.k, p.c) if self.is_fc else (p.k, p.c // p.groups, p.r, p.s)

    @property
    def db_shape(self):
        return (self._p.k,)

    def key(self):
        """A hashable identity of the problem (its fields)."""
        return tuple(getattr(self._p, f) for f, _ in _lib.CProblem._fields_)

    def __eq__(self, other):
        return isinstance(other, Problem) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return f"Problem({self.text!r})"


# Which tensors each op reads and writes (bt_tensors fields), and their shapes.
_ROLES = {
    "fc_bwd_d": (("w", "dy"), ("dx",)),
    "conv_bwd_d": (("w", "dy"), ("dx",)),
    "fc_bwd_w": (("x", "dy"), ("dw", "db")),
    "conv_bwd_w": (("x", "dy"), ("dw", "db")),
}


def _dense(t, order):
    """Whether t's strides are those of a dense tensor whose dimensions, outermost first, are
    `order` (size-1 dimensions may have any stride)."""
    expected = 1
    for d in reversed(order):
        if t.shape[d] != 1 and t.stride(d) != expected:
            return False
        expected *= t.shape[d]
    return True


def _pointer(problem, role, t):
    import torch

    if not isinstance(t, torch.Tensor):
        raise TensorError(f"{role}: expected a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TensorError(f"{role}: tensor on device '{t.device}'; backtune runs on CPU "
                          "tensors only (move it with .cpu())")
    if t.dtype != torch.float32:
        raise TensorError(f"{role}: dtype {t.dtype}; backtune takes torch.float32 only")
    if t.is_sparse or t.layout != torch.strided:
        raise TensorError(f"{role}: layout {t.layout}; backtune takes dense (strided) tensors")
    shape = {"x": problem.x_shape, "dx": problem.x_shape, "dy": problem.dy_shape,
             "w": problem.w_shape, "dw": problem.w_shape, "db": problem.db_shape}[role]
    if tuple(t.shape) != tuple(shape):
        raise TensorError(f"{role}: shape {tuple(t.shape)}, the problem {problem.text} needs "
                          f"{tuple(shape)}")
    if role in ("x", "dx", "dy") and not problem.is_fc and problem.layout == "nhwc":
        if not _dense(t, (0, 2, 3, 1)):
            raise TensorError(f"{role}: strides {t.stride()} are not a dense channels_last "
                              "(NHWC) tensor; use .contiguous(memory_format=torch."
                              "channels_last) (backtune never copies)")
    elif not _dense(t, range(t.dim())):
        what = "a contiguous NCHW" if role in ("x", "dx", "dy") and not problem.is_fc \
            else "a contiguous"
        raise TensorError(f"{role}: strides {t.stride()} are not {what} tensor; use "
                          ".contiguous() (backtune never copies)")
    if role in ("dx", "dw", "db") and t.requires_grad and torch.is_grad_enabled():
        raise TensorError(f"{role}: an output that requires grad would be written behind "
                          "autograd's back; pass a tensor without requires_grad")
    return t.data_ptr()


class Plan:
    """A plan for one problem: dispatch, parameters and scratch settled once; execute() as
    often as needed, allocating nothing. variant None: the tuning table's choice, then the
    heuristic's; params: 'key=value,...' (e.g. 'threads=2'), None for the defaults."""

    def __init__(self, problem, variant=None, params=None):
        if isinstance(problem, str):
            problem = Problem.parse(problem)
        self.problem = problem
        self._handle = ctypes.c_void_p()
        self._lock = threading.Lock()  # one execution at a time: a plan owns its scratch
        _check(_L.bt_plan_create(ctypes.byref(self._handle), ctypes.byref(problem._p),
                                 variant.encode() if variant else None,
                                 params.encode() if params else None))

    @property
    def variant(self):
        return _L.bt_plan_variant(self._handle).decode()

    @property
    def params(self):
        return _L.bt_plan_params(self._handle).decode()

    @property
    def source(self):
        """'table', 'heuristic', 'reference', 'forced' or 'named'."""
        return _L.bt_plan_source(self._handle).decode()

    @property
    def threads(self):
        return _L.bt_plan_threads(self._handle)

    @property
    def error_factor(self):
        """0 for direct sums; F > 0 for an approximate algorithm (Winograd), whose bound is F
        times the direct one, on the largest sum|terms| of the output (bt_plan_error_factor)."""
        return _L.bt_plan_error_factor(self._handle)

    def execute(self, x=None, w=None, dy=None, dx=None, dw=None, db=None):
        """Runs the plan on torch tensors in place: bwd_d reads w and dy and writes dx;
        bwd_w reads x and dy and writes dw and, if given, db (with 'accumulate' in the
        problem, the gradients are added into the outputs)."""
        if not self._handle:
            raise BacktuneError(1, "plan is closed")
        given = {"x": x, "w": w, "dy": dy, "dx": dx, "dw": dw, "db": db}
        reads, writes = _ROLES[self.problem.op]
        optional = ("db",)
        ptrs = _lib.CTensors()
        for role, t in given.items():
            if t is None:
                if role in reads or (role in writes and role not in optional):
                    raise TensorError(f"{self.problem.op} needs {role} (it reads "
                                      f"{' and '.join(reads)} and writes "
                                      f"{' and '.join(writes)})")
                continue
            if role not in reads and role not in writes:
                raise TensorError(f"{self.problem.op} does not use {role} (it reads "
                                  f"{' and '.join(reads)} and writes {' and '.join(writes)})")
            setattr(ptrs, role, _pointer(self.problem, role, t))
        with self._lock:
            _check(_L.bt_plan_execute(self._handle, ctypes.byref(ptrs)))

    def close(self):
        if getattr(self, "_handle", None):
            _L.bt_plan_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __del__(self):
        self.close()

    def __repr__(self):
        return f"Plan({self.problem.text!r}, variant={self.variant!r}, params={self.params!r})"


def tuning_load(path):
    """Loads the tuning table(s) dispatch follows from now on (bt_tuning_load: a table file,
    a machine's results folder or results/), replacing BACKTUNE_TABLE's. Returns the
    library's notes ('' when none)."""
    _check(_L.bt_tuning_load(path.encode()))
    return _last_error()


def variants():
    """Every registered variant: dicts of name, op, isa and whether this CPU runs it."""
    out = []
    for i in range(_L.bt_variant_count()):
        out.append({"name": _L.bt_variant_name(i).decode(), "op": OPS[_L.bt_variant_op(i)],
                    "isa": _L.bt_variant_isa(i).decode(), "cpu_ok": bool(_L.bt_variant_cpu_ok(i))})
    return out

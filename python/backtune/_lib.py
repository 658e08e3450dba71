"""Loading libbacktune.so and declaring its functions (ctypes; nothing compiled).

The library is the one the package was installed with: `cmake --install` writes
_libpath.py next to this file with its absolute path. Without that file (the package used
from the source tree), BACKTUNE_LIBRARY names the library (tests set it to the build's).
"""
import ctypes
import os

BT_OK, BT_EINVAL, BT_EUNSUPPORTED, BT_ENOMEM, BT_EIO = range(5)


class CProblem(ctypes.Structure):
    """struct bt_problem of backtune.h, field for field."""

    _fields_ = [
        ("op", ctypes.c_int),
        ("layout", ctypes.c_int),
        ("n", ctypes.c_int64),
        ("c", ctypes.c_int64),
        ("h", ctypes.c_int64),
        ("w", ctypes.c_int64),
        ("k", ctypes.c_int64),
        ("r", ctypes.c_int64),
        ("s", ctypes.c_int64),
        ("stride_h", ctypes.c_int64),
        ("stride_w", ctypes.c_int64),
        ("pad_h", ctypes.c_int64),
        ("pad_w", ctypes.c_int64),
        ("dil_h", ctypes.c_int64),
        ("dil_w", ctypes.c_int64),
        ("groups", ctypes.c_int64),
        ("accumulate", ctypes.c_int),
        ("pad_h_end", ctypes.c_int64),
        ("pad_w_end", ctypes.c_int64),
        ("pad_end_set", ctypes.c_int),
    ]


class CTensors(ctypes.Structure):
    """struct bt_tensors: raw pointers (c_void_p), as the library reads them."""

    _fields_ = [(name, ctypes.c_void_p) for name in ("x", "w", "dy", "dx", "dw", "db")]


def library_path():
    """The libbacktune.so this package uses, and where that choice came from."""
    try:
        from . import _libpath  # written by cmake --install

        return _libpath.LIBRARY, "installed with the package (backtune/_libpath.py)"
    except ImportError:
        pass
    env = os.environ.get("BACKTUNE_LIBRARY")
    if env:
        return env, "BACKTUNE_LIBRARY"
    raise ImportError(
        "backtune: no libbacktune.so: this copy of the package was not installed by "
        "`cmake --install` (which records the library's path in backtune/_libpath.py); "
        "set BACKTUNE_LIBRARY=/path/to/libbacktune.so"
    )


def _declare(lib):
    P = ctypes.POINTER
    c_problem_p = P(CProblem)
    plan_pp = P(ctypes.c_void_p)
    sigs = {
        "bt_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "bt_last_error": (ctypes.c_char_p, []),
        "bt_problem_parse_named": (
            ctypes.c_int,
            [ctypes.c_char_p, c_problem_p, ctypes.c_char_p, ctypes.c_size_t],
        ),
        "bt_problem_format": (ctypes.c_int, [c_problem_p, ctypes.c_char_p, ctypes.c_size_t]),
        "bt_problem_normalize": (ctypes.c_int, [c_problem_p, c_problem_p]),
        "bt_problem_flops": (ctypes.c_double, [c_problem_p]),
        "bt_problem_out_h": (ctypes.c_int64, [c_problem_p]),
        "bt_problem_out_w": (ctypes.c_int64, [c_problem_p]),
        "bt_plan_create": (
            ctypes.c_int,
            [plan_pp, c_problem_p, ctypes.c_char_p, ctypes.c_char_p],
        ),
        "bt_plan_execute": (ctypes.c_int, [ctypes.c_void_p, P(CTensors)]),
        "bt_plan_variant": (ctypes.c_char_p, [ctypes.c_void_p]),
        "bt_plan_params": (ctypes.c_char_p, [ctypes.c_void_p]),
        "bt_plan_source": (ctypes.c_char_p, [ctypes.c_void_p]),
        "bt_plan_threads": (ctypes.c_int, [ctypes.c_void_p]),
        "bt_plan_error_factor": (ctypes.c_double, [ctypes.c_void_p]),
        "bt_plan_destroy": (None, [ctypes.c_void_p]),
        "bt_variant_count": (ctypes.c_int, []),
        "bt_variant_name": (ctypes.c_char_p, [ctypes.c_int]),
        "bt_variant_op": (ctypes.c_int, [ctypes.c_int]),
        "bt_variant_isa": (ctypes.c_char_p, [ctypes.c_int]),
        "bt_variant_cpu_ok": (ctypes.c_int, [ctypes.c_int]),
        "bt_tuning_load": (ctypes.c_int, [ctypes.c_char_p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def load():
    path, origin = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"backtune: cannot load {path} ({origin}): {e}") from e
    _declare(lib)
    return lib, path


LIB, PATH = load()

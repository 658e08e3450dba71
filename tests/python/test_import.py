"""python3 -m backtune import-model: torchvision and ONNX models to suites that the backtune
command reads; and the training-step benchmark, run small."""
import os
import re
import subprocess
import sys

import pytest
import torch
import torchvision

import backtune
from backtune.model_import import import_model, module_layers, onnx_layers

onnx = pytest.importorskip("onnx")
PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "python")


def _suite_entries(text):
    """(descriptor, count) of every line of a suite, as cmdline/suite.c reads it."""
    out = []
    for line in text.splitlines():
        d, _, comment = line.partition("#")
        if d.strip():
            m = re.match(r"\s*x(\d+)", comment)
            out.append((d.strip(), int(m.group(1)) if m else 1))
    return out


def test_torchvision_suite(tmp_path):
    path = tmp_path / "resnet18.txt"
    text = import_model("resnet18", batch=2, size=64, output=str(path), argv=["..."])
    entries = _suite_entries(text)
    # resnet18: 20 convolutions and the classifier, 12 distinct shapes
    assert sum(c for _, c in entries) == 21 and len(entries) == 12
    assert entries[0][0] == 'mb2ic3ih64oc64oh32kh7sh2ph3n"resnet18:conv1"'
    assert entries[-1] == ('mb2ic512oc1000n"resnet18:fc"', 1)
    for descriptor, _ in entries:  # each descriptor parses back to the problem it came from
        op = "conv_bwd_w" if "kh" in descriptor else "fc_bwd_w"
        p = backtune.Problem.parse(f"{op} {descriptor}")
        assert backtune.Problem.parse(p.text) == p
    assert all(len(line) < 1000 for line in text.splitlines())  # suite.c's line limit
    cli = os.environ.get("BACKTUNE_CLI")
    if not cli:
        pytest.skip("BACKTUNE_CLI not set (ctest sets it): the backtune command not checked")
    listed = subprocess.run([cli, "tune", "--suite", str(path), "--list", "--threads", "2"],
                            capture_output=True, text=True, check=True).stdout
    # every conv shape in 2 ops x 2 layouts, the FC in 2 ops
    assert len([l for l in listed.splitlines() if l.endswith(" t2")]) == 11 * 4 + 2


def test_onnx_matches_torch_hooks(tmp_path):
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    path = str(tmp_path / "r18.onnx")
    torch.onnx.export(model, torch.randn(1, 3, 64, 64), path, input_names=["image"],
                      dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}})
    from_onnx = [l.problem for l in onnx_layers(path, 3, 96)]
    from_hooks = [l.problem for l in module_layers(model, torch.zeros(3, 3, 96, 96))]
    assert from_onnx == from_hooks


def test_onnx_same_padding_and_matmul(tmp_path):
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    w = numpy_helper.from_array(np.zeros((6, 4, 3, 3), np.float32), "w")
    m = numpy_helper.from_array(np.zeros((6, 5), np.float32), "m")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2],
                          name="conv"),
         helper.make_node("Transpose", ["y"], ["t"], perm=[0, 2, 3, 1]),
         helper.make_node("MatMul", ["t", "m"], ["z"], name="proj")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, "h", "w"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w, m])
    path = str(tmp_path / "same.onnx")
    onnx.save(helper.make_model(graph), path)
    conv, proj = [l.problem for l in onnx_layers(path, 2, 8)]
    # TensorFlow's SAME at stride 2 on 8: output 4, no padding before, one row after
    assert conv == backtune.Problem.conv("conv_bwd_d", 2, 4, 8, 8, 6, 3, 3, stride=2,
                                         padding=((0, 1), (0, 1)))
    assert proj == backtune.Problem.fc("fc_bwd_d", 2 * 4 * 4, 6, 5)


def test_command_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    out = tmp_path / "squeeze.txt"
    run = subprocess.run([sys.executable, "-m", "backtune", "import-model", "squeezenet1_1",
                          "--batch", "1", "--size", "32", "-o", str(out)], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "python3 -m backtune import-model squeezenet1_1 --batch 1" in out.read_text()
    cli = os.environ.get("BACKTUNE_CLI")
    if cli:  # the backtune command's import-model runs the same, from its build tree
        again = tmp_path / "again.txt"
        run = subprocess.run([cli, "import-model", "squeezenet1_1", "--batch", "1", "--size",
                              "32", "-o", str(again)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert _suite_entries(again.read_text()) == _suite_entries(out.read_text())
    bad = subprocess.run([sys.executable, "-m", "backtune", "import-model", "no_such_net"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "no torchvision model 'no_such_net'" in bad.stderr


def test_bench_runs_small():
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    run = subprocess.run([sys.executable, "-m", "backtune.torch", "bench", "--model",
                          "resnet18", "--batch", "2", "--size", "32", "--reps", "1",
                          "--threads", "1"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert "environment: OMP_PLACES=" in run.stdout and "MALLOC_CONF=" in run.stdout
    header = next(i for i, l in enumerate(lines) if l.startswith("layer "))
    assert len(lines[header + 1:-1]) == 21  # 20 convolutions and the classifier
    assert re.fullmatch(r"backward: backtune [0-9.]+ ms, torch [0-9.]+ ms, speedup [0-9.]+, "
                        r"max normalised grad error [0-9.e+-]+", lines[-1]), lines[-1]

"""backtune's Python core: problems, plans, execution on tensors, errors."""
import pytest
import torch

import backtune
from backtune.torch import reference


def test_parse_format_round_trip():
    p = backtune.Problem.parse('conv_bwd_w_nhwc mb2ic16ih8oc32kh3ph1n"layer"')
    assert p.op == "conv_bwd_w" and p.layout == "nhwc" and p.name == "layer"
    assert p.text == "conv_bwd_w_nhwc mb2ic16ih8oc32oh8kh3ph1"
    assert backtune.Problem.parse(p.text) == p
    assert (p.x_shape, p.dy_shape, p.w_shape, p.db_shape) == \
        ((2, 16, 8, 8), (2, 32, 8, 8), (32, 16, 3, 3), (32,))


def test_uneven_padding_problem():
    # TensorFlow's 'SAME' at stride 2: 0 rows before, 1 after.
    p = backtune.Problem.conv("conv_bwd_d", 2, 8, 8, 8, 8, 3, 3, stride=2,
                              padding=((0, 1), (0, 1)))
    assert p.pad_end_set == 1 and (p.pad_h, p.pad_h_end) == (0, 1)
    assert p.out_size == (4, 4)
    assert backtune.Problem.parse(p.text) == p


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_execute_matches_torch(layout):
    fmt = torch.channels_last if layout == "nhwc" else torch.contiguous_format
    p = backtune.Problem.parse(f"conv_bwd_w_{layout} g2mb3ic8ih9oc6kh3sh2ph1")
    x = torch.randn(p.x_shape).contiguous(memory_format=fmt)
    dy = torch.randn(p.dy_shape).contiguous(memory_format=fmt)
    w = torch.randn(p.w_shape)
    dw, db = torch.empty(p.w_shape), torch.empty(p.db_shape)
    plan = backtune.Plan(p)
    assert plan.variant.startswith("conv_bwd_w__") and plan.threads >= 1
    plan.execute(x=x, dy=dy, dw=dw, db=db)
    geometry = ((2, 2), ((1, 1), (1, 1)), (1, 1), 2)
    ref = reference.conv_backward(dy, x, w, *geometry, (False, True, True))
    errors = reference.conv_errors((None, dw, db), ref, dy, x, w, *geometry)
    assert max(errors.values()) <= 1, errors
    # accumulate adds into the outputs
    plan_acc = backtune.Plan(p.replace(accumulate=True))
    plan_acc.execute(x=x, dy=dy, dw=dw, db=db)
    assert torch.allclose(dw, 2 * ref[1], rtol=1e-5, atol=1e-5)


def test_library_errors_carry_last_error():
    with pytest.raises(backtune.BacktuneError, match="'oc' is missing") as e:
        backtune.Problem.parse("conv_bwd_w mb2ic3ih5kh3")
    assert e.value.status == "BT_EINVAL"
    with pytest.raises(backtune.BacktuneError, match="no_such_variant"):
        backtune.Plan("fc_bwd_d mb2ic4oc4", variant="fc_bwd_d__no_such_variant")
    with pytest.raises(backtune.BacktuneError, match="/nonexistent/table"):
        backtune.tuning_load("/nonexistent/table")


def _fc():
    p = backtune.Problem.parse("fc_bwd_d mb4ic8oc16")
    return backtune.Plan(p), torch.randn(p.w_shape), torch.randn(p.dy_shape), \
        torch.empty(p.x_shape)


def test_bad_tensors_raise_clear_errors():
    plan, w, dy, dx = _fc()
    plan.execute(w=w, dy=dy, dx=dx)
    assert torch.allclose(dx, dy @ w, rtol=1e-5, atol=1e-5)
    with pytest.raises(backtune.TensorError, match="dtype torch.float64"):
        plan.execute(w=w.double(), dy=dy, dx=dx)
    with pytest.raises(backtune.TensorError, match="not a contiguous tensor"):
        plan.execute(w=w, dy=torch.randn(16, 4).t(), dx=dx)
    with pytest.raises(backtune.TensorError, match="device 'meta'.*CPU tensors only"):
        plan.execute(w=w, dy=dy.to("meta"), dx=dx)
    with pytest.raises(backtune.TensorError, match=r"shape \(4, 9\)"):
        plan.execute(w=w, dy=dy, dx=torch.empty(4, 9))
    with pytest.raises(backtune.TensorError, match="needs w"):
        plan.execute(dy=dy, dx=dx)
    with pytest.raises(backtune.TensorError, match="does not use x"):
        plan.execute(x=dx, w=w, dy=dy, dx=dx)
    with pytest.raises(backtune.TensorError, match="expected a torch.Tensor"):
        plan.execute(w=w.numpy(), dy=dy, dx=dx)
    with pytest.raises(backtune.BacktuneError, match="overlap"):
        plan.execute(w=w, dy=dy, dx=dy.view(-1)[:32].view(4, 8))


def test_nhwc_plan_refuses_nchw_tensor():
    p = backtune.Problem.parse("conv_bwd_d_nhwc mb2ic4ih5oc4kh3ph1")
    plan = backtune.Plan(p)
    w, dy = torch.randn(p.w_shape), torch.randn(p.dy_shape)
    with pytest.raises(backtune.TensorError, match="channels_last"):
        plan.execute(w=w, dy=dy, dx=torch.empty(p.x_shape))


def test_tuning_table_followed(tmp_path):
    # A table written by `backtune tune` is followed by plans made from Python, through
    # BACKTUNE_TABLE (read by the library at the first plan) and through tuning_load.
    import os
    import subprocess
    import sys

    cli = os.environ.get("BACKTUNE_CLI")
    if not cli:
        pytest.skip("BACKTUNE_CLI not set (ctest sets it)")
    problem = "fc_bwd_w mb4ic16oc8"
    subprocess.run([cli, "tune", "-p", problem, "-t", "1", "--max-evals", "4", "--out",
                    str(tmp_path)], check=True, capture_output=True)
    code = ("import backtune; p = backtune.Plan(backtune.Problem.parse('%s'), "
            "params='threads=1'); print(p.source)" % problem)
    env = dict(os.environ, BACKTUNE_TABLE=str(tmp_path),
               PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "python"))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True)
    assert run.stdout.strip() == "table", run.stdout + run.stderr
    env.pop("BACKTUNE_TABLE")
    code = ("import backtune; backtune.tuning_load('%s'); p = backtune.Plan("
            "backtune.Problem.parse('%s'), params='threads=1'); print(p.source)"
            % (tmp_path, problem))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True)
    assert run.stdout.strip() == "table", run.stdout + run.stderr

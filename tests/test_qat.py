"""The w4/a4 quantisation-aware digits model: compiled with its own (given) quantization, the
bit-exact golden model keeps its accuracy within a point of the float digits model, the RTL
equals it, and a board's default precision does not override it."""
import json
import subprocess
import sys

import numpy as np
import pytest

FLOAT_ACCURACY = 0.975          # lepton_hdl/data/digits.pt on the 360 held-out digits


def test_qat_w4a4_within_a_point_of_float():
    import lepton_hdl
    from lepton_hdl.models import load
    spec = load("digits_qat")
    p = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=8, name="digits_qat")
    assert (p.graph.meta["w_bits"], p.graph.meta["a_bits"]) == (4, 4)
    # every activation's scale is the trained one, not a calibrated one
    given = [m.scale for m in spec.model if type(m).__name__ == "QuantAct"]
    scales = [n.qtype.scale for n in p.graph.nodes if n.op.name in ("input", "conv2d", "linear")]
    assert scales == given
    acc = float(np.mean(p.golden(spec.x_eval).reshape(len(spec.y_eval), -1).argmax(1) == spec.y_eval))
    assert acc >= FLOAT_ACCURACY - 0.01, acc
    # post-training quantization of the float model at w4/a4 loses more
    f = load("digits")
    ptq = lepton_hdl.compile(f.model, f.samples, w_bits=4, a_bits=4, max_multipliers=8)
    assert float(np.mean(ptq.golden(f.x_eval).reshape(360, -1).argmax(1) == f.y_eval)) < acc


@pytest.mark.slow
@pytest.mark.verilator
def test_qat_rtl_exact():
    from conftest import require_tool
    require_tool("verilator")
    import lepton_hdl
    from lepton_hdl.models import load
    spec = load("digits_qat")
    p = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=8, name="digits_qat")
    y, info = p.simulate(spec.x_eval[:8])
    assert np.array_equal(y, p.golden(spec.x_eval[:8]))
    assert info["cycles_per_frame"] == p.bound_cycles


def test_board_default_bits_do_not_override_given(tmp_path):
    """`compile digits_qat --board icebreaker`: the iCEBreaker's default w6/a5 gives way to the
    model's own w4/a4; an explicit --w-bits that disagrees is refused in one line."""
    base = [sys.executable, "-m", "lepton_hdl.cli", "compile", "digits_qat", "--board", "icebreaker"]
    r = subprocess.run(base + ["--out", str(tmp_path / "a")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "a" / "report.json").read_text())
    assert rep["bits"] == {"w": 4, "a": 4}
    r = subprocess.run(base + ["--w-bits", "6", "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "given weights have 4 bits" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr

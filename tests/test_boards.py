"""Open-toolchain builds (Yosys + nextpnr, the pip-installed YoWASP tools)."""
import json
from pathlib import Path

import pytest

import lepton_hdl
from lepton_hdl.errors import FitError
from lepton_hdl.examples import zoo
from lepton_hdl.models import load
from lepton_hdl.platforms import boards, flow

ROOT = Path(__file__).resolve().parent.parent


def test_refuses_model_too_big_before_synthesis(tmp_path):
    m, x = zoo.make("mlp")
    p = lepton_hdl.compile(m, x, max_multipliers=None)          # fully parallel: ~700 multipliers
    with pytest.raises(FitError, match=r"does not fit icebreaker \(accelerator alone\): LC .* > .*--board picks the folding"):
        flow.build_accel(p, boards.get("icebreaker"), ROOT / "build" / "test-refuse")


def test_unknown_board():
    with pytest.raises(ValueError, match="unknown board 'de0'; supported: colorlight_i5"):
        boards.get("de0")


@pytest.mark.toolchain
@pytest.mark.slow
def test_accel_only_ecp5_build():
    """An accelerator alone on the Colorlight i5's ECP5-25F through Yosys, nextpnr and ecppack:
    a bitstream and a report with real resources and an Fmax. (A small CNN keeps this to about a
    minute; bench/boards.py builds digits and the SoC.)"""
    for name in ("yosys", "nextpnr-ecp5", "ecppack"):
        flow.tool(name)          # raises ToolMissing (fails) when not installed
    from lepton_hdl.cli import main
    out = ROOT / "build" / "test-boards" / "colorlight_i5-accel"
    model = str(ROOT / "lepton_hdl" / "examples" / "zoo.py") + ":tiny_factory"
    assert main(["build", "--board", "colorlight_i5", "--model", model, "--accel-only", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["board"] == "colorlight_i5" and Path(r["bitstream"]).stat().st_size > 10000
    assert r["resources"]["LUT"]["used"] > 200 and r["resources"]["FF"]["used"] > 200
    assert r["resources"]["LUT"]["available"] == 24288
    assert r["fmax_mhz"] and r["fmax_mhz"] > 10 and r["target_mhz"] == 100


def test_icebreaker_fit_check_on_digits():
    """Digits at 8 bits and 16 multipliers is refused for the UP5K before synthesis (estimate:
    about 12,100 logic cells; with whole windows, 8 multipliers were measured at 6,078 LCs, 115%,
    and channel windows now bring those to an estimated 4,281); compiled for the board at its
    default w6/a5 the estimate fits."""
    spec = load("digits")
    board = boards.get("icebreaker")
    p8 = lepton_hdl.compile(spec.model, spec.samples, bits=8, max_multipliers=16)
    with pytest.raises(FitError, match=r"does not fit icebreaker \(accelerator alone\): LC .*--a-bits"):
        flow.check_fit(p8, board)
    p = lepton_hdl.compile(spec.model, spec.samples, w_bits=board.w_bits, a_bits=board.a_bits, board=board)
    est = flow.check_fit(p, board)
    assert 1.1 * (est["LUT"] + est["FF"]) <= 0.85 * board.available["LUT"] and est["DSP"] <= board.available["DSP"]
    assert est["BRAM"] <= board.available["BRAM"]


def test_board_decides_fastest_that_fits():
    """Each board gets the fastest folding whose estimate fits it; a larger board is never
    slower, the SoC's share never makes it faster, and the estimate of the choice fits."""
    spec = load("digits")
    cycles = {}
    for name, soc in (("colorlight_i5", False), ("colorlight_i5", True), ("ulx3s", True)):
        b = boards.get(name)
        p = lepton_hdl.compile(spec.model, spec.samples, board=b, soc=soc)
        est = flow.check_fit(p, b, soc=soc)
        have = boards.accel_resources(b, soc)
        assert est["DSP"] <= have["DSP"] and est["LUT"] <= 0.95 * have["LUT"] and est["BRAM"] <= have["BRAM"]
        cycles[name, soc] = p.bound_cycles
    assert cycles["ulx3s", True] <= cycles["colorlight_i5", False] <= cycles["colorlight_i5", True]


@pytest.mark.toolchain
@pytest.mark.slow
def test_accel_only_icebreaker_digits_build():
    """The digits accelerator on the iCEBreaker (iCE40UP5K) at the board's default precision:
    Yosys (SB_MAC16 DSPs, EBR line buffers and weight ROMs), nextpnr-ice40, icepack."""
    for name in ("yosys", "nextpnr-ice40", "icepack"):
        flow.tool(name)
    from lepton_hdl.cli import main
    out = ROOT / "build" / "test-boards" / "icebreaker-digits-accel"
    assert main(["build", "--board", "icebreaker", "--model", "digits", "--accel-only", "--out", str(out)]) == 0
    r = json.loads((out / "report.json").read_text())
    assert r["board"] == "icebreaker" and Path(r["bitstream"]).stat().st_size > 50000
    assert r["bits"] == {"w": 6, "a": 5} and r["accuracy"]["golden"] > 0.9
    res = r["resources"]
    assert 1000 < res["LUT"]["used"] <= res["LUT"]["available"] == 5280
    assert res["BRAM"]["used"] > 4 and 0 < res["DSP"]["used"] <= 8
    assert 500 < res["FF"]["used"] < res["LUT"]["used"]          # flip-flops, counted in the netlist
    assert r["fmax_mhz"] and r["fmax_mhz"] > 5 and r["target_mhz"] == 24


def test_explore_pareto(tmp_path):
    """`lepton-hdl explore`: every balanced folding's estimate, the Pareto front, the board's
    pick (the same folding `--board` compiles to), and the three outputs."""
    from lepton_hdl.cli import main
    out = tmp_path / "explore"
    assert main(["explore", "digits", "--board", "colorlight_i5", "--soc", "--out", str(out)]) == 0
    doc = json.loads((out / "pareto.json").read_text())
    pts = doc["points"]
    assert len(pts) > 5 and doc["board"] == "colorlight_i5" and doc["soc"]
    assert [p["cycles"] for p in pts] == sorted(p["cycles"] for p in pts)
    front = [p for p in pts if p["front"]]
    for p in front:        # nothing on the front is beaten in every figure (LUTs as a fit compares them)
        assert not any(all(q[k] <= p[k] for k in ("cycles", "placed", "BRAM", "DSP")) and
                       any(q[k] < p[k] for k in ("cycles", "placed", "BRAM", "DSP")) for q in pts)
    spec = load("digits")
    picked = lepton_hdl.compile(spec.model, spec.samples, board="colorlight_i5", soc=True)
    assert doc["picked"] == picked.bound_cycles == min(p["cycles"] for p in pts if p["fits"])
    # the picked point's estimate is the compiled pipeline's (FIFOs sized afresh for each folding)
    mine = next(p for p in pts if p["cycles"] == doc["picked"])
    est = picked.estimate().total
    assert [mine[k] for k in ("LUT", "FF", "BRAM", "DSP")] == [est[k] for k in ("LUT", "FF", "BRAM", "DSP")]
    assert (out / "pareto.png").stat().st_size > 10000 and "**picked**" in (out / "pareto.md").read_text()


def test_tool_wrappers_twice_in_one_process():
    """A board build writes wrappers for the tools LiteX calls by name; a second call in the same
    process (the demo firmware's software build, then the bitstream's) must still point them at
    the real tools, not at the wrappers themselves (a wrapper that execs itself spins for ever)."""
    import os
    import subprocess
    from lepton_hdl.platforms.soc_build import _wrappers
    out = Path(__file__).resolve().parent.parent / "build" / "test-wrappers" / "toolbin"
    saved = os.environ["PATH"]
    try:
        _wrappers(out)
        _wrappers(out)
        r = subprocess.run([str(out / "yosys"), "-V"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "Yosys" in r.stdout, r.stderr
        assert str(out) not in (out / "yosys").read_text()
    finally:
        os.environ["PATH"] = saved


def test_max_dsp_caps_the_accelerators_tiles(capsys):
    """`--max-dsp N` (``Board.accel_dsp``): the fit, the folding's estimate and the build's DSP
    budget give the accelerator at most N tiles (the other products in logic); a negative N is
    refused in one line."""
    import dataclasses
    from lepton_hdl.cli import main
    spec = load("digits")
    board = boards.get("colorlight_i5")
    capped = dataclasses.replace(board, accel_dsp=4)
    assert boards.accel_resources(capped, soc=True)["DSP"] == 4
    assert flow.build_options(capped, soc=True).dsp_tiles == 4
    p = lepton_hdl.compile(spec.model, spec.samples, board=capped, soc=True)
    assert 0 < flow.check_fit(p, capped, soc=True)["DSP"] <= 4
    full = lepton_hdl.compile(spec.model, spec.samples, board=board, soc=True)
    assert flow.check_fit(full, board, soc=True)["DSP"] > 4
    assert main(["compile", "digits", "--board", "colorlight_i5", "--max-dsp", "-1", "--out", "build/test-dsp-cap"]) != 0
    err = capsys.readouterr().err
    assert "--max-dsp -1" in err and "Traceback" not in err

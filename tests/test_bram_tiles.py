"""Block-RAM tiles: the resource model's count (``resources.bram_tiles``) against Yosys on
memories shaped like the gateware's: FIFOs whose words carry two flag bits nothing reads, line
buffers and weight ROMs."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from lepton_hdl.platforms import flow
from lepton_hdl.resources import Mem, bram_tiles

BUILD = Path(__file__).resolve().parent.parent / "build" / "test-bram"

# (depth, data bits, spare bits, rom): iCE40 packs 560-word rows side by side (25 tiles, the
# flags sharing tiles with data), drops the flag-only tile of a single row (134 x 512+2: 32)
CASES = [(560, 128, 2, False), (134, 512, 2, False), (64, 128, 2, False), (68, 24, 0, False),
         (300, 40, 2, False), (640, 8, 0, True), (1024, 16, 0, True), (48, 100, 2, False)]


def _verilog(depth, width, spare, rom):
    aw = max(1, (depth - 1).bit_length())
    word = width + spare
    if rom:
        init = "\n".join(f"    m[{i}] = {word}'d{(i * 2654435761) % (1 << min(word, 31))};" for i in range(depth))
        return (f"module top(input clk, input [{aw - 1}:0] ra, output reg [{word - 1}:0] q);\n"
                f"  reg [{word - 1}:0] m [0:{depth - 1}];\n  initial begin\n{init}\n  end\n"
                f"  always @(posedge clk) q <= m[ra];\nendmodule\n")
    return (f"module top(input clk, input we, input [{aw - 1}:0] wa, input [{aw - 1}:0] ra, input [{word - 1}:0] wd,"
            f" output [{width - 1}:0] q);\n  reg [{word - 1}:0] m [0:{depth - 1}];\n  reg [{word - 1}:0] r;\n"
            f"  always @(posedge clk) begin if (we) m[wa] <= wd; r <= m[ra]; end\n"
            f"  assign q = r[{width - 1}:0];\nendmodule\n")


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
@pytest.mark.parametrize("depth,width,spare,rom", CASES)
def test_tiles_match_yosys(family, depth, width, spare, rom):
    out = BUILD / f"{family}_{depth}x{width}_{spare}_{int(rom)}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "m.v").write_text(_verilog(depth, width, spare, rom))
    r = subprocess.run(flow.tool("yosys") + ["-q", "-p", f"read_verilog m.v; synth_{family} -top top; "
                                             "tee -q -o stat.txt stat"], cwd=out, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    cell = "SB_RAM40_4K" if family == "ice40" else "DP16KD"
    m = re.search(rf"(\d+)\s+{cell}\b", (out / "stat.txt").read_text())
    yosys = int(m.group(1)) if m else 0
    assert bram_tiles(Mem(depth, width, rom, spare=spare), family) == yosys

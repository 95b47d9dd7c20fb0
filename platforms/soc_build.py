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
from .flow import ECP5_ROUTER, build_options, check_fit, tool


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
    """LiteX calls yosys, nextpnr-*, ecppack, icepack by name: point those at YoWASP (and finds
    meson and ninja in this Python's environment)."""
    import sys
    from lepton_hdl.toolpath import env_tools_on_path
    env_tools_on_path()
    bin_dir.mkdir(parents=True, exist_ok=True)
    # the real tools, never a wrapper of an earlier call (a wrapper that execs itself spins)
    saved = os.environ["PATH"]
    os.environ["PATH"] = os.pathsep.join(p for p in saved.split(os.pathsep)
                                         if not (Path(p) / "yosys").is_file() or not p.endswith("toolbin"))
    try:
        cmds = {name: tool(name) for name in ("yosys", "nextpnr-ecp5", "nextpnr-ice40", "ecppack", "icepack")}
    finally:
        os.environ["PATH"] = saved
    for name, cmd in cmds.items():
        p = bin_dir / name
        if name == "nextpnr-ice40":
            p.write_text(_NEXTPNR_ICE40.format(python=sys.executable, cmd=list(cmd)))
        elif name == "nextpnr-ecp5":
            # LiteX's Trellis toolchain has no router option: the wrapper adds it
            p.write_text(f"#!/bin/sh\nexec {' '.join(cmd + list(ECP5_ROUTER))} \"$@\"\n")
        else:
            p.write_text(f"#!/bin/sh\nexec {' '.join(cmd)} \"$@\"\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    if str(bin_dir) not in os.environ["PATH"].split(os.pathsep):
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
    # per clock, nextpnr's last (post-route) figure and the target it checked it against
    clocks = {}
    for name, f, target in re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((?:PASS|FAIL) at ([\d.]+) MHz\)",
                                      text):
        clocks[name.replace("$glbnet$", "")] = dict(fmax_mhz=float(f), target_mhz=float(target))
    return dict(resources=res, fmax_mhz=fmax, clocks=clocks)


def clock_fmax(clocks: dict, domain: str, target_mhz=None):
    """nextpnr's Fmax of clock domain ``domain``: its net ``<domain>_clk``, else (nextpnr may
    name the system clock after a sink, e.g. VexRiscv's cache) the one clock checked against
    ``target_mhz`` that is not another domain's; None if not found."""
    for name, c in clocks.items():
        if name == f"{domain}_clk" or name.endswith(f"{domain}_clk"):
            return c["fmax_mhz"]
    if target_mhz is not None:
        from lepton_hdl.soc.integration import ACCEL_CLOCK_DOMAIN
        cands = [c["fmax_mhz"] for n, c in clocks.items()
                 if abs(c["target_mhz"] - target_mhz) < 0.01 and not n.endswith(f"{ACCEL_CLOCK_DOMAIN}_clk")]
        if len(cands) == 1:
            return cands[0]
    return None


# where the BIOS sits in an iCE40 board's SPI flash (after the bitstream), as litex-boards has it
BIOS_FLASH_OFFSET = 0x40000
# the flash's window on the bus: the READ command's 24-bit address space
FLASH_WINDOW = 16 * 1024 * 1024


# ECP5 block RAM as a 32-bit LiteX memory: a DP16KD holds 512 words of 36 bits, 2 KiB
EBR_BYTES = 2048
# the SoC share (boards.SOC_SHARE) counts a 16 KiB main RAM
SHARE_MAIN_RAM = 0x4000
MEASURE_MAIN_RAM = 0x40000     # the firmware headers' main RAM region (board_firmware)


def main_ram_budget(pipeline, board: Board) -> int:
    """Bytes of main RAM the block RAM left beside the accelerator (its estimate) can hold, on
    an ECP5 board: what the demo firmware, its images and buffers may take."""
    from .boards import SOC_SHARE
    est = pipeline.estimate().total
    free = board.available["BRAM"] - est["BRAM"] - SOC_SHARE[board.family]["BRAM"]
    return max(0, free * EBR_BYTES + SHARE_MAIN_RAM)


def _soc_class(pipeline, board: Board, platform, tgt_mod, opts, sys_clk, main_ram_size=SHARE_MAIN_RAM,
               firmware=None, accel_clk=None, soc_kwargs=None, with_accel=True, with_flash=True):
    """The board's SoC: CPU, ROM (BIOS), SRAM, main RAM, UART, timer and the accelerator, with
    the CSR locations the simulated SoC shares (``soc.integration.CSR_MAP``). ``firmware``: a
    ``firmware.bin`` that fills main RAM at configuration; the BIOS then boots it (``romboot``)
    once its serial-boot window has passed, so ``litex_term --kernel`` still works.
    ``accel_clk``: the accelerator's own clock (Hz), a further output of the CRG's PLL; None: the
    system clock. ``soc_kwargs`` (further ``SoCCore`` arguments), ``with_accel`` and
    ``with_flash`` (the UP5K's SPI flash) leave parts out, to measure what each takes
    (``bench/soc_parts.py``)."""
    from migen import ClockDomain
    from litex.soc.integration.soc_core import SoCCore
    from lepton_hdl.soc.integration import ACCEL_CLOCK_DOMAIN, CSR_MAP, add_lepton
    cpu_type, cpu_variant = board.cpu
    from lepton_hdl.soc.integration import add_reset_ctrl, soc_core_options
    options, reset_ctrl = soc_core_options(board.soc_options)
    core_kw = {"ident": f"lepton_hdl {board.name}", "timer_uptime": True, **options, **(soc_kwargs or {})}
    # soc_kwargs' with_ctrl=False (bench/soc_parts.py) leaves the whole ctrl block out
    reset_ctrl = reset_ctrl and "with_ctrl" not in (soc_kwargs or {})

    class BoardSoC(SoCCore):
        csr_map = dict(CSR_MAP)

        def __init__(self):
            self.crg = tgt_mod._CRG(platform, sys_clk)
            domain = "sys"
            if accel_clk:
                domain = ACCEL_CLOCK_DOMAIN
                cd = ClockDomain(domain)
                self.crg.clock_domains += cd
                self.crg.pll.create_clkout(cd, accel_clk)
            if board.family == "ice40":
                self._up5k_memories()
            else:
                init = []
                if firmware is not None:
                    from litex.soc.integration.common import get_mem_data
                    init = get_mem_data(str(firmware), data_width=32, endianness="little")
                SoCCore.__init__(self, platform, sys_clk, cpu_type=cpu_type,
                                 cpu_variant=cpu_variant, integrated_rom_size=BOARD_MEMORY["rom"],
                                 integrated_sram_size=BOARD_MEMORY["sram"], integrated_main_ram_size=main_ram_size,
                                 integrated_main_ram_init=init, **core_kw)
                if firmware is not None:
                    self.add_constant("ROM_BOOT_ADDRESS", self.mem_map["main_ram"])
            if reset_ctrl:
                add_reset_ctrl(self)
            if with_accel:
                add_lepton(self, pipeline, opts=opts, clock_domain=domain, port=board.accel_port)

        def _up5k_memories(self):
            """The UP5K's 30 block RAMs stay the accelerator's: the BIOS runs from the SPI flash
            (execute in place, at ``BIOS_FLASH_OFFSET``), SRAM and main RAM are the 128 KiB of
            SPRAM (64 KiB each), as litex-boards' iCEBreaker target has them."""
            from litex.soc.cores.ram import Up5kSPRAM
            from litex.soc.integration.soc import SoCRegion
            kB = 1024
            SoCCore.__init__(self, platform, sys_clk, cpu_type=cpu_type,
                             cpu_variant=cpu_variant, integrated_rom_size=0, integrated_sram_size=0,
                             **core_kw)
            self.spram = Up5kSPRAM(size=128 * kB)
            self.bus.add_slave("psram", self.spram.bus, SoCRegion(size=128 * kB))
            base = self.bus.regions["psram"].origin
            self.bus.add_region("sram", SoCRegion(origin=base, size=64 * kB, linker=True))
            self.bus.add_region("main_ram", SoCRegion(origin=base + 64 * kB, size=64 * kB, linker=True))
            if not with_flash:
                return
            # the BIOS only runs from it: a read-only, single-line controller (soc.spiflash)
            from lepton_hdl.soc.spiflash import SpiFlashXIP
            self.spiflash = SpiFlashXIP(platform.request("spiflash"))
            self.bus.add_slave("spiflash", self.spiflash.bus,
                               SoCRegion(origin=self.mem_map.get("spiflash"), size=FLASH_WINDOW))
            # it decodes the low 24 address bits
            assert self.bus.regions["spiflash"].origin % FLASH_WINDOW == 0
            self.bus.add_region("rom", SoCRegion(origin=self.bus.regions["spiflash"].origin + BIOS_FLASH_OFFSET,
                                                 size=32 * kB, linker=True))
            self.cpu.set_reset_address(self.bus.regions["rom"].origin)

    return BoardSoC


# an ECP5 board SoC's ROM (the BIOS) and SRAM (.data and the stack)
BOARD_MEMORY = dict(rom=0x8000, sram=0x2000)


def _platform(board: Board):
    plat_mod = importlib.import_module(f"litex_boards.platforms.{board.litex_boards}")
    tgt_mod = importlib.import_module(f"litex_boards.targets.{board.litex_boards}")
    kw = dict(board.platform_kwargs)
    if board.family == "ecp5":
        kw["toolchain"] = "trellis"
    return plat_mod.Platform(**kw), tgt_mod


def accel_clock_hz(pipeline, board: Board, accel_mhz=None):
    """The accelerator's own clock for ``board``'s SoC in Hz (``accel_mhz``, else the board's
    ``accel_mhz``), or None where it runs at the system clock (iCE40 boards, a board without
    one, ``accel_mhz`` 0, weights in RAM: they load in the system clock domain)."""
    mhz = board.accel_mhz if accel_mhz is None else accel_mhz
    if not mhz or board.family != "ecp5" or getattr(pipeline, "weights", "rom") == "ram":
        return None
    return int(mhz * 1e6)


def board_firmware(pipeline, board: Board, out_dir: Path, demo, log=print, accel_clk=None) -> dict:
    """The demo firmware for ``board``'s SoC, built against that SoC's own headers and memory map
    (LiteX software build, no gateware): as many of the ``demo`` images (``(x, labels,
    label_names)``) as the main RAM the board's block RAM leaves can hold. Returns ``dict(firmware=,
    images=, main_ram=, extent=)``, or ``dict(firmware=None, reason=...)`` when not even one
    image fits (the bitstream then holds the BIOS alone)."""
    import logging
    from litex.soc.integration.builder import Builder
    from lepton_hdl.soc.sim import _redirect_output, build_firmware, firmware_extent
    out_dir = Path(out_dir).resolve()
    if board.family != "ecp5":
        return dict(firmware=None, reason=f"{board.name}: main RAM is SPRAM, which a bitstream cannot fill: the "
                                          f"BIOS (in the flash at {hex(BIOS_FLASH_OFFSET)}) boots firmware over the "
                                          "UART (litex_term --kernel); this build makes no demo firmware for it yet")
    budget = main_ram_budget(pipeline, board)
    x, labels, names = demo
    logging.disable(logging.INFO)
    platform, tgt_mod = _platform(board)
    sys_clk = int(50e6)
    # the headers' main RAM is large enough for any demo firmware to link, so its extent is
    # measured and compared with the budget (the bitstream's main RAM is then sized to it)
    soc = _soc_class(pipeline, board, platform, tgt_mod, build_options(board, soc=True), sys_clk,
                     main_ram_size=max(budget, SHARE_MAIN_RAM, MEASURE_MAIN_RAM), accel_clk=accel_clk)()
    log(f"[firmware] {board.name}: the SoC's headers and libraries (no gateware), main RAM budget "
        f"{budget // 1024} KiB of block RAM")
    hdr = out_dir / "firmware-headers"
    hdr.mkdir(parents=True, exist_ok=True)
    _wrappers(out_dir / "toolbin")
    with _redirect_output(out_dir / "build.log"):
        Builder(soc, output_dir=str(hdr), compile_software=True, compile_gateware=False).build(run=False)

    def extent(n):
        fw = build_firmware(pipeline, x[:n], None if labels is None else labels[:n], hdr, label_names=names,
                            fw_dir=out_dir / "firmware", log=None)
        return fw, firmware_extent(fw.with_suffix(".elf"))

    n = len(x)
    fw, need = extent(1)
    if need > budget:
        return dict(firmware=None, reason=f"the demo firmware needs {need // 1024} KiB of main RAM with one image; "
                                          f"the block RAM beside the accelerator leaves {budget // 1024} KiB")
    if n > 1:
        _, need2 = extent(2)
        per = max(1, need2 - need)
        n = max(1, min(n, 1 + (budget - need) // per))
        while True:
            fw, need = extent(n)
            if need <= budget or n == 1:
                break
            n -= 1
    # main RAM: what the firmware takes, in whole block RAMs
    size = max(SHARE_MAIN_RAM, -(-need // EBR_BYTES) * EBR_BYTES)
    log(f"[firmware] {n} of {len(x)} images fit: {need:,} bytes, main RAM {size // 1024} KiB ({fw})")
    return dict(firmware=fw, images=n, main_ram=size, extent=need)


def build_soc_bitstream(pipeline, board: Board, out_dir: Path, log=print, demo=None, seed=1, accel_mhz=None) -> dict:
    """SoC + accelerator bitstream for ``board``. ``demo``: ``(x, labels, label_names)``, test
    images for firmware that the bitstream boots straight into (ECP5; ``board_firmware``).
    ``accel_mhz``: the accelerator's own clock (default: the board's; 0: the system clock)."""
    from litex.soc.integration.builder import Builder
    from lepton_hdl.soc.sim import _redirect_output
    out_dir = Path(out_dir).resolve()
    if str(out_dir).startswith("/tmp/"):
        raise ValueError(f"--out {out_dir}: YoWASP tools cannot see /tmp; use a folder elsewhere")
    if board.litex_boards is None:
        raise LeptonError(f"{board.name} has no litex-boards platform: use --accel-only")
    est = check_fit(pipeline, board, soc=True)
    _wrappers(out_dir / "toolbin")
    accel_clk = accel_clock_hz(pipeline, board, accel_mhz)
    fw = board_firmware(pipeline, board, out_dir, demo, log=log, accel_clk=accel_clk) if demo is not None else dict(
        firmware=None, reason="no demo images given")
    platform, tgt_mod = _platform(board)
    # the accelerator fills the DSP tiles the SoC leaves (SOC_SHARE) and builds every other
    # product in logic, so Yosys can never infer more tiles than the chip has
    opts = build_options(board, soc=True)
    sys_clk = int(50e6) if board.family == "ecp5" else int(24e6)
    cpu_type, cpu_variant = board.cpu
    import logging
    logging.disable(logging.INFO)
    t0 = time.perf_counter()
    log(f"[build] {board.name}: SoC ({cpu_type} {cpu_variant} at {sys_clk / 1e6:g} MHz + accelerator"
        + (f" at its own {accel_clk / 1e6:g} MHz clock" if accel_clk else "") + "), Yosys + nextpnr + pack; "
        f"log {out_dir / 'build.log'} (several minutes; an hour or more for a large model)")
    soc = _soc_class(pipeline, board, platform, tgt_mod, opts, sys_clk,
                     main_ram_size=fw.get("main_ram", SHARE_MAIN_RAM), firmware=fw["firmware"], accel_clk=accel_clk)()
    add_logic_multipliers(platform, out_dir / "gateware")
    builder = Builder(soc, output_dir=str(out_dir), compile_software=True, compile_gateware=True)
    with _redirect_output(out_dir / "build.log"):
        builder.build(seed=seed)
    if fw["firmware"] is not None:
        _check_same_map(out_dir / "firmware-headers" / "csr.csv", out_dir / "csr.csv", fw)
    text = (out_dir / "build.log").read_text(errors="replace")
    rep = parse_nextpnr_log(text, board)
    if board.family == "ice40" and "FF" in rep["resources"]:
        # nextpnr counts iCE40 logic cells (LUT + FF pairs); the flip-flops are in the netlist
        from .flow import _count_cells
        nets = sorted((out_dir / "gateware").glob("*.json"))
        if nets:
            rep["resources"]["FF"] = dict(used=_count_cells(nets[0], "SB_DFF", prefix=True),
                                          available=board.available["FF"])
    from lepton_hdl.soc.integration import ACCEL_CLOCK_DOMAIN
    sys_fmax = clock_fmax(rep["clocks"], "sys", sys_clk / 1e6) or rep["fmax_mhz"]
    bits = sorted((out_dir / "gateware").glob("*.bit")) + sorted((out_dir / "gateware").glob("*.bin"))
    flash = {}
    if board.family == "ice40":
        flash = dict(bios_flash_offset=hex(BIOS_FLASH_OFFSET), bios=str(out_dir / "software" / "bios" / "bios.bin"))
    demo_rep = dict(firmware=str(fw["firmware"]) if fw["firmware"] else None, images=fw.get("images", 0),
                    main_ram_bytes=fw.get("main_ram"), boots="demo" if fw["firmware"] else "bios",
                    note=fw.get("reason"))
    bit = str(bits[0]) if bits else None
    ofl = f"openFPGALoader --board {board.openfpgaloader or board.name}"
    if board.family == "ice40":
        # the bitstream and the BIOS both go to the flash (the BIOS runs there in place)
        demo_rep["load"] = [f"{ofl} -f {bit}", f"{ofl} -f -o {hex(BIOS_FLASH_OFFSET)} {flash['bios']}",
                            "litex_term /dev/ttyUSB1 --kernel firmware.bin"]
    else:
        demo_rep["load"] = [f"{ofl} {bit}", f"litex_term /dev/ttyUSB0 --kernel {fw['firmware'] or 'firmware.bin'}"]
    return dict(board=board.name, kind="soc", model=pipeline.name, cpu=f"{cpu_type} {cpu_variant}", **flash,
                accel_port=board.accel_port,
                sys_clk_mhz=sys_clk / 1e6, target_mhz=sys_clk / 1e6, fmax_mhz=sys_fmax, seeds={str(seed): sys_fmax},
                clocks=rep["clocks"], accel_clk_mhz=accel_clk / 1e6 if accel_clk else None,
                accel_fmax_mhz=clock_fmax(rep["clocks"], ACCEL_CLOCK_DOMAIN) if accel_clk else None,
                resources=rep["resources"], estimate=est, cycles_per_frame=pipeline.bound_cycles,
                demo=demo_rep, bitstream=bit, build_s=round(time.perf_counter() - t0, 1))


def add_logic_multipliers(platform, gateware_dir: Path):
    """The accelerator's logic multipliers in a LiteX build: their modules as a source, and Yosys'
    booth pass on them before synthesis (``hw.common.LOGIC_MULTIPLIERS``). Call it after the SoC
    (and so the pipeline) is generated."""
    from lepton_hdl.hw.common import BOOTH_YOSYS, LOGIC_MULTIPLIERS
    gateware_dir.mkdir(parents=True, exist_ok=True)
    mults = gateware_dir / "lepton_logic_multipliers.v"
    mults.write_text("".join(text for _, text in sorted(LOGIC_MULTIPLIERS.items())) or "// none\n")
    platform.add_source(str(mults))
    platform.toolchain._yosys_cmds += ["hierarchy -top {build_name}", "proc", BOOTH_YOSYS]


def _check_same_map(first: Path, final: Path, fw: dict):
    """The firmware was linked against the headers of a first, software-only build of the SoC
    (main RAM at its budget); the bitstream's SoC must have the same CSRs and memories where the
    firmware uses them (main RAM may only have shrunk to what the firmware takes)."""
    from lepton_hdl.soc.sim import memory_map
    a, b = memory_map(first), memory_map(final)
    diff = [k for k in set(a) | set(b) if k != ("memory_region", "main_ram") and a.get(k) != b.get(k)]
    if diff or b[("memory_region", "main_ram")][0] != a[("memory_region", "main_ram")][0]:
        raise LeptonError(f"the board SoC's map changed between the firmware's headers and the bitstream: {sorted(diff)[:4]}")

"""Boards as data: device, package, clock, what the chip has.

The board decides the speed/cost point: the compiler picks the fastest balanced pipeline whose
resource estimate (``lepton_hdl.resources``) fits what the chip has, minus the SoC's own share
for SoC builds (``SOC_SHARE``, measured). ``w_bits``/``a_bits`` are the board's default precision
(cost/accuracy choice; the build report gives the accuracy it keeps); ``--bits``,
``--w-bits``, ``--a-bits`` override them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from lepton_hdl.hw.options import Family


@dataclass(frozen=True)
class Board:
    name: str
    family: Family
    device: str                 # nextpnr device flag
    package: str
    speed: Optional[str]
    clk_mhz: float              # the board oscillator
    target_mhz: float           # what the accelerator is asked to close timing at
    available: dict             # LUT, FF, BRAM, DSP of the chip
    litex_boards: Optional[str] = None   # litex_boards platform module, for SoC builds
    notes: str = ""
    platform_kwargs: tuple = ()          # extra litex-boards Platform arguments
    w_bits: int = 8                      # default weight / activation bits of `lepton-hdl build`
    a_bits: int = 8
    cpu: tuple = ("vexriscv", "standard")  # the SoC's CPU (LiteX cpu_type, cpu_variant)
    openfpgaloader: Optional[str] = None   # openFPGALoader's --board name
    # SoC builds: the accelerator's own clock (MHz), behind asynchronous FIFOs, where it closes
    # faster than the CPU's system clock; None: the accelerator runs at the system clock
    accel_mhz: Optional[float] = None
    # SoC builds: how the stream reaches the accelerator (``soc.integration.PORTS``): two DMA
    # masters, or "csr", the CPU pushing and popping words (no bus master: the smallest SoC)
    accel_port: str = "dma"
    # SoC builds: further LiteX ``SoCCore`` arguments (parts the firmware does without)
    soc_options: tuple = ()
    # SoC builds: the default precision where it differs from the accelerator alone's (the SoC
    # leaves the accelerator less room); None: w_bits/a_bits
    soc_bits: Optional[tuple] = None
    # the most DSP tiles the accelerator may use (``--max-dsp``); None: all the chip (or the SoC)
    # leaves. The other products are built in logic
    accel_dsp: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "family", Family(self.family))


BOARDS = {
    "colorlight_i5": Board(
        "colorlight_i5", Family.ECP5, "25k", "CABGA381", "6", 25.0, 100.0,
        dict(LUT=24288, FF=24288, BRAM=56, DSP=28), "colorlight_i5",
        "Colorlight i5 (LFE5U-25F-6BG381C), 25 MHz oscillator", openfpgaloader="colorlight-i5"),
    "ulx3s": Board(
        "ulx3s", Family.ECP5, "85k", "CABGA381", "6", 25.0, 100.0,
        dict(LUT=83640, FF=83640, BRAM=208, DSP=156), "radiona_ulx3s",
        "ULX3S 85F (LFE5U-85F-6BG381C), 25 MHz oscillator", (("device", "LFE5U-85F"),), openfpgaloader="ulx3s",
        accel_mhz=70.0),
    "icebreaker": Board(
        "icebreaker", Family.ICE40, "up5k", "sg48", None, 12.0, 24.0,
        dict(LUT=5280, FF=5280, BRAM=30, DSP=8), "icebreaker",
        "iCEBreaker (iCE40UP5K-SG48), 12 MHz oscillator. Digits at 8 bits needs ~6,100 LCs "
        "(115%); at w6/a5 it takes 4,064 LCs (77%) and keeps 96.4% test accuracy (float 97.5%). "
        "Its SoC runs SERV (bit-serial RV32I; its multiply/divide unit is not packaged; VexRiscv lite alone "
        "fills about 90% of the UP5K) with a CPU-fed stream port: digits at w4/a4 beside it takes 4,497 LCs (85%)",
        w_bits=6, a_bits=5, cpu=("serv", "standard"), openfpgaloader="icebreaker",
        # no DMA masters, no 64-bit uptime counter (the firmware widens timer0 instead), no bus
        # timeout, no identifier string, no scratch register (the BIOS needs the rest of ctrl:
        # without it SERV did not boot in simulation, and its memtest reads the bus error count)
        accel_port="csr", soc_options=(("timer_uptime", False), ("bus_timeout", None), ("ident", ""),
                                       ("ctrl", "reset")),
        # beside SERV, digits fits at w4/a4 (95.0% on the held-out digits, float 97.5%)
        soc_bits=(4, 4)),
}


# nextpnr fails to place the UP5K above about 85% (measured: w6/a6 digits, 87%, does not place
# with either placer; w6/a5, 77%, places and routes)
MAX_UTILISATION = {"ice40": 0.85, "ecp5": 0.95}
# SoC builds where the measured limit differs: the iCEBreaker SoC (SERV, digits w4/a4, 9
# multipliers) placed and routed at 4,703 logic cells (89.1% of the UP5K) on nextpnr seeds 1, 2
# and 3; with 21 cells more (4,724, 89.5%) seed 3 found no legal placement
MAX_UTILISATION_SOC = {"ice40": 0.89}

# What the SoC itself takes (CPU, BIOS ROM, SRAM, main RAM, UART, timer, the accelerator's DMA
# masters and CSRs), per family: measured on the Colorlight i5 as SoC build minus
# accelerator-only build of the same accelerator (README, board table): VexRiscv "standard",
# LUT/FF/BRAM as measured with its multiplier in LUTs (an upper bound); with DSP inference on its
# 32x32 multiplier takes 4 MULT18X18D (measured: a Colorlight i5 SoC whose accelerator held 25
# tiles placed 29).
SOC_SHARE = {Family.ECP5: dict(LUT=8750, FF=2600, BRAM=33, DSP=4),
             # SERV, the flash controller (BIOS in place), SPRAM main RAM, UART, timer, the
             # CPU-fed stream port and its FIFOs; LUT counts logic cells (what an iCE40 fit
             # compares), as the SoC measured minus its accelerator's estimate (resources
             # Estimate.placed), so that estimate + share is the SoC's count: digits w4/a4, 9
             # multipliers, 4,724 LCs by nextpnr for an estimate of 3,370 (the 7-multiplier pick
             # then placed 4,497 on seeds 1-3, predicted 4,553); flip-flops
             # and RAMs from Yosys (bench/soc_parts.md: the SoC without the accelerator)
             Family.ICE40: dict(LUT=1354, FF=1000, BRAM=7, DSP=0)}


def accel_resources(board: Board, soc: bool = False) -> dict:
    """What the accelerator may use on ``board``: the chip, minus the SoC's share for SoC builds."""
    have = dict(board.available)
    if soc:
        share = SOC_SHARE.get(board.family)
        if share is None:
            from lepton_hdl.errors import FitError
            raise FitError(f"no SoC for {board.name} ({board.family}) yet: build the accelerator alone (--accel-only)")
        have = {k: max(0, v - share.get(k, 0)) for k, v in have.items()}
    if board.accel_dsp is not None:
        have["DSP"] = min(have["DSP"], board.accel_dsp)
    return have


def accel_limits(board: Board, soc: bool = False) -> dict:
    """What the accelerator's estimate may reach on ``board``: LUTs (iCE40: logic cells) up to
    the most of the chip that places (``MAX_UTILISATION``) less the SoC's share for SoC builds;
    flip-flops, block RAM and DSP tiles as ``accel_resources``."""
    have = accel_resources(board, soc)
    share = SOC_SHARE.get(board.family, {}) if soc else {}
    have["LUT"] = max(0, int(board.available["LUT"] * max_utilisation(board, soc)) - share.get("LUT", 0))
    return have


def max_utilisation(board: Board, soc: bool = False) -> float:
    """The most of ``board``'s LUTs (iCE40: logic cells) that places, measured."""
    fam = board.family.value
    return MAX_UTILISATION_SOC.get(fam, MAX_UTILISATION[fam]) if soc else MAX_UTILISATION[fam]


def get(name: str) -> Board:
    from lepton_hdl.errors import InputError
    try:
        return BOARDS[name]
    except KeyError:
        raise InputError(f"unknown board {name!r}; supported: {', '.join(sorted(BOARDS))} "
                         f"(and 'sim' for `lepton-hdl soc`)") from None

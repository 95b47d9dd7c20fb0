"""Boards as data: device, package, clock, what the chip has, and the accelerator budget.

``max_multipliers`` is the per-board speed/cost choice: the compiler picks the fastest balanced
pipeline whose multiplier lanes fit it (each 8x8 product lane becomes a DSP tile or ~60 LUTs).
``w_bits``/``a_bits`` are the board's default precision (cost/accuracy choice; the build report
gives the accuracy it keeps); ``--bits``, ``--w-bits``, ``--a-bits`` override them.
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
    max_multipliers: int
    litex_boards: Optional[str] = None   # litex_boards platform module, for SoC builds
    notes: str = ""
    platform_kwargs: tuple = ()          # extra litex-boards Platform arguments
    w_bits: int = 8                      # default weight / activation bits of `lepton-hdl build`
    a_bits: int = 8

    def __post_init__(self):
        object.__setattr__(self, "family", Family(self.family))


BOARDS = {
    "colorlight_i5": Board(
        "colorlight_i5", Family.ECP5, "25k", "CABGA381", "6", 25.0, 100.0,
        dict(LUT=24288, FF=24288, BRAM=56, DSP=28), 24, "colorlight_i5",
        "Colorlight i5 (LFE5U-25F-6BG381C), 25 MHz oscillator"),
    "ulx3s": Board(
        "ulx3s", Family.ECP5, "85k", "CABGA381", "6", 25.0, 100.0,
        dict(LUT=83640, FF=83640, BRAM=208, DSP=156), 128, "radiona_ulx3s",
        "ULX3S 85F (LFE5U-85F-6BG381C), 25 MHz oscillator", (("device", "LFE5U-85F"),)),
    "icebreaker": Board(
        "icebreaker", Family.ICE40, "up5k", "sg48", None, 12.0, 24.0,
        dict(LUT=5280, FF=5280, BRAM=30, DSP=8), 8, "icebreaker",
        "iCEBreaker (iCE40UP5K-SG48), 12 MHz oscillator. Digits at 8 bits needs ~6,100 LCs "
        "(115%); at w6/a5 it takes 4,064 LCs (77%) and keeps 96.1% test accuracy (float 96.9%)",
        w_bits=6, a_bits=5),
}


def get(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; supported: {', '.join(sorted(BOARDS))} "
                         f"(and 'sim' for `lepton-hdl soc`)") from None

"""Generation options: how the same frozen model becomes gateware for a given FPGA family.

Every option gives bit-identical results and the same cycle counts; they trade logic, DSP tiles
and Fmax. ``FAMILY`` holds the choice per family (used by ``lepton-hdl build``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HwOptions:
    """``requant``: how a MAC array splits its requant multiply (accumulator x 16-bit M):
    ``"halves"``, acc x low and high byte of M (LUT multipliers, short paths), or ``"dsp16"``,
    the low 16 accumulator bits x M as one unsigned 16x16 product (an iCE40 SB_MAC16) plus
    shift-adds for the few high bits.
    ``skid``: ready-cutting buffers between blocks without an input FIFO and between a
    convolution's window generator and its MAC array (a pixel / a window of registers each;
    without them a stall reaches through several blocks in one cycle).
    ``rotate``: a folded MAC array rotates its operand register by ``simd`` elements a step
    instead of selecting them through a wide multiplexer (fewer iCE40 logic cells; on ECP5
    the rotate enable's fan-out to every operand bit limits Fmax)."""
    requant: str = "halves"
    skid: bool = True
    rotate: bool = False

    def __post_init__(self):
        if self.requant not in ("halves", "dsp16"):
            raise ValueError(f"requant={self.requant!r}: expected 'halves' or 'dsp16'")


FAMILY = {
    "ecp5": HwOptions(),
    "ice40": HwOptions(requant="dsp16", skid=False, rotate=True),
    "sim": HwOptions(),
}

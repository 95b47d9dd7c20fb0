"""Generation options: how the same frozen model becomes gateware for a given FPGA family.

Every option gives bit-identical results and the same cycle counts; they trade logic, DSP tiles
and Fmax. ``FAMILY`` holds the choice per family (used by ``lepton-hdl build``).
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional

from .common import DspTile


class _StrEnum(str, Enum):
    """An enum whose members are their string values wherever a string is (dict keys,
    f-strings, comparisons), so board tables stay plain data."""
    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__


class Family(_StrEnum):
    """An FPGA family (or the simulator) the gateware is generated for."""
    ECP5 = "ecp5"
    ICE40 = "ice40"
    SIM = "sim"


class RequantSplit(_StrEnum):
    """How a MAC array splits its requant multiply (accumulator x 16-bit M).

    ``HALVES``: acc x low and high byte of M (LUT multipliers, short paths). ``DSP16``: the low
    16 accumulator bits x M as one unsigned 16x16 product (an iCE40 SB_MAC16) plus shift-adds
    for the few high bits."""
    HALVES = "halves"
    DSP16 = "dsp16"


@dataclass(frozen=True)
class HwOptions:
    """``requant``: a ``RequantSplit``.
    ``skid``: ready-cutting buffers between blocks without an input FIFO and between a
    convolution's window generator and its MAC array (a pixel / a window of registers each;
    without them a stall reaches through several blocks in one cycle).
    ``rotate``: a folded MAC array rotates its operand register by ``simd`` elements a step
    instead of selecting them through a wide multiplexer (fewer iCE40 logic cells; on ECP5
    the rotate enable's fan-out to every operand bit limits Fmax).
    ``dsp``: the family's hard multiplier; ``dsp_tiles``: how many of them the pipeline may
    fill (products beyond them, or too wide for one tile, are built in logic); ``None``: every
    product is a plain ``*`` and synthesis decides (simulation).
    ``lutram_ring``: a sliding window's ring banks shallower than this many words (distributed
    RAM on ECP5, below the depth Yosys gives block RAM) are read asynchronously from a
    registered address, so the reader's stall logic ends at that register instead of running
    through the RAM's address fan-out into its output register (measured: ResNet-8's 8x8x64
    3x3 convolution alone on the ULX3S, 16.3 ns, 14.1 of them routing); 0: never.
    ``channel_window``: a folded convolution whose steps read whole chunks of a pixel
    (``window.chunk_plan``) takes its window a beat of ``simd`` (depthwise: ``pe``) channels a
    step from a ``ChannelWindow`` instead of as one ``kh*kw*C`` word into an operand register
    (measured, ``bench/layer.py``: a 64-channel 3x3 depthwise layer folded to one multiplier,
    1,454 LUTs and 922 flip-flops instead of 11,087 and 10,060 on ECP5); False: always the
    whole window."""
    requant: RequantSplit = RequantSplit.HALVES
    skid: bool = True
    rotate: bool = False
    dsp: Optional[DspTile] = None
    dsp_tiles: Optional[int] = None
    lutram_ring: int = 0
    channel_window: bool = True

    def __post_init__(self):
        try:
            object.__setattr__(self, "requant", RequantSplit(self.requant))
        except ValueError:
            raise ValueError(f"requant={self.requant!r}: expected one of "
                             f"{', '.join(repr(r.value) for r in RequantSplit)}") from None


class _ByFamily(dict):
    """``{Family: HwOptions}`` that also takes a family's name (``FAMILY["ice40"]``)."""

    def __getitem__(self, family):
        try:
            return super().__getitem__(Family(family))
        except ValueError:
            raise KeyError(f"unknown FPGA family {family!r}; known: "
                           f"{', '.join(f.value for f in Family)}") from None


FAMILY = _ByFamily({
    # MULT18X18D; carry-chain logic products; rings below Yosys' block-RAM depth (50 words, the
    # fitted rule in data/calibration.json) read from a registered address
    Family.ECP5: HwOptions(dsp=DspTile(18, logic="ccu2c"), lutram_ring=50),
    Family.ICE40: HwOptions(requant=RequantSplit.DSP16, skid=False, rotate=True,
                            dsp=DspTile(16, min_product=11)),  # SB_MAC16
    Family.SIM: HwOptions(),
})

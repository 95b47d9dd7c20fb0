"""Migen stream generators. Each block takes one frozen parameter object from
``lepton_hdl.params`` and exposes ``sink``/``source`` stream endpoints (one pixel per beat)."""
from .add import RequantBlock, ResidualAdd
from .conv import Conv2d, Linear
from .mac import MACArray
from .pool import Pool
from .window import Pad, SlidingWindow

from ..params import AddParams, Conv2dParams, PoolParams, RequantParams


def block_for(p, requant: str = "halves", skid: bool = True):
    """The generator for a parameter object. ``requant``: how a MAC array splits its requant
    multiply, ``"halves"`` (LUT multipliers, ECP5) or ``"dsp16"`` (16x16 DSP tiles, iCE40).
    ``skid``: a ready-cutting buffer between a convolution's window generator and its MAC
    array (a window of registers: Fmax on ECP5; off where logic is scarce, iCE40)."""
    table = {Conv2dParams: Conv2d, PoolParams: Pool, AddParams: ResidualAdd, RequantParams: RequantBlock}
    try:
        gen = table[type(p)]
    except KeyError:
        raise TypeError(f"no hardware generator for {type(p).__name__}") from None
    return gen(p, requant, skid) if gen is Conv2d else gen(p)


__all__ = ["Conv2d", "Linear", "MACArray", "Pool", "Pad", "SlidingWindow", "ResidualAdd",
           "RequantBlock", "block_for"]

"""Migen stream generators. Each block takes one frozen parameter object from
``lepton_hdl.params`` and exposes ``sink``/``source`` stream endpoints (one pixel per beat)."""
from .add import RequantBlock, ResidualAdd
from .conv import Conv2d, Linear
from .mac import MACArray
from .options import HwOptions
from .pool import Pool
from .window import Pad, SlidingWindow

from ..params import AddParams, Conv2dParams, PoolParams, RequantParams


def block_for(p, opts: HwOptions = HwOptions()):
    """The generator for a parameter object, with generation options ``opts``."""
    table = {Conv2dParams: Conv2d, PoolParams: Pool, AddParams: ResidualAdd, RequantParams: RequantBlock}
    try:
        gen = table[type(p)]
    except KeyError:
        raise TypeError(f"no hardware generator for {type(p).__name__}") from None
    return gen(p, opts) if gen is Conv2d else gen(p)


__all__ = ["Conv2d", "Linear", "MACArray", "Pool", "Pad", "SlidingWindow", "ResidualAdd",
           "RequantBlock", "block_for"]

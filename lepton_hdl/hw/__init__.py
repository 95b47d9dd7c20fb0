"""Migen stream generators. Each block takes one frozen parameter object from
``lepton_hdl.params`` and exposes ``sink``/``source`` stream endpoints (one pixel per beat)."""
from .add import RequantBlock, ResidualAdd
from .conv import Conv2d, Linear
from .mac import MACArray
from .pool import Pool
from .window import Pad, SlidingWindow

from ..params import AddParams, Conv2dParams, PoolParams, RequantParams


def block_for(p):
    """The generator for a parameter object."""
    table = {Conv2dParams: Conv2d, PoolParams: Pool, AddParams: ResidualAdd, RequantParams: RequantBlock}
    try:
        return table[type(p)](p)
    except KeyError:
        raise TypeError(f"no hardware generator for {type(p).__name__}") from None


__all__ = ["Conv2d", "Linear", "MACArray", "Pool", "Pad", "SlidingWindow", "ResidualAdd",
           "RequantBlock", "block_for"]

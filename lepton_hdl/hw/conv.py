"""Convolution and linear blocks: pad -> sliding window -> MAC array (+ requant)."""
from __future__ import annotations

from migen import Module
from litex.soc.interconnect import stream

from .mac import MACArray
from .options import HwOptions
from .window import Pad, SlidingWindow


class Conv2d(Module):
    """Streaming convolution for ``ops.conv.Conv2dParams`` (dense, grouped or depthwise).

    A linear layer (``linear_params``) is the same block with the kernel covering the whole
    input frame: the MAC array collects the frame's pixels in its operand register, so it
    needs neither a window generator nor a flatten buffer.
    """

    def __init__(self, p, opts: HwOptions = HwOptions()):
        self.params = p
        self.submodules.pad = pad = Pad(p.in_shape, p.in_type, p.padding, 0)
        if p.collects_frame:
            self.submodules.mac = mac = MACArray(p, opts, serial=True)
            self.submodules.pipeline = pipe = stream.Pipeline(pad, mac)
        else:
            self.submodules.window = win = SlidingWindow(p.padded_shape, p.in_type, p.kernel, p.stride)
            self.submodules.mac = mac = MACArray(p, opts)
            stages = [pad, win, mac]
            if opts.skid:
                # the MAC's stall would otherwise reach the window's next read address
                self.submodules.skid = cut = stream.PipeReady(win.source.description)
                stages = [pad, win, cut, mac]
            self.submodules.pipeline = pipe = stream.Pipeline(*stages)
        self.sink, self.source = pipe.sink, pipe.source


Linear = Conv2d

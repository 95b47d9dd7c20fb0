"""Convolution and linear blocks: pad -> sliding window -> MAC array (+ requant)."""
from __future__ import annotations

from migen import Module
from litex.soc.interconnect import stream

from .mac import MACArray
from .options import HwOptions
from .window import ChannelWindow, LineWindow, Pad, SlidingWindow, chunk_plan


class Conv2d(Module):
    """Streaming convolution for ``ops.conv.Conv2dParams`` (dense, grouped or depthwise).

    A linear layer (``linear_params``) is the same block with the kernel covering the whole
    input frame: the MAC array collects the frame's pixels in its operand register, so it
    needs neither a window generator nor a flatten buffer.
    """

    def __init__(self, p, opts: HwOptions = HwOptions()):
        self.params = p
        if not line_window(p) and not channel_window(p, opts):
            self.submodules.pad = pad = Pad(p.in_shape, p.in_type, p.padding, 0)
        if p.collects_frame:
            self.submodules.mac = mac = MACArray(p, opts, serial=True)
            self.submodules.pipeline = pipe = stream.Pipeline(pad, mac)
        elif channel_window(p, opts):
            # the window a chunk at a time, in the MAC array's step order; the skid buffer (a
            # beat wide) keeps the array's stall out of the ring's read address
            plan = chunk_plan(p)
            self.submodules.window = win = ChannelWindow(p.in_shape, p.in_type, p.kernel, p.stride, p.padding, plan)
            self.submodules.mac = mac = MACArray(p, opts, plan=plan)
            stages = [win]
            if opts.skid:
                self.submodules.skid = cut = stream.PipeReady(win.source.description)
                stages.append(cut)
            self.submodules.pipeline = pipe = stream.Pipeline(*stages, mac)
        else:
            if line_window(p):
                # padding is the generator's mask: no padded pixels, no cycles for them
                self.submodules.window = win = LineWindow(p.in_shape, p.in_type, p.kernel, p.padding)
                stages = [win]
            else:
                self.submodules.window = win = SlidingWindow(p.padded_shape, p.in_type, p.kernel, p.stride,
                                                             async_below=opts.lutram_ring)
                stages = [pad, win]
            self.submodules.mac = mac = MACArray(p, opts)
            stages = stages + [mac]
            if window_skid(p, opts):
                # the MAC's stall would otherwise reach the window's next read address
                self.submodules.skid = cut = stream.PipeReady(win.source.description)
                stages = stages[:-1] + [cut, mac]
            self.submodules.pipeline = pipe = stream.Pipeline(*stages)
        self.sink, self.source = pipe.sink, pipe.source
        self.param_ports = mac.param_ports       # weights in RAM: the loader writes these


Linear = Conv2d


# A window of at least this many bits goes from the window generator to the MAC array without a
# skid buffer when the array's steps per window cover the generator's turn to the next row
# (``kw + 1`` cycles): a skid buffer costs a flip-flop and a LUT (its output multiplexer) per
# window bit (ResNet-8's 3x3x64 windows: 4,608 of each), the ready path it would cut is short
# at such a slow rate, and the cycle count stays the same (``window.row_period``: the array
# never waits on the generator).
WIDE_WINDOW = 1024


def window_skid(p, opts: HwOptions) -> bool:
    """Whether a skid buffer sits between convolution ``p``'s window generator and MAC array."""
    kh, kw = p.kernel
    wide = kh * kw * p.in_shape[2] * p.in_type.bits >= WIDE_WINDOW
    return opts.skid and not (wide and p.cycles_per_window >= kw + 2)


# Frames at least this wide get the line-buffer window generator (``LineWindow``) when it
# applies and the MAC array takes a window every cycle: the video-rate case, where padding and
# row turns would otherwise cost ``2*(H+W)`` cycles a frame and the ring's ``2*kh + sh - 1``
# rows of block RAM would be ``kh - 1``. Narrower frames keep the ring (``SlidingWindow``),
# whose writer runs rows ahead of a slow reader.
LINE_WINDOW_WIDTH = 64


def line_window(p) -> bool:
    """Whether convolution ``p`` takes its windows from a ``LineWindow``."""
    return (not p.collects_frame and p.cycles_per_window == 1 and p.in_shape[1] >= LINE_WINDOW_WIDTH
            and LineWindow.applies(p.in_shape, p.kernel, p.stride, p.padding))


def channel_window(p, opts: HwOptions) -> bool:
    """Whether convolution ``p`` takes its window a chunk at a time (``ChannelWindow``): its
    steps read whole chunks of a pixel (``chunk_plan``), the options allow it, and it is not the
    video-rate case (a window a cycle from a ``LineWindow``)."""
    return (opts.channel_window and not p.collects_frame and not line_window(p)
            and chunk_plan(p) is not None)

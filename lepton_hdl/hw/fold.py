"""Channel folding of per-element blocks: ``lanes`` channels a cycle instead of all of them."""
from __future__ import annotations

from migen import Module
from litex.soc.interconnect import stream

from .common import PixelCounter, endpoint


class ChannelFold(Module):
    """Runs ``narrow``, a block built for ``lanes`` channels whose constants are the same for
    every channel, on pixels of ``channels``: each input pixel is split into ``G = channels /
    lanes`` beats (a LiteX down-converter), the narrow block takes one beat a cycle, and its
    beats are gathered back into pixels (an up-converter). ``G`` cycles a pixel, ``lanes``
    copies of the arithmetic. ``in_types``: each input's element type; ``n_px``: output pixels
    per frame (for first/last)."""

    def __init__(self, narrow, in_types, out_type, channels: int, lanes: int, n_px: int):
        from ..ops import sinks_of
        self.submodules.narrow = narrow
        self.sinks = [endpoint(channels, t) for t in in_types]
        self.source = endpoint(channels, out_type)
        # # #
        for k, (sink, nsink, t) in enumerate(zip(self.sinks, sinks_of(narrow), in_types)):
            # a pixel register takes each pixel at once (and the next in the cycle the
            # converter's last beat leaves): a down-converter alone takes it with its last beat,
            # and a MAC array feeding it would hold its whole pipeline meanwhile. A register,
            # not a two-pixel FIFO: a FIFO this shallow and this wide took distributed RAM
            # (ResNet-8's 64-channel pool: 241 TRELLIS_DPR16X4 cells a FIFO)
            hold = stream.PipeValid(sink.description)
            down = stream.Converter(channels * t.bits, lanes * t.bits)
            setattr(self.submodules, f"hold{k}", hold)
            setattr(self.submodules, f"split{k}", down)
            self.comb += [
                sink.connect(hold.sink),
                down.sink.valid.eq(hold.source.valid), down.sink.data.eq(hold.source.data),
                hold.source.ready.eq(down.sink.ready),
                nsink.valid.eq(down.source.valid), nsink.data.eq(down.source.data),
                down.source.ready.eq(nsink.ready),
            ]
        self.sink = self.sinks[0]
        self.submodules.gather = up = stream.Converter(lanes * out_type.bits, channels * out_type.bits)
        self.submodules.count = count = PixelCounter(n_px, self.source.valid & self.source.ready)
        self.comb += [
            up.sink.valid.eq(narrow.source.valid), up.sink.data.eq(narrow.source.data),
            narrow.source.ready.eq(up.sink.ready),
            self.source.valid.eq(up.source.valid), self.source.data.eq(up.source.data),
            up.source.ready.eq(self.source.ready),
            self.source.first.eq(count.first), self.source.last.eq(count.last),
        ]

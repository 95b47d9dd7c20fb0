"""A pixel stream through a per-element function: one pixel a cycle, one register stage."""
from __future__ import annotations

from migen import If, Module, Signal

from ..arith import IntType
from .common import drive_source, endpoint, unpack


class Elementwise(Module):
    """``y[c] = fn(module, x[c], c)`` for every element of every pixel of an ``(H, W, C)``
    stream. ``fn`` returns a Migen expression whose value fits ``out_type``; it is registered
    once (``LATENCY``), all elements of a pixel in parallel."""
    LATENCY = 1

    def __init__(self, shape, in_type: IntType, out_type: IntType, fn):
        H, W, C = shape
        self.sink = endpoint(C, in_type)
        self.source = endpoint(C, out_type)
        # # #
        ce = Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        x = unpack(self, self.sink.data, C, in_type, name="x")
        out = [Signal((out_type.bits + 1, True), name=f"y{c}", reset_less=True) for c in range(C)]
        valid = Signal()
        self.sync += If(ce, valid.eq(self.sink.valid), *[out[c].eq(fn(self, x[c], c)) for c in range(C)])
        drive_source(self, out, valid, H * W, out_type)

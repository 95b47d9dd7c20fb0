"""Residual add and standalone requant/activation."""
from __future__ import annotations

from migen import If, Module, Signal

from ..arith import MULT_BITS, signed_bits_for
from .common import drive_source, endpoint, multiply, round_clamp, unpack
from .join import join
from .pool import requant_stages


class ResidualAdd(Module):
    """``clamp((a * Ma + b * Mb + R) >> S)`` per element, both inputs joined beat by beat
    (the lowering buffers the shallower input path: ``passes.fifos``)."""
    LATENCY = 2

    def __init__(self, p):
        H, W, C = p.shape
        self.sink_a = endpoint(C, p.a_type)
        self.sink_b = endpoint(C, p.b_type)
        self.source = endpoint(C, p.out)
        self.sinks = [self.sink_a, self.sink_b]
        # # #
        b_src = self.sink_b
        ce = Signal()
        self.comb += ce.eq(self.source.ready | ~self.source.valid)
        valid = join(self, self.sinks, ce)
        a = unpack(self, self.sink_a.data, C, p.a_type, name="a")
        b = unpack(self, b_src.data, C, p.b_type, name="b")
        pa_bits = p.a_type.bits + MULT_BITS + 1
        pb_bits = p.b_type.bits + MULT_BITS + 1
        pa = [Signal((pa_bits, True), name=f"pa{c}") for c in range(C)]
        pb = [Signal((pb_bits, True), name=f"pb{c}") for c in range(C)]
        v1, v2 = Signal(), Signal()
        self.sync += If(ce, v1.eq(valid),
                        *[pa[c].eq(multiply(a[c], p.mult_a)) for c in range(C)],
                        *[pb[c].eq(multiply(b[c], p.mult_b)) for c in range(C)])
        sbits = max(pa_bits, pb_bits) + 1
        ys = [round_clamp(self, pa[c] + pb[c], sbits, p.shift, p.lo, p.hi, p.out, name=f"rq{c}")
              for c in range(C)]
        out = [Signal((p.out.bits + 1, True), name=f"o{c}") for c in range(C)]
        self.sync += If(ce, v2.eq(v1), *[out[c].eq(ys[c]) for c in range(C)])
        drive_source(self, out, v2, H * W, p.out)


class RequantBlock(Module):
    """Per-channel requantization and activation clamp of a pixel stream."""
    LATENCY = 2

    def __init__(self, p):
        H, W, C = p.in_shape
        self.sink = endpoint(C, p.in_type)
        self.source = endpoint(C, p.out_type)
        # # #
        ce = Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        x = unpack(self, self.sink.data, C, p.in_type, name="x")
        vb = signed_bits_for(p.in_type.qmin, p.in_type.qmax)
        out, valid = requant_stages(self, ce, x, vb, self.sink.valid, p)
        drive_source(self, out, valid, H * W, p.out_type)

"""Nearest-neighbour upsampling by integer factors (``nn.Upsample(scale_factor=2)``,
``F.interpolate(mode="nearest")``): every pixel repeated ``sw`` times along its row, every row
``sh`` times. The first copy of a row passes straight through (and is written to a one-row
buffer); the other copies are read back from it. One output pixel a cycle."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from migen import If, Memory, Module, Mux, READ_FIRST, Signal

from ..arith import IntType
from ..hw.common import PixelCounter, endpoint
from ..params import check_input, pair_of, shape3
from .base import Match, Op, OpParams, arg, fail, fx_shape, register


@dataclass(frozen=True, eq=False)
class UpsampleParams(OpParams):
    in_shape: tuple
    in_type: IntType
    scale: tuple = (2, 2)
    name: str = "upsample"

    def __post_init__(self):
        object.__setattr__(self, "in_shape", shape3(self.in_shape))
        object.__setattr__(self, "scale", pair_of(self.scale, "scale"))
        if min(self.scale) < 1:
            raise ValueError(f"{self.name}: scale={self.scale} must be positive integers")

    @property
    def out_shape(self):
        H, W, C = self.in_shape
        return H * self.scale[0], W * self.scale[1], C

    @property
    def out_type(self):
        return self.in_type


@register
class UpsampleOp(Op):
    """``nn.Upsample``/``nn.UpsamplingNearest2d``/``F.interpolate`` with ``mode='nearest'`` and an
    integer scale (given as ``scale_factor`` or as an output ``size``)."""
    runtime_params = True
    name = "upsample"
    params_type = UpsampleParams

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Upsample, nn.UpsamplingNearest2d)

    def torch_functions(self):
        import torch.nn.functional as F
        return (F.interpolate, F.upsample_nearest)

    def _match(self, n, mode, path):
        if mode != "nearest":
            fail(f"upsampling mode={mode!r}", path, "only mode='nearest' is supported")
        si, so = fx_shape(n.args[0]), fx_shape(n)
        if len(si) != 4 or so[2] % si[2] or so[3] % si[3]:
            fail(f"upsampling {si} -> {so}", path, "only integer scale factors of (N, C, H, W) maps are supported")
        return Match(dict(scale=(so[2] // si[2], so[3] // si[3])))

    def from_module(self, ctx, n, m, path):
        return self._match(n, m.mode, path)

    def from_function(self, ctx, n, f, path):
        mode = "nearest" if getattr(f, "__name__", "") == "upsample_nearest" else arg(n, 3, "mode", "nearest")
        return self._match(n, mode, path)

    def float_exec(self, node, args):
        sh, sw = node.attrs["scale"]
        return np.repeat(np.repeat(args[0], sh, axis=0), sw, axis=1)

    def quantize(self, node, ins, ctx):
        x = ins[0]
        return x.qtype, UpsampleParams(x.shape, x.qtype.type, node.attrs["scale"], name=node.label)

    def golden(self, p, x):
        x = check_input(x, p.in_shape, p.in_type, p.name)
        return np.repeat(np.repeat(x, p.scale[0], axis=0), p.scale[1], axis=1)

    def cycles(self, p, opts=None):
        H, W, _ = p.out_shape
        return H * W                  # one output pixel a cycle

    def latency(self, p):
        return p.in_shape[1] * p.scale[1] * (p.scale[0] - 1) + 2

    def buffering(self, p):
        return p.in_shape[1] + 2

    def row_fifo(self, p):
        return 2 * p.in_shape[1]      # its input stalls while a row repeats

    def estimate(self, p):
        H, W, C = p.in_shape
        b = C * p.in_type.bits
        return dict(mult=0, lut=2 * b + 20, ff=24, mem_bits=W * b if p.scale[0] > 1 else 0)

    def hardware(self, p, opts):
        return UpsampleBlock(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.in_shape
        sh, sw = p.scale
        return f"""
static void {f}(const {in_ctypes[0]} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {H * sh}; oy++)
    for (int ox = 0; ox < {W * sw}; ox++)
      for (int c = 0; c < {C}; c++)
        y[(oy * {W * sw} + ox) * {C} + c] = x[((oy / {sh}) * {W} + ox / {sw}) * {C} + c];
}}
"""


class UpsampleBlock(Module):
    def __init__(self, p: UpsampleParams):
        H, W, C = p.in_shape
        sh, sw = p.scale
        Ho, Wo, _ = p.out_shape
        self.sink = endpoint(C, p.in_type)
        self.source = endpoint(C, p.in_type)
        # # #
        rep, x, copy = Signal(max=max(sw, 2)), Signal(max=max(W, 2)), Signal(max=max(sh, 2))
        advance, last_rep = Signal(), Signal()
        self.comb += [advance.eq(self.source.valid & self.source.ready), last_rep.eq(rep == sw - 1)]
        self.sync += If(advance,
            If(last_rep,
                rep.eq(0),
                If(x == W - 1, x.eq(0), If(copy == sh - 1, copy.eq(0)).Else(copy.eq(copy + 1))
                ).Else(x.eq(x + 1)),
            ).Else(rep.eq(rep + 1)))
        first_copy = Signal()
        self.comb += first_copy.eq(copy == 0)
        if sh > 1:
            # one row: written by the first copy, read back by the others (a synchronous read
            # of the next cycle's column, so it maps to block RAM; a one-pixel row reads
            # asynchronously: its only pixel is written in the cycle before it is read)
            mem = Memory(C * p.in_type.bits, max(W, 2), name="row")
            wport = mem.get_port(write_capable=True)
            rport = mem.get_port(async_read=True) if W == 1 else mem.get_port(mode=READ_FIRST)
            self.specials += mem, wport, rport
            x_next = Mux(advance & last_rep, Mux(x == W - 1, 0, x + 1), x)
            self.comb += [
                wport.adr.eq(x), wport.dat_w.eq(self.sink.data),
                wport.we.eq(first_copy & self.sink.valid & self.source.ready & (rep == 0)),
                rport.adr.eq(x if W == 1 else x_next),
            ]
            stored = rport.dat_r
        else:
            stored = 0
        self.comb += [
            If(first_copy,
                self.source.valid.eq(self.sink.valid),
                self.source.data.eq(self.sink.data),
                self.sink.ready.eq(self.source.ready & last_rep),
            ).Else(
                self.source.valid.eq(1),
                self.source.data.eq(stored),
            ),
        ]
        self.submodules.count = count = PixelCounter(Ho * Wo, advance)
        self.comb += [self.source.first.eq(count.first), self.source.last.eq(count.last)]

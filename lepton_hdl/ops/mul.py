"""Elementwise product of two tensors, ``clamp((a * b * M + R) >> S)``: equal shapes, or a
per-channel gate ``g`` of shape ``N x C x 1 x 1`` broadcast over a map (squeeze-excitation).

The gate arrives once per frame: the block holds it while the frame's pixels stream past and
takes the next gate with the frame's last pixel. The fork/join FIFOs (``passes.fifos``) hold the
map while its gate is being computed from it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from migen import If, Module, Signal

from ..arith import IntType, MULT_BITS, quantize_multipliers, requantize, signed_bits_for
from ..csrc import rq_call
from ..hw.common import PixelCounter, drive_source, endpoint, multiply, unpack
from ..hw.join import join
from ..hw.pool import requant_stages
from ..params import Requant, check_input, shape3
from .base import (LaneFolded, Match, Op, OpParams, apply_clamp, fail, fx_shape, lanes_of, register,
                   tensor_operands)


@dataclass(frozen=True, eq=False)
class MulParams(OpParams):
    """``a`` of ``shape``, ``b`` of ``shape`` or ``(1, 1, C)`` (a gate)."""
    shape: tuple
    b_shape: tuple
    a_type: IntType
    b_type: IntType
    mult: int
    shift: int
    out: IntType
    lo: Optional[int] = None
    hi: Optional[int] = None
    name: str = "mul"
    lanes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "shape", shape3(self.shape, "shape"))
        object.__setattr__(self, "b_shape", shape3(self.b_shape, "b_shape"))
        lanes_of(self, self.shape[2])
        if self.b_shape not in (self.shape, (1, 1, self.shape[2])):
            raise ValueError(f"{self.name}: b_shape {self.b_shape} must equal {self.shape} or be (1, 1, C)")
        rq = self.requant
        object.__setattr__(self, "lo", rq.lo)
        object.__setattr__(self, "hi", rq.hi)

    @property
    def requant(self) -> Requant:
        return Requant((self.mult,), self.shift, self.out, self.lo, self.hi)

    @property
    def gate(self) -> bool:
        """``b`` is one pixel per frame, broadcast over ``a``'s pixels."""
        return self.b_shape != self.shape

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return self.shape

    @property
    def out_type(self):
        return self.out

    @property
    def product_bits(self) -> int:
        a, b = self.a_type, self.b_type
        ends = [x * y for x in (a.qmin, a.qmax) for y in (b.qmin, b.qmax)]
        return signed_bits_for(min(ends), max(ends))


@register
class MulOp(LaneFolded, Op):
    """``a * b``, ``torch.mul(a, b)``, ``a.mul(b)`` of two tensors."""
    name = "mul"
    params_type = MulParams
    arity = 2
    fuses_clamp = True
    torch_methods = ("mul",)

    def torch_functions(self):
        import operator
        import torch
        return (operator.mul, torch.mul)

    def from_function(self, ctx, n, f, path):
        a, b = tensor_operands(n, "mul", path)
        sa, sb = fx_shape(a), fx_shape(b)
        if len(sa) == 4 and len(sb) == 4 and sa != sb:
            gate = (sa[0], sa[1], 1, 1)
            if sb != gate and sa != (sb[0], sb[1], 1, 1):
                fail(f"mul of shapes {sa} and {sb}", path, "only equal shapes or a per-channel gate "
                     "(N, C, 1, 1) times a map (N, C, H, W) are supported")
            if sa[2:] == (1, 1):          # the gate first: put the map first
                a, b = b, a
        elif sa != sb:
            fail(f"mul of shapes {sa} and {sb}", path, "only equal shapes or a per-channel gate are supported")
        return Match({}, inputs=(ctx.src(a), ctx.src(b)))

    def float_exec(self, node, args):
        return apply_clamp(args[0] * args[1], node.attrs)

    def quantize(self, node, ins, ctx):
        xa, xb = ins
        clamp = node.attrs.get("clamp")
        q = ctx.tensor(node, clamp)
        (mult,), shift = quantize_multipliers([xa.qtype.scale * xb.qtype.scale / q.scale])
        lo, hi = clamp.int_bounds(q) if clamp else (None, None)
        return q, MulParams(xa.shape, xb.shape, xa.qtype.type, xb.qtype.type, mult, shift, q.type, lo, hi,
                            name=node.label)

    def in_specs(self, p):
        return [(p.shape, p.a_type), (p.b_shape, p.b_type)]

    def golden(self, p, a, b):
        a = check_input(a, p.shape, p.a_type, f"{p.name} a")
        b = check_input(b, p.b_shape, p.b_type, f"{p.name} b")
        return requantize(a * b, p.mult, p.shift, p.lo, p.hi)

    def latency(self, p):
        return MulBlock.LATENCY + 2

    def estimate(self, p):
        C = p.shape[2]
        pb = p.product_bits
        return self.fold_estimate(p, dict(mult=2 * C, lut=C * (pb + MULT_BITS + p.out.bits),
                                          ff=C * (pb + MULT_BITS + p.out.bits), mem_bits=0))

    def can_fold(self, p):
        return not p.gate             # a gate pixel is taken once a frame: not split into beats

    def narrow(self, p):
        H, W, C = p.shape
        shape = (H, W * (C // p.lanes), p.lanes)
        return replace(p, shape=shape, b_shape=shape)

    def block(self, p, opts):
        return MulBlock(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.shape
        xa, xb = in_ctypes
        bi = "c" if p.gate else "i * C + c"
        return f"""
static void {f}(const {xa} *restrict a, const {xb} *restrict b, {y} *restrict y) {{
  enum {{ C = {C} }};
  for (int i = 0; i < {H * W}; i++)
    for (int c = 0; c < C; c++)
      y[i * C + c] = {rq_call(f"(int32_t)a[i * C + c] * b[{bi}]", p.mult, p.shift, p.lo, p.hi)};
}}
"""


class MulBlock(Module):
    """Products registered, then the requant's multiply and round/clamp (two stages)."""
    LATENCY = 3

    def __init__(self, p: MulParams):
        H, W, C = p.shape
        self.sink_a = endpoint(C, p.a_type)
        self.sink_b = endpoint(C, p.b_type)
        self.source = endpoint(C, p.out)
        self.sinks = [self.sink_a, self.sink_b]
        # # #
        ce = Signal()
        self.comb += ce.eq(self.source.ready | ~self.source.valid)
        if p.gate:
            # the gate is taken with the frame's last pixel, so it holds for the whole frame
            self.submodules.pixels = px = PixelCounter(H * W, self.sink_a.valid & self.sink_a.ready)
            self.comb += [self.sink_a.ready.eq(ce & self.sink_b.valid),
                          self.sink_b.ready.eq(ce & self.sink_a.valid & px.last)]
            valid = self.sink_a.valid & self.sink_b.valid
        else:
            valid = join(self, self.sinks, ce)
        a = unpack(self, self.sink_a.data, C, p.a_type, name="a")
        b = unpack(self, self.sink_b.data, C, p.b_type, name="b")
        pb = p.product_bits
        prod = [Signal((pb, True), name=f"prod{c}", reset_less=True) for c in range(C)]
        v1 = Signal()
        self.sync += If(ce, v1.eq(valid), *[prod[c].eq(multiply(a[c], b[c])) for c in range(C)])
        out, v3 = requant_stages(self, ce, prod, pb, v1, p)
        drive_source(self, out, v3, H * W, p.out)

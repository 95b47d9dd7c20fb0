"""Elementwise sum of two tensors of one shape (a residual add), each at its own scale."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..arith import IntType, MULT_BITS, quantize_multipliers, requantize
from ..errors import UnsupportedOpError
from ..params import Requant, check_input, shape3
from .base import LaneFolded, Match, Op, OpParams, apply_clamp, fail, lanes_of, register, tensor_operands


@dataclass(frozen=True, eq=False)
class AddParams(OpParams):
    """``clamp((a * mult_a + b * mult_b + R) >> shift, lo, hi)`` per element."""
    shape: tuple
    a_type: IntType
    b_type: IntType
    mult_a: int
    mult_b: int
    shift: int
    out: IntType
    lo: Optional[int] = None
    hi: Optional[int] = None
    name: str = "add"
    lanes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "shape", shape3(self.shape, "shape"))
        lanes_of(self, self.shape[2])
        rq = Requant((self.mult_a, self.mult_b), self.shift, self.out, self.lo, self.hi)
        object.__setattr__(self, "lo", rq.lo)
        object.__setattr__(self, "hi", rq.hi)

    @property
    def in_shape(self):
        return self.shape

    @property
    def out_shape(self):
        return self.shape

    @property
    def out_type(self):
        return self.out


@register
class AddOp(LaneFolded, Op):
    """``a + b``, ``torch.add(a, b)``, ``a.add(b)`` of two equally shaped tensors."""
    name = "add"
    params_type = AddParams
    arity = 2
    fuses_clamp = True
    torch_methods = ("add",)
    shape_field = "shape"

    def torch_functions(self):
        import operator
        import torch
        return (operator.add, torch.add)

    def from_function(self, ctx, n, f, path):
        if n.kwargs.get("alpha", 1) != 1:
            fail("torch.add(alpha != 1)", path)
        a, b = tensor_operands(n, "add", path)
        return Match({}, inputs=(ctx.src(a), ctx.src(b)))

    def float_exec(self, node, args):
        return apply_clamp(args[0] + args[1], node.attrs)

    def quantize(self, node, ins, ctx):
        xa, xb = ins
        if xa.shape != xb.shape:
            raise UnsupportedOpError(f"add at '{node.label}': input shapes {xa.shape} and {xb.shape} differ")
        clamp = node.attrs.get("clamp")
        q = ctx.tensor(node, clamp)
        mult, shift = quantize_multipliers([xa.qtype.scale / q.scale, xb.qtype.scale / q.scale])
        lo, hi = clamp.int_bounds(q) if clamp else (None, None)
        return q, AddParams(node.shape, xa.qtype.type, xb.qtype.type, mult[0], mult[1], shift, q.type, lo, hi,
                            name=node.label)

    def in_specs(self, p):
        return [(p.shape, p.a_type), (p.shape, p.b_type)]

    def golden(self, p, a, b):
        a = check_input(a, p.shape, p.a_type, f"{p.name} a")
        b = check_input(b, p.shape, p.b_type, f"{p.name} b")
        return requantize(a * p.mult_a + b * p.mult_b, 1, p.shift, p.lo, p.hi)

    def latency(self, p):
        from ..hw.add import ResidualAdd
        return ResidualAdd.LATENCY + 2

    def estimate(self, p):
        C = p.shape[2]
        return self.fold_estimate(p, dict(mult=2 * C, lut=C * (MULT_BITS + 2 * p.out.bits + 8),
                                          ff=C * 2 * (MULT_BITS + 8), mem_bits=0))

    def block(self, p, opts):
        from ..hw.add import ResidualAdd
        return ResidualAdd(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.shape
        xa, xb = in_ctypes
        return f"""
static void {f}(const {xa} *restrict a, const {xb} *restrict b, {y} *restrict y) {{
  for (int i = 0; i < {H * W * C}; i++) {{
    int64_t v = (int64_t)a[i] * {p.mult_a} + (int64_t)b[i] * {p.mult_b};
    y[i] = clamp64(v, {p.shift}, {p.lo}, {p.hi});
  }}
}}
"""

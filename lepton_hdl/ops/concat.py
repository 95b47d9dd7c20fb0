"""Channel concatenation (``torch.cat(xs, dim=1)``) of streams of one height and width.

Each input has its own scale; the output has one (calibrated on the concatenation), so every
input channel is requantized to it with one shared shift (an input already at the output scale
and type gets the multiplier ``2**S``: exact identity). One beat of every input makes one output
beat (the join; ``passes.fifos`` buffers the shallower paths).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from migen import If, Module, Signal

from ..arith import MULT_BITS, quantize_multipliers, signed_bits_for
from ..csrc import array, rq_call
from ..hw.common import drive_source, endpoint, unpack
from ..hw.join import join
from ..hw.pool import requant_stages
from ..params import Requant, apply_requant, check_input, shape3
from .base import Match, Op, OpParams, arg, fail, fx_shape, register


@dataclass(frozen=True, eq=False)
class ConcatParams(OpParams):
    """Inputs of shapes ``in_shapes`` (same H, W) and types ``in_types``; ``requant`` has one
    multiplier per output channel."""
    in_shapes: tuple
    in_types: tuple
    requant: Requant
    name: str = "concat"

    def __post_init__(self):
        shapes = tuple(shape3(s, "in_shape") for s in self.in_shapes)
        object.__setattr__(self, "in_shapes", shapes)
        object.__setattr__(self, "in_types", tuple(self.in_types))
        if len(shapes) < 2 or len(shapes) != len(self.in_types):
            raise ValueError(f"{self.name}: needs two or more inputs, each with a type")
        if len({s[:2] for s in shapes}) != 1:
            raise ValueError(f"{self.name}: inputs {shapes} differ in height or width")
        self.requant.channel_mult(self.out_shape[2])

    @property
    def out_shape(self):
        H, W, _ = self.in_shapes[0]
        return H, W, sum(s[2] for s in self.in_shapes)

    @property
    def out_type(self):
        return self.requant.out

    @property
    def value_bits(self) -> int:
        return signed_bits_for(min(t.qmin for t in self.in_types), max(t.qmax for t in self.in_types))


@register
class ConcatOp(Op):
    """``torch.cat([a, b, ...], dim=1)`` (also ``torch.concat``/``torch.concatenate``)."""
    name = "concat"
    params_type = ConcatParams
    arity = None

    def torch_functions(self):
        import torch
        return (torch.cat, torch.concat, torch.concatenate)

    def from_function(self, ctx, n, f, path):
        import torch.fx
        xs = arg(n, 0, "tensors")
        dim = arg(n, 1, "dim", 0)
        if not isinstance(xs, (list, tuple)) or not all(isinstance(x, torch.fx.Node) for x in xs):
            fail("torch.cat of non-tensors", path)
        rank = len(fx_shape(xs[0]))
        if dim % rank != 1:
            fail(f"torch.cat(dim={dim})", path, "only concatenation of channels (dim=1) is supported")
        if len(xs) == 1:
            return ctx.src(xs[0])
        return Match({}, inputs=tuple(ctx.src(x) for x in xs))

    def float_exec(self, node, args):
        return np.concatenate(args, axis=2)

    def quantize(self, node, ins, ctx):
        q = ctx.tensor(node)
        mult, shift = quantize_multipliers([x.qtype.scale / q.scale for x in ins])
        per_channel = [m for m, x in zip(mult, ins) for _ in range(x.shape[2])]
        return q, ConcatParams(tuple(x.shape for x in ins), tuple(x.qtype.type for x in ins),
                               Requant(per_channel, shift, q.type), name=node.label)

    def in_specs(self, p):
        return list(zip(p.in_shapes, p.in_types))

    def golden(self, p, *xs):
        xs = [check_input(x, s, t, f"{p.name} input {k}") for k, (x, s, t) in
              enumerate(zip(xs, p.in_shapes, p.in_types))]
        return apply_requant(np.concatenate(xs, axis=2), p.requant)

    def latency(self, p):
        return 5                      # operand register, requant multiply, round/clamp; +2

    def estimate(self, p):
        C = p.out_shape[2]
        return dict(mult=C, lut=C * (MULT_BITS + p.value_bits + 10), ff=C * (MULT_BITS + 16), mem_bits=0)

    def hardware(self, p, opts):
        return ConcatBlock(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.out_shape
        rq = p.requant
        args = ", ".join(f"const {t} *restrict x{k}" for k, t in enumerate(in_ctypes))
        body, c0 = [], 0
        for k, s in enumerate(p.in_shapes):
            body.append(f"    for (int c = 0; c < {s[2]}; c++) y[i * {C} + {c0} + c] = "
                        + rq_call(f"x{k}[i * {s[2]} + c]", f"{f}_m[{c0} + c]", rq.shift, rq.lo, rq.hi) + ";")
            c0 += s[2]
        return array("int32_t", f"{f}_m", rq.channel_mult(C)) + f"""
static void {f}({args}, {y} *restrict y) {{
  for (int i = 0; i < {H * W}; i++) {{
{chr(10).join(body)}
  }}
}}
"""


class ConcatBlock(Module):
    """Joins one pixel of every input; requantizes every channel (two stages)."""

    def __init__(self, p: ConcatParams):
        H, W, C = p.out_shape
        self.sinks = [endpoint(s[2], t) for s, t in zip(p.in_shapes, p.in_types)]
        self.source = endpoint(C, p.out_type)
        # # #
        ce = Signal()
        self.comb += ce.eq(self.source.ready | ~self.source.valid)
        valid = join(self, self.sinks, ce)
        elems = []
        for k, (snk, s, t) in enumerate(zip(self.sinks, p.in_shapes, p.in_types)):
            elems += unpack(self, snk.data, s[2], t, name=f"x{k}_")
        vb = p.value_bits
        x = [Signal((vb, True), name=f"v{c}", reset_less=True) for c in range(C)]
        v1 = Signal()
        self.sync += If(ce, v1.eq(valid), *[x[c].eq(elems[c]) for c in range(C)])
        out, v3 = requant_stages(self, ce, x, vb, v1, p)
        drive_source(self, out, v3, H * W, p.out_type)

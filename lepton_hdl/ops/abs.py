"""``torch.abs``: the magnitude of every element, exact.

A signed ``b``-bit input becomes an unsigned ``b``-bit output at the same scale (``|-2**(b-1)|``
fits), so no requant is needed; an unsigned input passes unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..arith import IntType
from ..ir import QTensor
from ..params import check_input, shape3
from .base import LaneFolded, Op, OpParams, lanes_of, register


@dataclass(frozen=True, eq=False)
class AbsParams(OpParams):
    in_shape: tuple
    in_type: IntType
    name: str = "abs"
    lanes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "in_shape", shape3(self.in_shape))
        lanes_of(self, self.in_shape[2])

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_type(self):
        return IntType(self.in_type.bits, False)


@register
class AbsOp(LaneFolded, Op):
    """``torch.abs(x)``, ``abs(x)``, ``x.abs()``."""
    runtime_params = True
    name = "abs"
    params_type = AbsParams
    torch_methods = ("abs",)

    def torch_functions(self):
        import operator
        import torch
        return (torch.abs, operator.abs)

    def float_exec(self, node, args):
        return np.abs(args[0])

    def quantize(self, node, ins, ctx):
        x = ins[0]
        return QTensor(x.qtype.scale, IntType(x.qtype.type.bits, False)), AbsParams(x.shape, x.qtype.type,
                                                                                     name=node.label)

    def golden(self, p, x):
        return np.abs(check_input(x, p.in_shape, p.in_type, p.name))

    def latency(self, p):
        return 1

    def buffering(self, p):
        return 2

    def estimate(self, p):
        C, b = p.in_shape[2], p.in_type.bits
        return self.fold_estimate(p, dict(mult=0, lut=C * b * 2 if p.in_type.signed else 0, ff=C * b, mem_bits=0))

    def block(self, p, opts):
        from migen import Mux
        from ..hw.elementwise import Elementwise
        return Elementwise(p.in_shape, p.in_type, p.out_type, lambda m, x, c: Mux(x < 0, -x, x))

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.in_shape
        return f"""
static void {f}(const {in_ctypes[0]} *restrict x, {y} *restrict y) {{
  for (int i = 0; i < {H * W * C}; i++) y[i] = x[i] < 0 ? -x[i] : x[i];
}}
"""

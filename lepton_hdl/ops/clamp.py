"""Clamp activations: ReLU, ReLU6, Hardtanh, ``torch.clamp``. Fused into the requant of the
block before them when it has one (``passes.fuse_activation``); otherwise a standalone
requant block on the stream."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..arith import IntType, MULT_BITS
from ..csrc import array, rq_call
from ..ir import QTensor
from ..params import Requant, apply_requant, check_input, shape3
from .base import Clamp, LaneFolded, Match, Op, OpParams, arg, fail, lanes_of, register


@dataclass(frozen=True, eq=False)
class RequantParams(OpParams):
    """A standalone requantization / activation on a stream (e.g. a ReLU after a pool)."""
    in_shape: tuple
    in_type: IntType
    requant: Requant
    name: str = "requant"
    lanes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "in_shape", shape3(self.in_shape))
        self.requant.channel_mult(self.in_shape[2])
        lanes_of(self, self.in_shape[2])

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_type(self):
        return self.requant.out


@register
class ClampOp(LaneFolded, Op):
    """``nn.ReLU``, ``nn.ReLU6``, ``nn.Hardtanh``, ``F.relu``, ``torch.clamp(x, lo, hi)``, ..."""
    runtime_params = True
    name = "act"
    params_type = RequantParams
    clamp_activation = True
    torch_methods = ("relu",)

    def torch_modules(self):
        import torch.nn as nn
        return (nn.ReLU, nn.ReLU6, nn.Hardtanh)

    def torch_functions(self):
        import torch
        import torch.nn.functional as F
        return (F.relu, torch.relu, F.relu6, F.hardtanh, torch.clamp)

    @staticmethod
    def _match(lo, hi, name):
        return Match(dict(clamp=Clamp(float(lo), float(hi), name)))

    def from_module(self, ctx, n, m, path):
        import torch.nn as nn
        if isinstance(m, nn.ReLU6):          # ReLU6 subclasses Hardtanh: test it first
            return self._match(0.0, 6.0, "relu6")
        if isinstance(m, nn.Hardtanh):
            return self._match(m.min_val, m.max_val, "hardtanh")
        return self._match(0.0, np.inf, "relu")

    def from_function(self, ctx, n, f, path):
        import torch
        import torch.nn.functional as F
        if f is F.relu6:
            return self._match(0.0, 6.0, "relu6")
        if f is F.hardtanh:
            return self._match(arg(n, 1, "min_val", -1.0), arg(n, 2, "max_val", 1.0), "hardtanh")
        if f is torch.clamp:
            lo, hi = arg(n, 1, "min"), arg(n, 2, "max")
            if not all(isinstance(v, (int, float, type(None))) for v in (lo, hi)):
                fail("torch.clamp with tensor bounds", path)
            return self._match(-np.inf if lo is None else lo, np.inf if hi is None else hi, "clamp")
        return self._match(0.0, np.inf, "relu")

    def clamp_of(self, node):
        return node.attrs["clamp"]

    def float_exec(self, node, args):
        return node.attrs["clamp"].apply(args[0])

    def quantize(self, node, ins, ctx):
        x = ins[0]
        c = node.attrs["clamp"]
        t = IntType(x.qtype.type.bits, x.qtype.type.signed and c.lo < 0)
        q = QTensor(x.qtype.scale, t)
        rq = Requant((1,), 0, t, *c.int_bounds(q))
        return q, RequantParams(x.shape, x.qtype.type, rq, name=node.label)

    def golden(self, p, x):
        x = check_input(x, p.in_shape, p.in_type, p.name)
        return apply_requant(x, p.requant)

    def latency(self, p):
        from ..hw.add import RequantBlock
        return RequantBlock.LATENCY + 2

    def estimate(self, p):
        C = p.in_shape[2]
        return self.fold_estimate(p, dict(mult=C, lut=C * (MULT_BITS + 10), ff=C * (MULT_BITS + 16), mem_bits=0))

    def can_fold(self, p):
        return len(set(p.requant.channel_mult(p.in_shape[2]))) == 1

    def narrow(self, p):
        H, W, C = p.in_shape
        rq = p.requant
        return replace(p, in_shape=(H, W * (C // p.lanes), p.lanes),
                       requant=Requant(rq.channel_mult(C)[:1], rq.shift, rq.out, rq.lo, rq.hi))

    def block(self, p, opts):
        from ..hw.add import RequantBlock
        return RequantBlock(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.in_shape
        rq = p.requant
        return array("int32_t", f"{f}_m", rq.channel_mult(C)) + f"""
static void {f}(const {in_ctypes[0]} *restrict x, {y} *restrict y) {{
  for (int i = 0; i < {H * W}; i++)
    for (int c = 0; c < {C}; c++)
      y[i * {C} + c] = {rq_call(f"x[i * {C} + c]", f"{f}_m[c]", rq.shift, rq.lo, rq.hi)};
}}
"""

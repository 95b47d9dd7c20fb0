"""Table activations on the integer domain: Sigmoid, Tanh, Hardswish, Hardsigmoid, SiLU, GELU.

An ``a``-bit input takes only ``2**a`` values, so the activation is exactly a table: entry ``q``
is ``clamp(round(f(q * s_in) / s_out))`` for the input scale ``s_in`` and the output scale
``s_out`` calibrated on the activation's own float output. Golden, gateware (one block-RAM ROM
per channel, synchronous read) and C all read the same table: bit-exact by construction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import numpy as np
from migen import Cat, If, Memory, Module, READ_FIRST, Signal

from ..arith import IntType
from ..csrc import array
from ..hw.common import PixelCounter, endpoint
from ..params import check_input, frozen_array, shape3
from .base import LaneFolded, Match, Op, OpParams, arg, fail, lanes_of, register


def _gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Fn(str, Enum):
    """The activation a table holds, with its float64 definition (torch's)."""
    SIGMOID = "sigmoid"
    TANH = "tanh"
    HARDSWISH = "hardswish"
    HARDSIGMOID = "hardsigmoid"
    SILU = "silu"
    GELU = "gelu"
    GELU_TANH = "gelu_tanh"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return {
            Fn.SIGMOID: _sigmoid,
            Fn.TANH: np.tanh,
            Fn.HARDSWISH: lambda v: v * np.clip(v + 3.0, 0.0, 6.0) / 6.0,
            Fn.HARDSIGMOID: lambda v: np.clip(v + 3.0, 0.0, 6.0) / 6.0,
            Fn.SILU: lambda v: v * _sigmoid(v),
            Fn.GELU: _gelu,
            Fn.GELU_TANH: _gelu_tanh,
        }[self](x)


@dataclass(frozen=True, eq=False)
class TableParams(OpParams):
    """``y = table[x - in_type.qmin]`` per element; ``table`` has one entry per input value."""
    in_shape: tuple
    in_type: IntType
    out_type: IntType
    table: np.ndarray
    fn: Fn
    name: str = "table"
    lanes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "in_shape", shape3(self.in_shape))
        lanes_of(self, self.in_shape[2])
        t = np.asarray(self.table)
        n = self.in_type.qmax - self.in_type.qmin + 1
        if t.shape != (n,):
            raise ValueError(f"{self.name}: table has {t.size} entries, the {self.in_type} input takes {n} values")
        self.out_type.check(t, f"{self.name} table")
        object.__setattr__(self, "table", frozen_array(t))
        object.__setattr__(self, "fn", Fn(self.fn))

    @property
    def out_shape(self):
        return self.in_shape


def make_table(fn: Fn, in_q, out_q) -> np.ndarray:
    """The integer table of ``fn`` from input quantization ``in_q`` to output ``out_q``."""
    t_in, t_out = in_q.type, out_q.type
    x = np.arange(t_in.qmin, t_in.qmax + 1, dtype=np.float64) * in_q.scale
    y = np.floor(fn(x) / out_q.scale + 0.5)
    return np.clip(y, t_out.qmin, t_out.qmax).astype(np.int64)


@register
class TableOp(LaneFolded, Op):
    """``nn.Sigmoid``/``torch.sigmoid``, ``nn.Tanh``/``torch.tanh``, ``nn.Hardswish``,
    ``nn.Hardsigmoid``, ``nn.SiLU``, ``nn.GELU`` (exact or tanh), and their functional forms."""
    name = "table"
    params_type = TableParams
    torch_methods = ("sigmoid", "tanh")

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU)

    def torch_functions(self):
        import torch
        import torch.nn.functional as F
        return (torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.hardswish, F.hardsigmoid, F.silu, F.gelu)

    @staticmethod
    def _gelu(approximate, path):
        if approximate not in ("none", "tanh"):
            fail(f"GELU(approximate={approximate!r})", path, "approximate must be 'none' or 'tanh'")
        return Match(dict(fn=Fn.GELU if approximate == "none" else Fn.GELU_TANH))

    def from_module(self, ctx, n, m, path):
        name = type(m).__name__.lower()
        if name == "gelu":
            return self._gelu(m.approximate, path)
        return Match(dict(fn=Fn(name)))

    def from_function(self, ctx, n, f, path):
        name = getattr(f, "__name__", str(f)).lower()
        if name == "gelu":
            return self._gelu(arg(n, 1, "approximate", "none"), path)
        return Match(dict(fn=Fn(name)))

    def float_exec(self, node, args):
        return node.attrs["fn"](args[0])

    def quantize(self, node, ins, ctx):
        x = ins[0]
        q = ctx.tensor(node)
        fn = node.attrs["fn"]
        return q, TableParams(x.shape, x.qtype.type, q.type, make_table(fn, x.qtype, q), fn, name=node.label)

    def golden(self, p, x):
        x = check_input(x, p.in_shape, p.in_type, p.name)
        return p.table[x - p.in_type.qmin]

    def latency(self, p):
        return 1

    def buffering(self, p):
        return 2

    def estimate(self, p):
        C = p.in_shape[2]
        return self.fold_estimate(p, dict(mult=0, lut=C * (p.in_type.bits + 4), ff=C * p.out_type.bits + 2,
                                          mem_bits=C * p.table.size * p.out_type.bits))

    def block(self, p, opts):
        return TableBlock(p)

    def c_function(self, p, f, in_ctypes, y):
        H, W, C = p.in_shape
        return array("int16_t", f"{f}_t", p.table) + f"""
static void {f}(const {in_ctypes[0]} *restrict x, {y} *restrict y) {{
  for (int i = 0; i < {H * W * C}; i++) y[i] = {f}_t[x[i] - ({p.in_type.qmin})];
}}
"""


class TableBlock(Module):
    """One ROM per channel (``2**bits`` words, block RAM), read synchronously with the
    pipeline's clock enable: one pixel a cycle, one cycle of latency."""

    def __init__(self, p: TableParams):
        H, W, C = p.in_shape
        it, ot = p.in_type, p.out_type
        self.sink = endpoint(C, it)
        self.source = endpoint(C, ot)
        # # #
        ce, valid = Signal(), Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        self.sync += If(ce, valid.eq(self.sink.valid))
        words = [int(v) & ((1 << ot.bits) - 1) for v in p.table]
        outs = []
        for c in range(C):
            rom = Memory(ot.bits, len(words), init=words, name=f"table{c}")
            port = rom.get_port(has_re=True, mode=READ_FIRST)
            self.specials += rom, port
            x = self.sink.data[c * it.bits:(c + 1) * it.bits]
            # index = x - qmin: for a signed input, its bits with the sign bit flipped
            adr = Cat(x[:it.bits - 1], ~x[it.bits - 1]) if it.signed else x
            self.comb += port.adr.eq(adr), port.re.eq(ce)
            outs.append(port.dat_r)
        self.submodules.count = count = PixelCounter(H * W, self.source.valid & self.source.ready)
        self.comb += [
            self.source.valid.eq(valid),
            self.source.data.eq(Cat(*outs)),
            self.source.first.eq(count.first),
            self.source.last.eq(count.last),
        ]

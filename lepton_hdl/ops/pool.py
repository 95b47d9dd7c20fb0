"""Max pool, average pool (zero padding counted in the divisor) and global average pool."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional

import numpy as np

from ..arith import IntType, MULT_BITS, quantize_multipliers, signed_bits_for
from ..csrc import range_taps, rq_call, window_ranges, window_loop
from ..params import Requant, Windowed, apply_requant, check_input, pair_of, shape3, windows
from .base import LaneFolded, Match, Op, OpParams, apply_clamp, arg, fail, lanes_of, pair, register


class PoolKind(str, Enum):
    MAX = "max"
    AVG = "avg"
    GLOBAL_AVG = "global_avg"


@dataclass(frozen=True, eq=False)
class PoolParams(Windowed, OpParams):
    """Max pool, average pool (k x k, zero padding counted) or global average pool.

    Average pools sum the window and requantize the sum (``requant``, one multiplier for every
    channel: ``round(2**S * s_in / (s_out * kh * kw))``); max pool needs no requant.
    """
    in_shape: tuple
    in_type: IntType
    kind: PoolKind
    kernel: tuple = (2, 2)
    stride: Optional[tuple] = None
    padding: tuple = (0, 0)
    requant: Optional[Requant] = None
    name: str = "pool"
    lanes: Optional[int] = None      # requant lanes of a global average (others: every channel)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("in_shape", shape3(self.in_shape))
        H, W, C = self.in_shape
        try:
            set_("kind", PoolKind(self.kind))
        except ValueError:
            raise ValueError(f"{self.name}: kind={self.kind!r}; supported: "
                             f"{', '.join(repr(k.value) for k in PoolKind)}") from None
        if self.is_global:
            set_("kernel", (H, W))
            set_("padding", (0, 0))
            set_("stride", (1, 1))
        set_("kernel", pair_of(self.kernel, "kernel"))
        set_("stride", self.kernel if self.stride is None else pair_of(self.stride, "stride"))
        set_("padding", pair_of(self.padding, "padding"))
        kh, kw = self.kernel
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.name}: kernel={self.kernel}, stride={self.stride}, "
                             f"padding={self.padding} must be positive")
        if self.padding[0] > kh // 2 or self.padding[1] > kw // 2:
            raise ValueError(f"{self.name}: padding={self.padding} must be at most half the kernel {self.kernel}")
        Hp, Wp, _ = self.padded_shape
        if kh > Hp or kw > Wp:
            raise ValueError(f"{self.name}: kernel={self.kernel} is larger than the padded input ({Hp}, {Wp})")
        if self.takes_max:
            if self.requant is not None:
                raise ValueError(f"{self.name}: max pool takes no requant")
        elif self.requant is None:
            raise ValueError(f"{self.name}: {self.kind.value} pool needs a requant")
        else:
            self.requant.channel_mult(C)
        lanes_of(self, C)
        if self.lanes != C and not self.is_global:
            raise ValueError(f"{self.name}: only a global average pool folds its channels (lanes={self.lanes})")

    @property
    def op_name(self) -> str:
        """The op of this kind of pool (three ops share this parameter class)."""
        return {PoolKind.MAX: "maxpool", PoolKind.AVG: "avgpool", PoolKind.GLOBAL_AVG: "global_avgpool"}[self.kind]

    @property
    def takes_max(self) -> bool:
        return self.kind is PoolKind.MAX

    @property
    def is_global(self) -> bool:
        return self.kind is PoolKind.GLOBAL_AVG

    @property
    def out_shape(self) -> tuple:
        return self.window_out(self.in_shape[2])

    @property
    def out_type(self) -> IntType:
        return self.in_type if self.takes_max else self.requant.out

    @property
    def sum_bits(self) -> int:
        n = self.kernel[0] * self.kernel[1]
        return signed_bits_for(self.in_type.qmin * n, self.in_type.qmax * n)

    @property
    def row_accumulate(self) -> bool:
        """Non-overlapping windows, no padding: pooled by a row of partial results instead of
        a line buffer (``hw.pool.RowPool``)."""
        return not self.is_global and self.stride == self.kernel and self.padding == (0, 0)


def _pool_checks(name, path, ceil_mode=False, dilation=1, extra=None):
    if ceil_mode:
        fail(f"{name}(ceil_mode=True)", path, "only ceil_mode=False is supported")
    if pair(dilation) != (1, 1):
        fail(f"{name}(dilation={dilation})", path, "only dilation=1 is supported")
    if extra:
        fail(name, path, extra)


def _pool_args(n):
    """kernel, stride, padding of F.max_pool2d / F.avg_pool2d."""
    k, s, p = arg(n, 1, "kernel_size"), arg(n, 2, "stride"), arg(n, 3, "padding", 0)
    return k, s, 0 if p is None else p


class _PoolOp(Op):
    runtime_params = True
    params_type = PoolParams

    def golden(self, p, x):
        x = check_input(x, p.in_shape, p.in_type, p.name)
        if p.takes_max:
            return windows(x, p.kernel, p.stride, p.padding, pad_value=p.in_type.qmin).max(axis=(2, 3))
        return apply_requant(windows(x, p.kernel, p.stride, p.padding).sum(axis=(2, 3)), p.requant)

    def cycles(self, p, opts=None):
        from ..hw.window import SlidingWindow
        H, W, _ = p.in_shape
        if p.is_global or p.row_accumulate:
            return H * W                      # one input pixel a cycle
        if p.collects_frame:
            return p.padded_shape[0] * p.padded_shape[1]
        return SlidingWindow.frame_cycles(p.padded_shape, p.kernel, p.stride, 1, skid=False)

    def latency(self, p):
        from ..hw.pool import reduce_latency
        if p.is_global:
            return reduce_latency(p) + 2
        Hp, Wp, _ = p.padded_shape
        return p.kernel[0] * Wp + p.kernel[1] + reduce_latency(p) + 4

    def buffering(self, p):
        from ..hw.window import ring_rows
        Hp, Wp, _ = p.padded_shape
        if p.is_global:
            return p.in_shape[0] * p.in_shape[1] + 4
        if p.collects_frame:
            return Hp * Wp + 8
        if p.row_accumulate:
            return p.kernel[0] * Wp + 8
        return ring_rows(p.kernel, p.stride) * Wp + 8

    def row_fifo(self, p):
        return 2 * p.in_shape[1]

    def estimate(self, p):
        from ..hw.window import ring_rows
        Hp, Wp, C = p.padded_shape
        ib = p.in_type.bits
        if p.is_global:
            return dict(mult=C, lut=C * (p.sum_bits * 2 + MULT_BITS), ff=C * (2 * p.sum_bits + MULT_BITS), mem_bits=0)
        win = p.kernel[0] * p.kernel[1] * C * ib
        return dict(mult=0 if p.takes_max else C, lut=win + 40, ff=win + C * ib * 2,
                    mem_bits=ring_rows(p.kernel, p.stride) * Wp * C * ib)

    def hardware(self, p, opts):
        from ..hw.pool import Pool
        return Pool(p)

    def c_function(self, p, f, in_ctypes, y):
        x = in_ctypes[0]
        H, W, C = p.in_shape
        Ho, Wo, _ = p.out_shape
        if p.takes_max:
            init, body = str(p.in_type.qmin), [f"const int v = x[(iy * {W} + ix) * {C} + c];", "if (v > m) m = v;"]
            res = "m"
        else:
            init, body = "0", [f"m += x[(iy * {W} + ix) * {C} + c];"]
            rq = p.requant
            res = rq_call("m", rq.channel_mult(C)[0], rq.shift, rq.lo, rq.hi)
        return f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {Ho}; oy++)
    for (int ox = 0; ox < {Wo}; ox++)
      for (int c = 0; c < {C}; c++) {{
        int32_t m = {init};
{window_loop(H, W, p.kernel, p.stride, p.padding, body, 8)}        y[(oy * {Wo} + ox) * {C} + c] = {res};
      }}
}}
"""

    def c_tuned(self, p, f, plain, in_ctypes, y):
        x = in_ctypes[0]
        H, W, C = p.in_shape
        Ho, Wo, _ = p.out_shape
        kh, kw = p.kernel
        if p.takes_max:
            init, step = str(p.in_type.qmin), "{ const int v = xp[c]; if (v > m) m = v; }"
            res = "m"
        else:
            init, step = "0", "m += xp[c];"
            rq = p.requant
            res = rq_call("m", rq.channel_mult(C)[0], rq.shift, rq.lo, rq.hi)

        body = [f"{y} *yp = y + (oy * {Wo} + ox) * {C};",
                f"for (int c = 0; c < {C}; c++) {{",
                f"  int32_t m = {init};",
                *range_taps(x, W, C, [step]),
                f"  yp[c] = {res};",
                "}"]
        return f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
{window_ranges(H, W, (Ho, Wo), p.kernel, p.stride, p.padding, body)}}}
"""

    def _avg_params(self, node, x, kind, kernel, stride, padding, q):
        mult, shift = quantize_multipliers([1.0 / (kernel[0] * kernel[1])])
        clamp = node.attrs.get("clamp")
        rq = Requant(mult, shift, q.type, *(clamp.int_bounds(q) if clamp else (None, None)))
        return PoolParams(x.shape, q.type, kind, kernel, stride, padding, requant=rq, name=node.label)


@register
class MaxPoolOp(_PoolOp):
    """``nn.MaxPool2d`` / ``F.max_pool2d`` (padding counts as the smallest value)."""
    name = "maxpool"

    def torch_modules(self):
        import torch.nn as nn
        return (nn.MaxPool2d,)

    def torch_functions(self):
        import torch.nn.functional as F
        return (F.max_pool2d,)

    def _match(self, path, k, s, p, ceil_mode=False, dilation=1, return_indices=False):
        _pool_checks("nn.MaxPool2d", path, ceil_mode, dilation,
                     "return_indices=True is not supported" if return_indices else None)
        return Match(dict(kernel=pair(k), stride=pair(s if s else k), padding=pair(p)))

    def from_module(self, ctx, n, m, path):
        return self._match(path, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.dilation, m.return_indices)

    def from_function(self, ctx, n, f, path):
        k, s, p = _pool_args(n)
        return self._match(path, k, s, p, n.kwargs.get("ceil_mode", False), n.kwargs.get("dilation", 1))

    def float_exec(self, node, args):
        a = node.attrs
        return windows(args[0], a["kernel"], a["stride"], a["padding"], pad_value=-np.inf).max(axis=(2, 3))

    def quantize(self, node, ins, ctx):
        x = ins[0]
        a = node.attrs
        return x.qtype, PoolParams(x.shape, x.qtype.type, PoolKind.MAX, a["kernel"], a["stride"], a["padding"],
                                   name=node.label)


@register
class AvgPoolOp(_PoolOp):
    """``nn.AvgPool2d`` / ``F.avg_pool2d`` (``count_include_pad=True``)."""
    name = "avgpool"
    fuses_clamp = True

    def torch_modules(self):
        import torch.nn as nn
        return (nn.AvgPool2d,)

    def torch_functions(self):
        import torch.nn.functional as F
        return (F.avg_pool2d,)

    def _match(self, path, k, s, p, ceil_mode=False, count_include_pad=True, divisor_override=None):
        extra = None
        if not count_include_pad:
            extra = "count_include_pad=False is not supported"
        if divisor_override is not None:
            extra = "divisor_override is not supported"
        _pool_checks("nn.AvgPool2d", path, ceil_mode, 1, extra)
        return Match(dict(kernel=pair(k), stride=pair(s if s else k), padding=pair(p)))

    def from_module(self, ctx, n, m, path):
        return self._match(path, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                           m.divisor_override)

    def from_function(self, ctx, n, f, path):
        k, s, p = _pool_args(n)
        kw = n.kwargs
        return self._match(path, k, s, p, kw.get("ceil_mode", False), kw.get("count_include_pad", True),
                           kw.get("divisor_override"))

    def float_exec(self, node, args):
        a = node.attrs
        k = a["kernel"]
        return apply_clamp(windows(args[0], k, a["stride"], a["padding"]).sum(axis=(2, 3)) / (k[0] * k[1]), a)

    def quantize(self, node, ins, ctx):
        x = ins[0]
        a = node.attrs
        q = x.qtype
        return q, self._avg_params(node, x, PoolKind.AVG, a["kernel"], a["stride"], a["padding"], q)


@register
class GlobalAvgPoolOp(LaneFolded, _PoolOp):
    """``nn.AdaptiveAvgPool2d(1)`` / ``F.adaptive_avg_pool2d(x, 1)``: one accumulator per channel;
    the requant of the frame's sums (one multiplier for every channel) folds by ``lanes``."""
    name = "global_avgpool"
    fuses_clamp = True

    def can_fold(self, p):
        return len(set(p.requant.channel_mult(p.in_shape[2]))) == 1

    def cycles(self, p, opts=None):
        H, W, _ = p.in_shape
        return max(H * W, self.groups(p))      # the sums' requant overlaps the next frame

    def row_fifo(self, p):
        return _PoolOp.row_fifo(self, p)

    def hardware(self, p, opts):
        return _PoolOp.hardware(self, p, opts)

    def estimate(self, p):
        full = _PoolOp.estimate(self, p)
        if p.lanes == p.in_shape[2]:
            return full
        C, sb = p.in_shape[2], p.sum_bits
        return dict(mult=p.lanes, lut=C * sb + p.lanes * (sb + MULT_BITS) + C * (sb + p.out_type.bits),
                    ff=3 * C * sb + p.lanes * (sb + MULT_BITS) + C * p.out_type.bits, mem_bits=0)

    def torch_modules(self):
        import torch.nn as nn
        return (nn.AdaptiveAvgPool2d,)

    def torch_functions(self):
        import torch.nn.functional as F
        return (F.adaptive_avg_pool2d,)

    def _match(self, path, out):
        if pair(out) != (1, 1):
            fail(f"nn.AdaptiveAvgPool2d({out})", path, "only output size 1 (global average) is supported")
        return Match({})

    def from_module(self, ctx, n, m, path):
        return self._match(path, m.output_size)

    def from_function(self, ctx, n, f, path):
        return self._match(path, arg(n, 1, "output_size"))

    def float_exec(self, node, args):
        return apply_clamp(args[0].mean(axis=(0, 1), keepdims=True), node.attrs)

    def quantize(self, node, ins, ctx):
        x = ins[0]
        q = x.qtype
        return q, self._avg_params(node, x, PoolKind.GLOBAL_AVG, x.shape[:2], None, 0, q)

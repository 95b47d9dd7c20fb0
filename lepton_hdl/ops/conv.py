"""Convolution (dense, grouped, depthwise) and the linear layer (a convolution whose kernel
covers its whole input): pad -> sliding window -> MAC array (pe x simd) -> requant."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..arith import IntType, MAX_ACC_BITS, MULT_BITS, check_bits, quantize_multipliers, signed_bits_for, weight_range
from ..csrc import (INTERIOR_MAX_TAPS, INTERIOR_MIN_PIXELS, array, full_taps, range_taps, rq_call, rq_tuned,
                    window_loop, window_ranges)
from ..params import (Requant, Windowed, apply_requant, check_input, frozen_array, pair_of, shape3,
                      windows)
from .base import (Match, Op, OpParams, apply_clamp, fail, pair, quantize_weights, register, to_np)


@dataclass(frozen=True, eq=False)
class Conv2dParams(Windowed, OpParams):
    """A convolution (or a linear layer seen as a convolution over its whole input).

    ``weight`` is ``(C_out, kh, kw, C_in / groups)`` integer, ``bias`` ``(C_out,)`` integer in
    accumulator units. ``pe`` output channels are computed in parallel, each from ``simd``
    products per cycle.
    """
    in_shape: tuple
    in_type: IntType
    weight: np.ndarray
    bias: np.ndarray
    requant: Requant
    w_bits: int = 8
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    groups: int = 1
    pe: int = 1
    simd: int = 1
    name: str = "conv"
    runtime: bool = False      # weights in RAM: widths for any weights and biases of these bits

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("in_shape", shape3(self.in_shape))
        set_("stride", pair_of(self.stride, "stride"))
        set_("padding", pair_of(self.padding, "padding"))
        check_bits("w_bits", self.w_bits)
        check_bits("input bits", self.in_type.bits)
        w = np.asarray(self.weight)
        if w.ndim != 4:
            raise ValueError(f"{self.name}: weight must be (C_out, kh, kw, C_in/groups), got {w.shape}")
        set_("weight", frozen_array(w))
        set_("bias", frozen_array(np.broadcast_to(np.asarray(self.bias), (w.shape[0],))))
        H, W, C = self.in_shape
        cout, kh, kw, cig = w.shape
        g = int(self.groups)
        if g < 1 or C % g or cout % g:
            raise ValueError(f"{self.name}: groups={self.groups} must divide C_in={C} and C_out={cout}")
        if cig * g != C:
            raise ValueError(f"{self.name}: weight has {cig} input channels per group, "
                             f"expected C_in/groups = {C // g}")
        if min(self.stride) < 1:
            raise ValueError(f"{self.name}: stride={self.stride} must be >= 1")
        if min(self.padding) < 0:
            raise ValueError(f"{self.name}: padding={self.padding} must be >= 0")
        Hp, Wp = H + 2 * self.padding[0], W + 2 * self.padding[1]
        if kh > Hp or kw > Wp:
            raise ValueError(f"{self.name}: kernel=({kh}, {kw}) is larger than the padded input "
                             f"({Hp}, {Wp})")
        wr = weight_range(self.w_bits)
        if w.size and (w.min() < -wr or w.max() > wr):
            raise ValueError(f"{self.name}: weights [{w.min()}, {w.max()}] exceed the symmetric "
                             f"{self.w_bits}-bit range [-{wr}, {wr}]")
        if not (isinstance(self.pe, (int, np.integer)) and self.pe >= 1 and cout % self.pe == 0):
            raise ValueError(f"{self.name}: pe={self.pe} must be >= 1 and divide C_out={cout}")
        L = kh * kw * cig
        if not (isinstance(self.simd, (int, np.integer)) and self.simd >= 1 and L % self.simd == 0):
            raise ValueError(f"{self.name}: simd={self.simd} must be >= 1 and divide the dot-product "
                             f"length kh*kw*C_in/groups = {L}")
        self.requant.channel_mult(cout)
        if self.runtime and self.bias.size and int(np.abs(self.bias).max()) > self.bias_bound:
            raise ValueError(f"{self.name}: bias up to {int(np.abs(self.bias).max())} exceeds the "
                             f"{self.bias_bound} a layer with weights in RAM holds")
        if self.acc_bits > MAX_ACC_BITS:
            raise ValueError(f"{self.name}: accumulator would need {self.acc_bits} bits "
                             f"(> {MAX_ACC_BITS})")

    # -- shapes --------------------------------------------------------------------------
    @property
    def kernel(self) -> tuple:
        return tuple(self.weight.shape[1:3])

    @property
    def out_channels(self) -> int:
        return self.weight.shape[0]

    @property
    def out_shape(self) -> tuple:
        return self.window_out(self.out_channels)

    @property
    def out_type(self) -> IntType:
        return self.requant.out

    @property
    def dot_len(self) -> int:
        """Length of one output channel's dot product."""
        return self.kernel[0] * self.kernel[1] * self.weight.shape[3]

    @property
    def nf(self) -> int:
        return self.out_channels // self.pe

    @property
    def sf(self) -> int:
        return self.dot_len // self.simd

    @property
    def cycles_per_window(self) -> int:
        return self.nf * self.sf

    @property
    def mac_cycles(self) -> int:
        """Cycles the MAC array alone needs per frame (its utilisation bound)."""
        Ho, Wo, _ = self.out_shape
        return Ho * Wo * self.cycles_per_window

    # -- arithmetic ----------------------------------------------------------------------
    @property
    def acc_bound(self) -> int:
        """Largest |accumulator| any input of ``in_type`` can produce (bias included); with
        weights in RAM, for any weights of ``w_bits`` and a bias up to ``bias_bound``."""
        xa = self.in_type.max_abs
        if self.runtime:
            return self.dot_len * weight_range(self.w_bits) * xa + self.bias_bound
        per = np.abs(self.weight).reshape(self.out_channels, -1).sum(axis=1) * xa + np.abs(self.bias)
        return int(per.max(initial=0))

    @property
    def bias_bound(self) -> int:
        """Weights in RAM: the largest |bias| the build holds (as large as the dot product's
        own range)."""
        return self.dot_len * weight_range(self.w_bits) * self.in_type.max_abs

    @property
    def acc_bits(self) -> int:
        b = self.acc_bound
        return signed_bits_for(-b, b)

    def with_folding(self, pe: int, simd: int) -> "Conv2dParams":
        return replace(self, pe=pe, simd=simd)


def linear_params(in_shape, in_type, weight, bias, requant, w_bits=8, pe=1, simd=1,
                  name="linear", runtime=False) -> Conv2dParams:
    """A linear layer over a stream of shape ``in_shape`` (H, W, C) flattened channels-last.

    ``weight`` is ``(out_features, H*W*C)`` with inputs in (h, w, c) order. In hardware it is a
    convolution whose kernel is the whole input, so no flatten buffer is needed.
    """
    H, W, C = shape3(in_shape)
    weight = np.asarray(weight)
    if weight.ndim != 2 or weight.shape[1] != H * W * C:
        raise ValueError(f"{name}: weight shape {weight.shape} does not match in_features "
                         f"{H * W * C} of input {in_shape}")
    w4 = weight.reshape(weight.shape[0], H, W, C)
    return Conv2dParams(in_shape=(H, W, C), in_type=in_type, weight=w4, bias=bias,
                        requant=requant, w_bits=w_bits, pe=pe, simd=simd, name=name, runtime=runtime)


def conv_accumulate(x: np.ndarray, p: Conv2dParams) -> np.ndarray:
    """Integer accumulators (bias included) of a convolution, ``(Ho, Wo, C_out)`` int64."""
    from ..errors import InvariantError
    x = check_input(x, p.in_shape, p.in_type, p.name)
    win = windows(x, p.kernel, p.stride, p.padding)
    Ho, Wo = win.shape[:2]
    g, cout = p.groups, p.out_channels
    cig, cog = p.in_shape[2] // g, cout // g
    acc = np.empty((Ho, Wo, cout), dtype=np.int64)
    for gi in range(g):
        cols = win[..., gi * cig:(gi + 1) * cig].reshape(Ho * Wo, -1)
        wg = p.weight[gi * cog:(gi + 1) * cog].reshape(cog, -1)
        acc[..., gi * cog:(gi + 1) * cog] = (cols @ wg.T).reshape(Ho, Wo, cog)
    acc += p.bias
    if np.abs(acc).max(initial=0) > p.acc_bound:
        raise InvariantError(f"{p.name}: accumulator exceeded its derived bound {p.acc_bound}")
    return acc


def _float_conv(x, a):
    w = a["weight"]                          # (Cout, kh, kw, Cig)
    cout, kh, kw, cig = w.shape
    win = windows(x, (kh, kw), a["stride"], a["padding"])
    Ho, Wo = win.shape[:2]
    g = a["groups"]
    cog = cout // g
    out = np.empty((Ho, Wo, cout))
    for gi in range(g):
        cols = win[..., gi * cig:(gi + 1) * cig].reshape(Ho * Wo, -1)
        out[..., gi * cog:(gi + 1) * cog] = (cols @ w[gi * cog:(gi + 1) * cog].reshape(cog, -1).T).reshape(Ho, Wo, cog)
    return out + a["bias"]


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def given_weights(m, path, layout):
    """``(integer weights in the stream layout, per-output-channel scale, bits)`` of a layer whose
    weights were quantised before compilation (``m.weight_quant = dict(int=, scale=, bits=)``:
    a QONNX ``Quant`` on them, or quantisation-aware training), checked against its float
    weights; None for a float layer."""
    wq = getattr(m, "weight_quant", None)
    if wq is None:
        return None
    q = np.asarray(wq["int"], dtype=np.int64)
    bits = int(wq["bits"])
    scale = np.broadcast_to(np.asarray(wq["scale"], dtype=np.float64).reshape(-1), (q.shape[0],)).copy() \
        if np.asarray(wq["scale"]).size in (1, q.shape[0]) else None
    if scale is None or q.shape != tuple(m.weight.shape):
        fail("given weight quantization", path, f"scales of shape {np.shape(wq['scale'])} for weights "
             f"{tuple(m.weight.shape)}: one scale, or one per output channel")
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if q.min(initial=0) < lo or q.max(initial=0) > hi:
        fail("given weight quantization", path, f"integers outside {bits}-bit signed range")
    w = to_np(m.weight)
    if not np.allclose(q * scale.reshape((-1,) + (1,) * (q.ndim - 1)), w, rtol=1e-5, atol=1e-7):
        fail("given weight quantization", path, "the layer's float weights are not its integers times its scales")
    return (layout(q), scale, bits)


@register
class ConvOp(Op):
    """``nn.Conv2d`` (zero padding, dilation 1, any kernel, stride, groups)."""
    runtime_params = True
    name = "conv2d"
    params_type = Conv2dParams
    fuses_clamp = True
    absorbs_affine = True

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Conv2d,)

    def from_module(self, ctx, n, m, path):
        if tuple(m.dilation) != (1, 1):
            fail(f"nn.Conv2d(dilation={tuple(m.dilation)})", path, "only dilation=1 is supported")
        if m.padding_mode != "zeros":
            fail(f"nn.Conv2d(padding_mode={m.padding_mode!r})", path, "only zero padding is supported")
        k = tuple(m.kernel_size)
        pad = m.padding
        if isinstance(pad, str):
            if pad == "valid":
                pad = (0, 0)
            elif all(x % 2 == 1 for x in k) and tuple(m.stride) == (1, 1):
                pad = (k[0] // 2, k[1] // 2)
            else:
                fail("nn.Conv2d(padding='same')", path, "'same' needs odd kernels and stride 1")
        w = to_np(m.weight).transpose(0, 2, 3, 1)  # (Cout, kh, kw, Cin/g)
        b = to_np(m.bias) if m.bias is not None else np.zeros(w.shape[0])
        attrs = dict(weight=w, bias=b, stride=pair(m.stride), padding=pair(pad), groups=int(m.groups))
        given = given_weights(m, path, lambda q: q.transpose(0, 2, 3, 1))
        if given is not None:
            attrs["given_w"] = given
        return Match(attrs)

    def float_exec(self, node, args):
        return apply_clamp(_float_conv(args[0], node.attrs), node.attrs)

    def absorb_affine(self, node, scale, shift):
        if "given_w" in node.attrs:
            fail("BatchNorm after a layer with given integer weights", node.label,
                 "folding it would move the weights off their grid: fold BatchNorm before quantising (export)")
        a = dict(node.attrs)
        w = a["weight"]
        a["weight"] = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        a["bias"] = a["bias"] * scale + shift
        return a

    def quantize(self, node, ins, ctx):
        x = ins[0]
        a = node.attrs
        q = ctx.tensor(node, a.get("clamp"))
        wq, sw = ctx.weights(node, a["weight"])
        bq = np.floor(a["bias"] / (x.qtype.scale * sw) + 0.5).astype(np.int64)
        mult, shift = ctx.requant_multipliers(node, x.qtype.scale * sw / q.scale)
        clamp = a.get("clamp")
        rq = Requant(mult, shift, q.type, *(clamp.int_bounds(q) if clamp else (None, None)))
        return q, self.make_params(x, wq, bq, rq, ctx.w_bits, node, ctx.runtime)

    def make_params(self, x, wq, bq, rq, w_bits, node, runtime=False):
        a = node.attrs
        return Conv2dParams(x.shape, x.qtype.type, wq, bq, rq, w_bits=w_bits, stride=a["stride"],
                            padding=a["padding"], groups=a["groups"], name=node.label, runtime=runtime)

    # -- the quantized block ----------------------------------------------------------------
    def golden(self, p, x):
        return apply_requant(conv_accumulate(x, p), p.requant)

    def macs(self, p):
        Ho, Wo, _ = p.out_shape
        return Ho * Wo * p.out_channels * p.dot_len

    def cycles(self, p, opts=None):
        """The input side (one padded pixel a cycle) or the window generator feeding the MAC
        array (``nf * sf`` cycles a window, through the skid buffer the options put between
        them), whichever is slower; a layer whose kernel covers the frame collects it, then runs
        its steps."""
        from ..hw.conv import channel_window, line_window, window_skid
        from ..hw.mac import MACArray
        from ..hw.options import HwOptions
        from ..hw.window import ChannelWindow, SlidingWindow, chunk_plan
        Hp, Wp, _ = p.padded_shape
        opts = opts or HwOptions()
        if p.collects_frame:
            return MACArray.serial_cycles(Hp * Wp, p.cycles_per_window)
        if line_window(p):                    # a pixel a cycle, padding and row turns free
            return p.in_shape[0] * p.in_shape[1]
        if channel_window(p, opts):           # a step a cycle, row turns free when rows are in
            return ChannelWindow.frame_cycles(p.padded_shape, p.kernel, p.stride, p.cycles_per_window,
                                              chunk_plan(p).words)
        return SlidingWindow.frame_cycles(p.padded_shape, p.kernel, p.stride, p.cycles_per_window,
                                          skid=window_skid(p, opts))

    def latency(self, p):
        from ..hw.conv import channel_window, line_window
        from ..hw.mac import MACArray
        from ..hw.options import HwOptions
        from ..hw.window import LineWindow, chunk_plan
        Hp, Wp, _ = p.padded_shape
        kh, kw = p.kernel
        if line_window(p):
            return LineWindow.lag(p.in_shape, p.kernel, p.padding) + 4 + MACArray.latency_of(p) + 4
        if channel_window(p, HwOptions()):
            # the first output row's rows written a chunk a cycle, then a window's steps
            rows = max(kh, p.stride[0])
            return rows * Wp * chunk_plan(p).words + p.cycles_per_window + MACArray.latency_of(p) + 6
        return kh * Wp + kw + 2 * p.cycles_per_window + MACArray.latency_of(p) + 4

    def buffering(self, p):
        from ..hw.conv import line_window
        from ..hw.window import ring_rows
        Hp, Wp, _ = p.padded_shape
        if p.collects_frame:
            return Hp * Wp + 8
        if line_window(p):
            return (p.kernel[0] - 1) * p.in_shape[1] + p.kernel[1] + 8
        return ring_rows(p.kernel, p.stride) * Wp + 8

    def row_fifo(self, p):
        # a layer that collects whole frames (linear) takes no input while it computes: a frame
        # of FIFO keeps its producer running meanwhile; others get two input rows (one row was
        # measured too little: residual at 1024 multipliers ran 140 cycles against 136)
        from ..hw.conv import line_window
        Hp, Wp, _ = p.padded_shape
        if line_window(p):
            return 0          # takes a pixel every cycle, never in bursts: nothing to smooth
        return Hp * Wp if p.collects_frame else 2 * p.in_shape[1]

    def estimate(self, p):
        from ..hw.window import ring_rows
        kh, kw = p.kernel
        Hp, Wp, C = p.padded_shape
        ib, wb, ob = p.in_type.bits, p.w_bits, p.out_type.bits
        win_bits = kh * kw * C * ib
        lanes = p.pe * p.simd
        mult = lanes + p.pe
        # operand mux (per distinct lane table), adder trees, accumulators, requant
        mux = (1 if p.groups == 1 else p.pe) * p.simd * ib * max(p.sf // 2, 1)
        lut = mux + lanes * (ib + wb) + p.pe * (p.acc_bits * 2 + MULT_BITS + ob) + 60
        ff = 2 * win_bits + lanes * (ib + wb + ib + wb) + p.pe * (3 * p.acc_bits + MULT_BITS) + p.out_channels * ob
        from ..hw.conv import line_window
        rows = (kh - 1) if line_window(p) else ring_rows(p.kernel, p.stride)
        mem = p.weight.size * wb + rows * (p.in_shape[1] if line_window(p) else Wp) * C * ib
        if p.runtime:                # weights in RAM: the bias and multiplier memories too
            mem += p.out_channels * (p.acc_bits + MULT_BITS)
        return dict(mult=mult, lut=int(lut), ff=int(ff), mem_bits=int(mem))

    def hardware(self, p, opts):
        from ..hw.conv import Conv2d
        return Conv2d(p, opts)

    def c_function(self, p, f, in_ctypes, y):
        x = in_ctypes[0]
        H, W, C = p.in_shape
        Ho, Wo, Co = p.out_shape
        (kh, kw), (ph, pw) = p.kernel, p.padding
        cig, cog = C // p.groups, Co // p.groups
        acc_t = "int32_t" if p.acc_bits <= 32 else "int64_t"
        wt = "int8_t" if p.w_bits <= 8 else "int16_t"
        rq = p.requant
        single_m = len(set(rq.channel_mult(Co))) == 1
        data = array(wt, f"{f}_w", p.weight) + array("int32_t", f"{f}_b", p.bias)
        if not single_m:
            data += array("int32_t", f"{f}_m", rq.channel_mult(Co))
        m = str(rq.channel_mult(Co)[0]) if single_m else f"{f}_m[o]"
        if (kh, kw) == (H, W) and (ph, pw) == (0, 0) and p.groups == 1:
            L = H * W * C
            return data + f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int o = 0; o < {Co}; o++) {{
    const {wt} *w = {f}_w + o * {L};
    {acc_t} acc = {f}_b[o];
    for (int i = 0; i < {L}; i++) acc += ({acc_t})x[i] * w[i];
    y[o] = {rq_call("acc", m, rq.shift, rq.lo, rq.hi)};
  }}
}}
"""
        taps = window_loop(H, W, p.kernel, p.stride, p.padding, [
            f"const {x} *xp = x + (iy * {W} + ix) * {C} + c0;",
            f"const {wt} *wp = w + (ky * {kw} + kx) * {cig};",
            f"for (int j = 0; j < {cig}; j++) acc += ({acc_t})xp[j] * wp[j];"], 8)
        return data + f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {Ho}; oy++)
    for (int ox = 0; ox < {Wo}; ox++) {{
      {y} *yp = y + (oy * {Wo} + ox) * {Co};
      for (int o = 0; o < {Co}; o++) {{
        const {wt} *w = {f}_w + o * {kh * kw * cig};
        const int c0 = (o / {cog}) * {cig};
        {acc_t} acc = {f}_b[o];
{taps}        yp[o] = {rq_call("acc", m, rq.shift, rq.lo, rq.hi)};
      }}
    }}
}}
"""

    def c_tuned(self, p, f, plain, in_ctypes, y):
        x = in_ctypes[0]
        H, W, C = p.in_shape
        Ho, Wo, Co = p.out_shape
        (kh, kw), (ph, pw) = p.kernel, p.padding
        if (kh, kw) == (H, W) and (ph, pw) == (0, 0) and p.groups == 1:
            return None                 # one dot product a channel: the plain loop is that
        cig, cog = C // p.groups, Co // p.groups
        acc_t = "int32_t" if p.acc_bits <= 32 else "int64_t"
        wt = "int8_t" if p.w_bits <= 8 else "int16_t"
        rq = p.requant
        mults = rq.channel_mult(Co)
        single_m = len(set(mults)) == 1
        # the requant as a careful C programmer writes it: common factors of two out of the
        # multiplier and shift, 32-bit arithmetic when it cannot overflow
        call, ms = rq_tuned(p.acc_bound if acc_t == "int32_t" else 2 ** 62, mults, rq.shift, rq.lo, rq.hi,
                            mult_expr=None if single_m else f"{f}_m[o]")
        table = "" if single_m else array("int32_t", f"{f}_m", ms)
        c0 = "" if p.groups == 1 else f" + (o / {cog}) * {cig}"
        mac = f"acc += ({acc_t})xp[j] * wp[j];"
        tap = [f"const {wt} *wp = w + (ky * {kw} + kx) * {cig};", f"for (int j = 0; j < {cig}; j++) {mac}"]

        def pixel(taps):
            return [f"{y} *yp = y + (oy * {Wo} + ox) * {Co};",
                    f"for (int o = 0; o < {Co}; o++) {{",
                    f"  const {wt} *w = {plain}_w + o * {kh * kw * cig};",
                    f"  {acc_t} acc = {plain}_b[o];",
                    *taps,
                    f"  yp[o] = {call};",
                    "}"]
        # each pixel's in-bounds taps (no check per tap); each tap's channel loop has a constant
        # trip count, which GCC unrolls (one row-long loop would exceed its complete-unroll limit);
        # a large frame with a small window also gets an unrolled body for its interior pixels
        body = pixel(range_taps(x, W, C, tap, c0))
        interior = None
        if Ho * Wo >= INTERIOR_MIN_PIXELS and kh * kw * cig <= INTERIOR_MAX_TAPS:
            interior = pixel(full_taps(x, W, C, p.kernel, tap, c0))
        return f"""{table}
static void {f}(const {x} *restrict x, {y} *restrict y) {{
{window_ranges(H, W, (Ho, Wo), p.kernel, p.stride, p.padding, body, interior=interior)}}}
"""

    # -- folding ------------------------------------------------------------------------------
    def foldings(self, p):
        """Every (pe, simd): pe divides C_out, simd the dot-product length; cheapest first:
        by multipliers (``pe * simd`` products plus ``pe`` requant multipliers) plus, where the
        window goes whole into an operand register (no ``ChannelWindow``: ``simd`` not dividing
        ``C_in``), one multiplier's worth of logic for every ``WINDOW_BITS_PER_MULT`` bits of the
        window (the window and operand registers and the operand multiplexer: measured with
        ``bench/layer.py``, about 2.1 LUTs and 2.0 flip-flops a window bit more than the channel
        window, DS-CNN's 64-channel 3x3 depthwise layer), then pe, then simd."""
        from ..hw.conv import channel_window, line_window
        from ..hw.options import HwOptions
        out = []
        for pe in _divisors(p.out_channels):
            for simd in _divisors(p.dot_len):
                q = p.with_folding(pe, simd)
                cost = pe * simd + pe
                if not (q.collects_frame or line_window(q) or channel_window(q, HwOptions())):
                    cost += q.dot_len * q.groups * q.in_type.bits // WINDOW_BITS_PER_MULT
                out.append((cost, pe, simd, q))
        out.sort(key=lambda t: t[:3])
        return [t[3] for t in out]

    def folding(self, p):
        return dict(pe=p.pe, simd=p.simd)

    def with_folding(self, p, *values):
        from ..errors import ParallelismError
        if len(values) != 2:
            raise ParallelismError(f"layer '{p.name}' ({self.name}) folds by pe and simd: give LAYER=PE,SIMD")
        pe, simd = values
        try:
            return p.with_folding(int(pe), int(simd))
        except ValueError as e:
            raise ParallelismError(f"layer '{p.name}': pe={pe}, simd={simd} is impossible ({e}). "
                                   f"pe must divide {p.out_channels}: {_divisors(p.out_channels)}; simd must "
                                   f"divide {p.dot_len}: {_divisors(p.dot_len)}") from None


# a LUT multiplier of 8 x 8 bits is about 70 ECP5 LUTs; a window bit held whole costs about
# 2.1 more (ConvOp.foldings)
WINDOW_BITS_PER_MULT = 32


@register
class LinearOp(ConvOp):
    """``nn.Linear`` on a flattened map or vector: in hardware a convolution whose kernel is the
    whole input (the MAC array collects the frame; no flatten buffer)."""
    name = "linear"
    params_type = None            # runs as Conv2dParams

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Linear,)

    def torch_functions(self):
        return ()

    def from_module(self, ctx, n, m, path):
        b = to_np(m.bias) if m.bias is not None else np.zeros(m.out_features)
        inp = ctx.ir(ctx.src(n.args[0]))
        H, W, C = inp.shape
        w = to_np(m.weight)
        if not inp.flat:
            fail("nn.Linear on a feature map", path, "flatten the (C, H, W) map first")
        if w.shape[1] != H * W * C:
            fail("nn.Linear", path, f"in_features={w.shape[1]} but the input has {H * W * C}")
        # torch flattens (c, h, w); the stream delivers (h, w, c).
        w = w.reshape(w.shape[0], C, H, W).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        attrs = dict(weight=w, bias=b)
        given = given_weights(m, path, lambda q: q.reshape(q.shape[0], C, H, W).transpose(0, 2, 3, 1)
                              .reshape(q.shape[0], -1))
        if given is not None:
            attrs["given_w"] = given
        return Match(attrs)

    def float_exec(self, node, args):
        a = node.attrs
        y = args[0].reshape(-1) @ a["weight"].T + a["bias"]
        return apply_clamp(y.reshape(1, 1, -1), a)

    def make_params(self, x, wq, bq, rq, w_bits, node, runtime=False):
        return linear_params(x.shape, x.qtype.type, wq, bq, rq, w_bits=w_bits, name=node.label, runtime=runtime)

"""One typed, frozen parameter object per layer.

The same object feeds the golden op (``lepton_hdl.golden``), the Migen generator
(``lepton_hdl.hw``) and the firmware C header. Derived figures (output shape, accumulator
width, cycles per frame, latency) are properties. Constructors validate and raise
``ValueError`` naming the bad value.

Tensors are channels-last: a feature map is ``(H, W, C)``; a stream carries one pixel
(all ``C`` channels) per beat, row-major.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .arith import (IntType, MULT_BITS, MAX_ACC_BITS, check_bits, signed_bits_for,
                    weight_range)

# Pipeline depths of the generators (registers between sink and source, excluding waits
# for data). The block tests check measured timing against these.
MAC_DEPTH = 8
POOL_DEPTH = {"max": 2, "avg": 4, "global_avg": 3}
ADD_DEPTH = 2
REQUANT_DEPTH = 2


def window_cycles(padded_shape, kernel, stride, per_window: int) -> int:
    """Cycles per frame of the sliding-window generator feeding a consumer that needs
    ``per_window`` cycles per window.

    The writer stores one padded pixel a cycle (``Hp * Wp``). The reader, per output row,
    shifts ``kw`` columns for the first window (plus one cycle to release rows) and ``sw``
    for each next one, while the consumer spends ``per_window`` cycles on each window.
    """
    Hp, Wp = padded_shape[:2]
    (kh, kw), (sh, sw) = kernel, stride
    Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    row = max(kw + 1, per_window) + (Wo - 1) * max(per_window, sw)
    return max(Hp * Wp, Ho * row)


class _Windowed:
    """Shape figures shared by the blocks built on the sliding window (conv, pools)."""

    @property
    def padded_shape(self) -> tuple:
        H, W, C = self.in_shape
        return H + 2 * self.padding[0], W + 2 * self.padding[1], C

    @property
    def collects_frame(self) -> bool:
        """The kernel covers the whole padded frame (a linear layer): no line buffer; the MAC
        array collects the frame (conv), or a frame collector does (pool)."""
        return tuple(self.kernel) == tuple(self.padded_shape[:2])

    def _window_out(self, channels) -> tuple:
        Hp, Wp, _ = self.padded_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return (Hp - kh) // sh + 1, (Wp - kw) // sw + 1, channels


def _pair(v, name) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v), int(v))
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{name}={v!r}: expected an int or a pair")
    return v


def _frozen(a, dtype=np.int64) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


def _shape3(shape, name="in_shape") -> tuple[int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name}={shape!r}: expected (H, W, C) with every dimension >= 1")
    return shape


@dataclass(frozen=True)
class Requant:
    """``clamp((acc * mult[c] + R) >> shift, lo, hi)``; the result has type ``out``.

    ``lo``/``hi`` are the activation's clamp (ReLU: ``lo=0``; ReLU6: ``hi=round(6/scale)``),
    always inside ``out``'s range.
    """
    mult: tuple
    shift: int
    out: IntType
    lo: Optional[int] = None
    hi: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "mult", tuple(int(m) for m in np.atleast_1d(self.mult)))
        lim = (1 << (MULT_BITS - 1)) - 1
        for m in self.mult:
            if not 0 <= m <= lim:
                raise ValueError(f"requant multiplier {m} outside [0, {lim}]")
        if not 0 <= self.shift <= 62:
            raise ValueError(f"requant shift={self.shift} outside [0, 62]")
        lo = self.out.qmin if self.lo is None else max(int(self.lo), self.out.qmin)
        hi = self.out.qmax if self.hi is None else min(int(self.hi), self.out.qmax)
        if lo > hi:
            raise ValueError(f"requant clamp lo={lo} > hi={hi}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    def channel_mult(self, channels: int) -> tuple:
        if len(self.mult) == 1:
            return self.mult * channels
        if len(self.mult) != channels:
            raise ValueError(f"requant has {len(self.mult)} multipliers for {channels} channels")
        return self.mult


@dataclass(frozen=True, eq=False)
class Conv2dParams(_Windowed):
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
    op: str = "conv2d"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("in_shape", _shape3(self.in_shape))
        set_("stride", _pair(self.stride, "stride"))
        set_("padding", _pair(self.padding, "padding"))
        check_bits("w_bits", self.w_bits)
        check_bits("input bits", self.in_type.bits)
        w = np.asarray(self.weight)
        if w.ndim != 4:
            raise ValueError(f"{self.name}: weight must be (C_out, kh, kw, C_in/groups), got {w.shape}")
        set_("weight", _frozen(w))
        set_("bias", _frozen(np.broadcast_to(np.asarray(self.bias), (w.shape[0],))))
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
        return self._window_out(self.out_channels)

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

    # -- arithmetic ----------------------------------------------------------------------
    @property
    def acc_bound(self) -> int:
        """Largest |accumulator| any input of ``in_type`` can produce (bias included)."""
        xa = self.in_type.max_abs
        per = np.abs(self.weight).reshape(self.out_channels, -1).sum(axis=1) * xa + np.abs(self.bias)
        return int(per.max(initial=0))

    @property
    def acc_bits(self) -> int:
        b = self.acc_bound
        return signed_bits_for(-b, b)

    # -- timing --------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        Ho, Wo, _ = self.out_shape
        return Ho * Wo * self.out_channels * self.dot_len

    @property
    def cycles_per_window(self) -> int:
        return self.nf * self.sf

    @property
    def cycles(self) -> int:
        """Cycles per frame at the nominal rate: the input side (one padded pixel a cycle)
        or the MAC array (``nf * sf`` cycles per window, plus the window generator's row
        start), whichever is slower. See ``window_cycles``."""
        if self.collects_frame:    # the MAC collects a frame, then runs its steps
            Hp, Wp, _ = self.padded_shape
            return Hp * Wp + self.cycles_per_window - 1
        return window_cycles(self.padded_shape, self.kernel, self.stride, self.cycles_per_window)

    @property
    def mac_cycles(self) -> int:
        """Cycles the MAC array alone needs per frame (its utilisation bound)."""
        Ho, Wo, _ = self.out_shape
        return Ho * Wo * self.cycles_per_window

    @property
    def latency(self) -> int:
        """Upper bound on the cycles a single frame takes beyond ``cycles`` (window fill,
        the last window's fold, the pipeline depth)."""
        Hp, Wp, _ = self.padded_shape
        kh, kw = self.kernel
        return kh * Wp + kw + 2 * self.cycles_per_window + MAC_DEPTH + 4

    def with_folding(self, pe: int, simd: int) -> "Conv2dParams":
        from dataclasses import replace
        return replace(self, pe=pe, simd=simd)


def linear_params(in_shape, in_type, weight, bias, requant, w_bits=8, pe=1, simd=1,
                  name="linear") -> Conv2dParams:
    """A linear layer over a stream of shape ``in_shape`` (H, W, C) flattened channels-last.

    ``weight`` is ``(out_features, H*W*C)`` with inputs in (h, w, c) order. In hardware it is a
    convolution whose kernel is the whole input, so no flatten buffer is needed.
    """
    H, W, C = _shape3(in_shape)
    weight = np.asarray(weight)
    if weight.ndim != 2 or weight.shape[1] != H * W * C:
        raise ValueError(f"{name}: weight shape {weight.shape} does not match in_features "
                         f"{H * W * C} of input {in_shape}")
    w4 = weight.reshape(weight.shape[0], H, W, C)
    return Conv2dParams(in_shape=(H, W, C), in_type=in_type, weight=w4, bias=bias,
                        requant=requant, w_bits=w_bits, pe=pe, simd=simd, name=name,
                        op="linear")


@dataclass(frozen=True, eq=False)
class PoolParams(_Windowed):
    """Max pool, average pool (k x k, zero padding counted) or global average pool.

    Average pools sum the window and requantize the sum (``requant``, one multiplier for every
    channel: ``round(2**S * s_in / (s_out * kh * kw))``); max pool needs no requant.
    """
    in_shape: tuple
    in_type: IntType
    kind: str
    kernel: tuple = (2, 2)
    stride: Optional[tuple] = None
    padding: tuple = (0, 0)
    requant: Optional[Requant] = None
    name: str = "pool"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("in_shape", _shape3(self.in_shape))
        H, W, C = self.in_shape
        if self.kind not in ("max", "avg", "global_avg"):
            raise ValueError(f"{self.name}: kind={self.kind!r}; supported: 'max', 'avg', 'global_avg'")
        if self.kind == "global_avg":
            set_("kernel", (H, W))
            set_("padding", (0, 0))
            set_("stride", (1, 1))
        set_("kernel", _pair(self.kernel, "kernel"))
        set_("stride", self.kernel if self.stride is None else _pair(self.stride, "stride"))
        set_("padding", _pair(self.padding, "padding"))
        kh, kw = self.kernel
        if min(self.kernel) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.name}: kernel={self.kernel}, stride={self.stride}, "
                             f"padding={self.padding} must be positive")
        if self.padding[0] > kh // 2 or self.padding[1] > kw // 2:
            raise ValueError(f"{self.name}: padding={self.padding} must be at most half the kernel {self.kernel}")
        Hp, Wp, _ = self.padded_shape
        if kh > Hp or kw > Wp:
            raise ValueError(f"{self.name}: kernel={self.kernel} is larger than the padded input ({Hp}, {Wp})")
        if self.kind == "max":
            if self.requant is not None:
                raise ValueError(f"{self.name}: max pool takes no requant")
        elif self.requant is None:
            raise ValueError(f"{self.name}: {self.kind} pool needs a requant")
        else:
            self.requant.channel_mult(C)

    @property
    def out_shape(self) -> tuple:
        return self._window_out(self.in_shape[2])

    @property
    def out_type(self) -> IntType:
        return self.in_type if self.kind == "max" else self.requant.out

    @property
    def sum_bits(self) -> int:
        n = self.kernel[0] * self.kernel[1]
        return signed_bits_for(self.in_type.qmin * n, self.in_type.qmax * n)

    @property
    def row_accumulate(self) -> bool:
        """Non-overlapping windows, no padding: pooled by a row of partial results instead of
        a line buffer (``hw.pool.RowPool``)."""
        return self.kind != "global_avg" and self.stride == self.kernel and self.padding == (0, 0)

    @property
    def cycles(self) -> int:
        H, W, _ = self.in_shape
        if self.kind == "global_avg" or self.row_accumulate:
            return H * W
        if self.collects_frame:
            return self.padded_shape[0] * self.padded_shape[1]
        return window_cycles(self.padded_shape, self.kernel, self.stride, 1)

    @property
    def latency(self) -> int:
        if self.kind == "global_avg":
            return POOL_DEPTH[self.kind] + 2
        Hp, Wp, _ = self.padded_shape
        return self.kernel[0] * Wp + self.kernel[1] + POOL_DEPTH[self.kind] + 4


@dataclass(frozen=True, eq=False)
class AddParams:
    """Residual add of two differently-scaled tensors of one shape:
    ``clamp((a * mult_a + b * mult_b + R) >> shift, lo, hi)``. Input ``b`` (the skip) is
    buffered in a FIFO of ``skip_depth`` pixels."""
    shape: tuple
    a_type: IntType
    b_type: IntType
    mult_a: int
    mult_b: int
    shift: int
    out: IntType
    lo: Optional[int] = None
    hi: Optional[int] = None
    skip_depth: int = 2
    name: str = "add"

    def __post_init__(self):
        object.__setattr__(self, "shape", _shape3(self.shape, "shape"))
        rq = Requant((self.mult_a, self.mult_b), self.shift, self.out, self.lo, self.hi)
        object.__setattr__(self, "lo", rq.lo)
        object.__setattr__(self, "hi", rq.hi)
        if self.skip_depth < 1:
            raise ValueError(f"{self.name}: skip_depth={self.skip_depth} must be >= 1")

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
    def cycles(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def latency(self) -> int:
        return ADD_DEPTH + 2


@dataclass(frozen=True, eq=False)
class RequantParams:
    """A standalone requantization / activation on a stream (e.g. a ReLU after an add)."""
    in_shape: tuple
    in_type: IntType
    requant: Requant
    name: str = "requant"

    def __post_init__(self):
        object.__setattr__(self, "in_shape", _shape3(self.in_shape))
        self.requant.channel_mult(self.in_shape[2])

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_type(self):
        return self.requant.out

    @property
    def cycles(self) -> int:
        return self.in_shape[0] * self.in_shape[1]

    @property
    def latency(self) -> int:
        return REQUANT_DEPTH + 2

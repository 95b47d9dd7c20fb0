"""Building blocks of the frozen per-layer parameter objects.

Each op module (``lepton_hdl.ops``) defines its own frozen parameter class from these: the
requant rule, windowed shapes and validating converters. The same object feeds the op's golden
function, its Migen generator and its C code. Constructors validate and raise ``ValueError``
naming the bad value.

Tensors are channels-last: a feature map is ``(H, W, C)``; a stream carries one pixel
(all ``C`` channels) per beat, row-major.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .arith import IntType, MULT_BITS



class Windowed:
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

    def window_out(self, channels) -> tuple:
        Hp, Wp, _ = self.padded_shape
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return (Hp - kh) // sh + 1, (Wp - kw) // sw + 1, channels


def pair_of(v, name) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v), int(v))
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{name}={v!r}: expected an int or a pair")
    return v


def frozen_array(a, dtype=np.int64) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


def shape3(shape, name="in_shape") -> tuple[int, int, int]:
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




# -- golden helpers shared by the ops' integer functions ----------------------------------

def check_input(x: np.ndarray, shape, in_type: IntType, name) -> np.ndarray:
    """``x`` as int64 after checking its shape and that every value fits ``in_type``."""
    x = np.asarray(x)
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name}: input shape {x.shape} != expected {tuple(shape)}")
    return in_type.check(x, f"{name} input")


def apply_requant(acc: np.ndarray, rq: Requant) -> np.ndarray:
    """Requantize ``acc`` (channels on the last axis) with ``rq``."""
    from .arith import requantize
    return requantize(acc, rq.channel_mult(acc.shape[-1]), rq.shift, rq.lo, rq.hi)


def windows(x: np.ndarray, kernel, stride, padding, pad_value=0) -> np.ndarray:
    """All ``kernel`` windows of a padded ``(H, W, C)`` tensor: ``(Ho, Wo, kh, kw, C)``."""
    from numpy.lib.stride_tricks import sliding_window_view
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), constant_values=pad_value)
    win = sliding_window_view(xp, (kh, kw), axis=(0, 1))  # (Hp-kh+1, Wp-kw+1, C, kh, kw)
    win = win[::sh, ::sw]
    return np.moveaxis(win, 2, 4)

"""Integer arithmetic shared by the golden model, the gateware and the firmware C.

Everything here is written down in ``docs/arithmetic.md``; the three implementations must agree
to the bit, so every rounding rule lives in exactly one place:

* A tensor type is ``(bits, signed)``: signed values lie in ``[-2**(b-1), 2**(b-1)-1]``,
  unsigned in ``[0, 2**b - 1]``; the zero point is always 0 (symmetric quantization).
* Weights are symmetric per output channel: ``[-(2**(b-1)-1), 2**(b-1)-1]``.
* Requantization: ``y = clamp((acc * M + R) >> S, qmin, qmax)`` with an integer multiplier
  ``M`` (``0 <= M < 2**(MULT_BITS-1)``), an arithmetic right shift ``S >= 0`` and
  ``R = 2**(S-1)`` if ``S > 0`` else 0: round half up (toward +inf), then saturate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_BITS, MAX_BITS = 2, 8
MULT_BITS = 16          # requant multiplier is a signed 16-bit value, always >= 0
MAX_SHIFT = 47          # keeps acc * M + R inside int64 for every legal acc width
MAX_ACC_BITS = 40


def check_bits(name: str, bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not MIN_BITS <= int(bits) <= MAX_BITS:
        from .errors import InputError
        raise InputError(f"{name}={bits!r} is out of range: bit widths must be integers "
                         f"from {MIN_BITS} to {MAX_BITS}")
    return int(bits)


@dataclass(frozen=True)
class IntType:
    """An integer element type on a stream: ``bits`` wide, ``signed`` or not, zero point 0."""
    bits: int
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.bits, (int, np.integer)) or not 1 <= self.bits <= 64:
            raise ValueError(f"bits={self.bits!r}: an element type needs 1..64 bits")

    @property
    def qmin(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def max_abs(self) -> int:
        return max(-self.qmin, self.qmax)

    def check(self, x: np.ndarray, what: str = "tensor") -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise ValueError(f"{what}: expected an integer array, got dtype {x.dtype}")
        if x.size and (x.min() < self.qmin or x.max() > self.qmax):
            raise ValueError(f"{what}: values [{x.min()}, {x.max()}] exceed {self} "
                             f"range [{self.qmin}, {self.qmax}]")
        return x.astype(np.int64)

    def __str__(self):
        return f"{'s' if self.signed else 'u'}int{self.bits}"


def signed_bits_for(lo: int, hi: int) -> int:
    """Smallest two's-complement width holding every integer in [lo, hi]."""
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def weight_range(bits: int) -> int:
    """Largest weight magnitude for symmetric ``bits``-bit weights."""
    return (1 << (bits - 1)) - 1


def quantize_multipliers(real: np.ndarray, mult_bits: int = MULT_BITS) -> tuple[tuple[int, ...], int]:
    """Express positive reals ``r_c`` as ``M_c / 2**S`` with one shared shift ``S``.

    ``S`` is the largest shift (<= MAX_SHIFT) such that every ``M_c = round(r_c * 2**S)`` fits in
    ``mult_bits - 1`` bits, so the relative error of the largest multiplier is below
    ``2**-(mult_bits-2)``.
    """
    real = np.asarray(real, dtype=np.float64).reshape(-1)
    if real.size == 0 or np.any(real < 0) or not np.all(np.isfinite(real)):
        raise ValueError(f"requant multipliers must be finite and >= 0, got {real}")
    limit = (1 << (mult_bits - 1)) - 1
    rmax = float(real.max())
    if rmax == 0.0:
        return tuple(0 for _ in real), 0
    if rmax > limit:
        raise ValueError(f"requant multiplier {rmax:g} exceeds {limit}: the output scale is "
                         f"too small for the input scale")
    shift = MAX_SHIFT
    while shift > 0 and math.floor(rmax * 2.0 ** shift + 0.5) > limit:
        shift -= 1
    mults = tuple(int(math.floor(r * 2.0 ** shift + 0.5)) for r in real)
    return mults, shift


# weights in RAM: a layer's requant shift is fixed by the build, its multipliers are runtime
# values; quantized this many bits below the multiplier's range, a model loaded later may have
# requant scales up to 2**RAM_HEADROOM_BITS times the built model's
RAM_HEADROOM_BITS = 3


def multipliers_at_shift(real, shift: int, mult_bits: int = MULT_BITS) -> tuple:
    """``M_c = round(r_c * 2**shift)`` for a shift fixed in advance (weights in RAM); raises
    ``ValueError`` when one does not fit ``mult_bits - 1`` bits."""
    real = np.asarray(real, dtype=np.float64).reshape(-1)
    if real.size == 0 or np.any(real < 0) or not np.all(np.isfinite(real)):
        raise ValueError(f"requant multipliers must be finite and >= 0, got {real}")
    limit = (1 << (mult_bits - 1)) - 1
    mults = tuple(int(math.floor(r * 2.0 ** shift + 0.5)) for r in real)
    if max(mults) > limit:
        raise ValueError(f"requant scale {float(real.max()):.3g} needs a multiplier of {max(mults)} at the "
                         f"build's shift {shift}, beyond {limit} ({max(mults) / limit:.1f}x the room the build left)")
    return mults


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """``(x + 2**(shift-1)) >> shift``: round half up, arithmetic shift (int64)."""
    x = np.asarray(x, dtype=np.int64)
    if shift == 0:
        return x
    return (x + (np.int64(1) << np.int64(shift - 1))) >> np.int64(shift)


def requantize(acc: np.ndarray, mult, shift: int, qmin: int, qmax: int) -> np.ndarray:
    """``clamp((acc * M + R) >> S, qmin, qmax)`` with ``M`` broadcast over the last axis."""
    acc = np.asarray(acc, dtype=np.int64)
    m = np.asarray(mult, dtype=np.int64)
    bound = int(np.abs(acc).max(initial=0)) * int(np.abs(m).max(initial=0))
    if bound >= (1 << 62):
        from .errors import InvariantError
        raise InvariantError(f"requant product up to {bound} would overflow int64")
    return np.clip(round_shift(acc * m, shift), qmin, qmax)

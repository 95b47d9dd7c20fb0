"""Packing tensors into stream beats (one pixel per beat, channels LSB-first) and back."""
from __future__ import annotations

import numpy as np

from ..arith import IntType


def pack_frame(x: np.ndarray, typ: IntType) -> list[int]:
    """``(H, W, C)`` (or ``(N,)``, one pixel of N channels) -> one Python int per pixel."""
    x = typ.check(x, "frame")
    px = x.reshape(-1, x.shape[-1]) if x.ndim > 1 else x.reshape(1, -1)
    mask = (1 << typ.bits) - 1
    words = []
    for row in px.tolist():
        w = 0
        for c, v in enumerate(row):
            w |= (v & mask) << (c * typ.bits)
        words.append(w)
    return words


def unpack_frame(words, shape, typ: IntType) -> np.ndarray:
    """Inverse of ``pack_frame`` for a frame of ``shape`` (last axis = channels)."""
    C = shape[-1]
    mask = (1 << typ.bits) - 1
    out = np.empty((len(words), C), dtype=np.int64)
    for i, w in enumerate(words):
        for c in range(C):
            v = (int(w) >> (c * typ.bits)) & mask
            if typ.signed and v >> (typ.bits - 1):
                v -= 1 << typ.bits
            out[i, c] = v
    return out.reshape(shape)

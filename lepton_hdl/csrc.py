"""Small C-printing helpers shared by the ops' ``c_function`` and the model C generator."""
from __future__ import annotations

import numpy as np


def ctype(t) -> str:
    """The C type holding elements of an ``IntType``."""
    if t.bits <= 8:
        return "int8_t" if t.signed else "uint8_t"
    if t.bits <= 16:
        return "int16_t" if t.signed else "uint16_t"
    return "int32_t"


def ident(name: str) -> str:
    """A C/Verilog identifier from a node name or module path."""
    s = "".join(c if c.isalnum() else "_" for c in name)
    return s if s[:1].isalpha() else "n_" + s


def array(ctype_, name, values, per_line=24) -> str:
    """``static const ctype name[N] = {...};``"""
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return f"static const {ctype_} {name}[{len(vals)}] = {{\n  " + ",\n  ".join(lines) + "\n};\n"


def window_loop(H, W, kernel, stride, padding, body, indent):
    """C loops over the in-bounds taps of the window at (oy, ox): zero padding is skipped."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    i = " " * indent
    return (f"{i}for (int ky = 0; ky < {kh}; ky++) {{\n"
            f"{i}  const int iy = oy * {sh} - {ph} + ky;\n"
            f"{i}  if (iy < 0 || iy >= {H}) continue;\n"
            f"{i}  for (int kx = 0; kx < {kw}; kx++) {{\n"
            f"{i}    const int ix = ox * {sw} - {pw} + kx;\n"
            f"{i}    if (ix < 0 || ix >= {W}) continue;\n"
            + "".join(f"{i}    {line}\n" for line in body) +
            f"{i}  }}\n{i}}}\n")


def rq_call(acc, mult, shift, lo, hi) -> str:
    """The C of ``clamp((acc * mult + R) >> shift, lo, hi)`` (``rq`` in the model prelude)."""
    return f"rq({acc}, {mult}, {shift}, {lo}, {hi})"


def rq_tuned(acc_bound: int, mults, shift: int, lo, hi, acc="acc", mult_expr=None):
    """The tuned C's requant call: the multipliers and shift with their common factors of two
    taken out (the same result exactly), in 32-bit arithmetic when ``acc_bound * m + R`` fits
    (no 64-bit multiply and shift on a 32-bit CPU), else ``rq``. Returns ``(call, mults)``:
    ``mults`` the reduced multipliers (for a per-channel table), the call using ``mult_expr``
    for them (default: the single multiplier)."""
    ms = [int(m) for m in mults]
    t = shift
    for m in ms:
        if m:
            t = min(t, (m & -m).bit_length() - 1)
    ms = [m >> t for m in ms]
    s = shift - t
    m_expr = mult_expr if mult_expr is not None else str(ms[0])
    fits = acc_bound * max(abs(m) for m in ms) + ((1 << (s - 1)) if s else 0) < 2 ** 31
    return (f"rq32({acc}, {m_expr}, {s}, {lo}, {hi})" if fits else f"rq({acc}, {m_expr}, {s}, {lo}, {hi})"), ms


def window_ranges(H, W, out_hw, kernel, stride, padding, body, indent=2, interior=None):
    """The C loops of a tuned windowed layer (the second CPU baseline): for each output pixel
    (oy, ox), the window's first input row/column ``iy0``/``ix0`` and its in-bounds tap ranges
    ``[ky0, ky1)``/``[kx0, kx1)``, computed once a pixel; ``body`` (lines) walks those ranges,
    with no bounds check per tap. One body serves interior and border pixels alike, unless
    ``interior`` (lines, constant trip counts) is given for pixels whose whole window is in
    bounds: the callers give one only where its unrolled code is small and the frame large (an
    interior body for every layer was measured slower on VexRiscv, its unrolled code overflowing
    the 4 KiB instruction cache: residual 564k cycles against 456k)."""
    (Ho, Wo), (kh, kw), (sh, sw), (ph, pw) = out_hw, kernel, stride, padding
    i = " " * indent
    if interior is not None:
        body = ([f"if (ky1 - ky0 == {kh} && kx1 - kx0 == {kw}) {{"] + [f"  {l}" for l in interior]
                + ["} else {"] + [f"  {l}" for l in body] + ["}"])
    return (f"{i}for (int oy = 0; oy < {Ho}; oy++) {{\n"
            f"{i}  const int iy0 = oy * {sh} - {ph};\n"
            f"{i}  const int ky0 = iy0 < 0 ? -iy0 : 0, ky1 = iy0 + {kh} > {H} ? {H} - iy0 : {kh};\n"
            f"{i}  for (int ox = 0; ox < {Wo}; ox++) {{\n"
            f"{i}    const int ix0 = ox * {sw} - {pw};\n"
            f"{i}    const int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + {kw} > {W} ? {W} - ix0 : {kw};\n"
            + "".join(f"{i}    {line}\n" for line in body) +
            f"{i}  }}\n{i}}}\n")


def range_taps(x_ctype: str, W: int, C: int, lines, c0: str = "", indent: int = 2) -> list:
    """A tuned body's walk over its pixel's in-bounds taps (``window_ranges``): ``xp`` points
    at each tap's first channel (``c0``: an offset expression) and ``lines`` run for it."""
    i = " " * indent
    return [f"{i}for (int ky = ky0; ky < ky1; ky++)",
            f"{i}  for (int kx = kx0; kx < kx1; kx++) {{",
            f"{i}    const {x_ctype} *xp = x + ((iy0 + ky) * {W} + ix0 + kx) * {C}{c0};",
            *[f"{i}    {line}" for line in lines],
            f"{i}  }}"]


def full_taps(x_ctype: str, W: int, C: int, kernel, lines, c0: str = "", indent: int = 2) -> list:
    """An interior pixel's walk over its whole window (constant trip counts: unrolled)."""
    i = " " * indent
    kh, kw = kernel
    return [f"{i}for (int ky = 0; ky < {kh}; ky++)",
            f"{i}  for (int kx = 0; kx < {kw}; kx++) {{",
            f"{i}    const {x_ctype} *xp = x + ((iy0 + ky) * {W} + ix0 + kx) * {C}{c0};",
            *[f"{i}    {line}" for line in lines],
            f"{i}  }}"]


# the tuned C gives a layer an interior body when its frame has at least this many output
# pixels and its unrolled window at most this many products per output channel
INTERIOR_MIN_PIXELS = 256
INTERIOR_MAX_TAPS = 64

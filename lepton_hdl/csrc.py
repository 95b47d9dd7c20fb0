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


def window_ranges(H, W, out_hw, kernel, stride, padding, body, indent=2):
    """The C loops of a tuned windowed layer (the second CPU baseline): for each output pixel
    (oy, ox), the window's first input row/column ``iy0``/``ix0`` and its in-bounds tap ranges
    ``[ky0, ky1)``/``[kx0, kx1)``, computed once a pixel; ``body`` (lines) walks those ranges,
    with no bounds check per tap. One body serves interior and border pixels alike: a second,
    interior-only body (constant trip counts) was measured slower on VexRiscv, its unrolled code
    overflowing the 4 KiB instruction cache (residual: 564k cycles against 456k)."""
    (Ho, Wo), (kh, kw), (sh, sw), (ph, pw) = out_hw, kernel, stride, padding
    i = " " * indent
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

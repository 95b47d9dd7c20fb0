"""C for the firmware, printed from the same frozen parameter objects the gateware reads.

* ``model.h`` / ``model.c``: a plain-C integer inference (``model_infer``), one function per
  layer with every size a compile-time constant, the exact arithmetic of
  ``docs/arithmetic.md``. This is both the bit-exact reference and the CPU baseline.
* ``data.h``: N test images (for the CPU: one element a byte; for the DMA: packed words),
  their labels and the golden model's outputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .params import AddParams, Conv2dParams, PoolParams, RequantParams


def _ctype(t) -> str:
    if t.bits <= 8:
        return "int8_t" if t.signed else "uint8_t"
    if t.bits <= 16:
        return "int16_t" if t.signed else "uint16_t"
    return "int32_t"


def _ident(name: str) -> str:
    s = "".join(c if c.isalnum() else "_" for c in name)
    return s if s[:1].isalpha() else "n_" + s


def _array(ctype, name, values, per_line=24) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return f"static const {ctype} {name}[{len(vals)}] = {{\n  " + ",\n  ".join(lines) + "\n};\n"


def _window_loop(H, W, kernel, stride, padding, body, indent):
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


def _rq_call(acc, mult, shift, lo, hi):
    return f"rq({acc}, {mult}, {shift}, {lo}, {hi})"


def _conv(n, p: Conv2dParams, x, y):
    H, W, C = p.in_shape
    Ho, Wo, Co = p.out_shape
    (kh, kw), (sh, sw), (ph, pw) = p.kernel, p.stride, p.padding
    cig = C // p.groups
    cog = Co // p.groups
    acc_t = "int32_t" if p.acc_bits <= 32 else "int64_t"
    wt = "int8_t" if p.w_bits <= 8 else "int16_t"
    f = _ident(n.name)
    rq = p.requant
    single_m = len(set(rq.channel_mult(Co))) == 1
    data = _array(wt, f"{f}_w", p.weight) + _array("int32_t", f"{f}_b", p.bias)
    if not single_m:
        data += _array("int32_t", f"{f}_m", rq.channel_mult(Co))
    m = str(rq.channel_mult(Co)[0]) if single_m else f"{f}_m[o]"
    if p.op == "linear" or (kh, kw) == (H, W) and (ph, pw) == (0, 0):
        L = H * W * C // p.groups
        body = f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int o = 0; o < {Co}; o++) {{
    const {wt} *w = {f}_w + o * {L};
    const {x} *xp = x + (o / {cog}) * {cig};
    {acc_t} acc = {f}_b[o];
    for (int i = 0; i < {L}; i++) acc += ({acc_t})xp[i] * w[i];
    y[o] = {_rq_call("acc", m, rq.shift, rq.lo, rq.hi)};
  }}
}}
""" if p.groups == 1 else None
        if body:
            return data + body
    taps = _window_loop(H, W, p.kernel, p.stride, p.padding, [
        f"const {x} *xp = x + (iy * {W} + ix) * {C} + c0;",
        f"const {wt} *wp = w + (ky * {kw} + kx) * {cig};",
        f"for (int j = 0; j < {cig}; j++) acc += ({acc_t})xp[j] * wp[j];"], 8)
    body = f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {Ho}; oy++)
    for (int ox = 0; ox < {Wo}; ox++) {{
      {y} *yp = y + (oy * {Wo} + ox) * {Co};
      for (int o = 0; o < {Co}; o++) {{
        const {wt} *w = {f}_w + o * {kh * kw * cig};
        const int c0 = (o / {cog}) * {cig};
        {acc_t} acc = {f}_b[o];
{taps}        yp[o] = {_rq_call("acc", m, rq.shift, rq.lo, rq.hi)};
      }}
    }}
}}
"""
    return data + body


def _pool(n, p: PoolParams, x, y):
    H, W, C = p.in_shape
    Ho, Wo, _ = p.out_shape
    (kh, kw), (sh, sw), (ph, pw) = p.kernel, p.stride, p.padding
    f = _ident(n.name)
    if p.kind == "max":
        return f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {Ho}; oy++)
    for (int ox = 0; ox < {Wo}; ox++)
      for (int c = 0; c < {C}; c++) {{
        int m = {p.in_type.qmin};
{_window_loop(H, W, p.kernel, p.stride, p.padding, [f"const int v = x[(iy * {W} + ix) * {C} + c];", "if (v > m) m = v;"], 8)}        y[(oy * {Wo} + ox) * {C} + c] = m;
      }}
}}
"""
    rq = p.requant
    return f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int oy = 0; oy < {Ho}; oy++)
    for (int ox = 0; ox < {Wo}; ox++)
      for (int c = 0; c < {C}; c++) {{
        int32_t s = 0;
{_window_loop(H, W, p.kernel, p.stride, p.padding, [f"s += x[(iy * {W} + ix) * {C} + c];"], 8)}        y[(oy * {Wo} + ox) * {C} + c] = {_rq_call("s", rq.channel_mult(C)[0], rq.shift, rq.lo, rq.hi)};
      }}
}}
"""


def _add(n, p: AddParams, xa, xb, y):
    H, W, C = p.shape
    f = _ident(n.name)
    return f"""
static void {f}(const {xa} *restrict a, const {xb} *restrict b, {y} *restrict y) {{
  for (int i = 0; i < {H * W * C}; i++) {{
    int64_t v = (int64_t)a[i] * {p.mult_a} + (int64_t)b[i] * {p.mult_b};
    y[i] = clamp64(v, {p.shift}, {p.lo}, {p.hi});
  }}
}}
"""


def _requant(n, p: RequantParams, x, y):
    H, W, C = p.in_shape
    f = _ident(n.name)
    rq = p.requant
    mults = rq.channel_mult(C)
    return _array("int32_t", f"{f}_m", mults) + f"""
static void {f}(const {x} *restrict x, {y} *restrict y) {{
  for (int i = 0; i < {H * W}; i++)
    for (int c = 0; c < {C}; c++)
      y[i * {C} + c] = {_rq_call(f"x[i * {C} + c]", f"{f}_m[c]", rq.shift, rq.lo, rq.hi)};
}}
"""


PRELUDE = """#include <stdint.h>
#include "model.h"

/* clamp((v + R) >> s, lo, hi), R = 2^(s-1): round half up, arithmetic shift (docs/arithmetic.md) */
static inline int32_t clamp64(int64_t v, int s, int32_t lo, int32_t hi) {
  if (s) v = (v + ((int64_t)1 << (s - 1))) >> s;
  return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}
static inline int32_t rq(int64_t acc, int32_t m, int s, int32_t lo, int32_t hi) {
  return clamp64(acc * m, s, lo, hi);
}
"""


def model_c(pipeline) -> tuple[str, str]:
    """``(model.h, model.c)`` for a compiled pipeline."""
    g = pipeline.graph
    types = {n.name: _ctype(n.qtype.type) for n in g.nodes}
    size = {n.name: n.shape[0] * n.shape[1] * n.shape[2] for n in g.nodes}
    buf = {}
    parts = [PRELUDE]
    calls = []
    inp = g.input
    for n in g.nodes:
        if n.op == "input":
            buf[n.name] = "in"
            continue
        if n.params is None:            # flatten: same buffer
            buf[n.name] = buf[n.inputs[0]]
            continue
        b = f"buf_{_ident(n.name)}"
        parts.append(f"static {types[n.name]} {b}[{size[n.name]}];\n")
        buf[n.name] = b
        p = n.params
        ins = [buf[i] for i in n.inputs]
        if isinstance(p, Conv2dParams):
            parts.append(_conv(n, p, types[n.inputs[0]], types[n.name]))
        elif isinstance(p, PoolParams):
            parts.append(_pool(n, p, types[n.inputs[0]], types[n.name]))
        elif isinstance(p, AddParams):
            parts.append(_add(n, p, types[n.inputs[0]], types[n.inputs[1]], types[n.name]))
        elif isinstance(p, RequantParams):
            parts.append(_requant(n, p, types[n.inputs[0]], types[n.name]))
        calls.append(f"  {_ident(n.name)}({', '.join(ins)}, {b});")
    out = g[g.output]
    parts.append(f"""
void model_infer(const {types[inp.name]} *in, int32_t *out) {{
{chr(10).join(calls)}
  for (int i = 0; i < MODEL_OUT_SIZE; i++) out[i] = {buf[out.name]}[i];
}}
""")
    header = f"""/* Generated by lepton_hdl from model '{pipeline.name}': do not edit. */
#ifndef LEPTON_MODEL_H
#define LEPTON_MODEL_H
#include <stdint.h>
#define MODEL_NAME "{pipeline.name}"
#define MODEL_IN_SIZE {size[inp.name]}
#define MODEL_OUT_SIZE {size[out.name]}
#define MODEL_OUT_C {out.shape[2]}
#define MODEL_OUT_BITS {out.qtype.type.bits}
#define MODEL_OUT_SIGNED {int(out.qtype.type.signed)}
typedef {types[inp.name]} model_in_t;
void model_infer(const model_in_t *in, int32_t *out);
#endif
"""
    return header, "".join(parts)


def data_h(pipeline, x, labels, label_names=None) -> str:
    """Test images (CPU layout and DMA words), labels and golden outputs."""
    from .sim.frames import pack_frame
    q = pipeline.quantize_input(x)
    gold = pipeline.golden_int(q).reshape(len(q), -1)
    inp = pipeline.input_node
    it = inp.qtype.type
    pix_bits = inp.shape[2] * it.bits
    pad = 8 if pix_bits <= 8 else 16 if pix_bits <= 16 else 32 if pix_bits <= 32 else -(-pix_bits // 32) * 32
    words = []
    for xi in q:
        stream = 0
        pos = 0
        for w in pack_frame(xi, it):
            stream |= w << pos
            pos += pad
        nw = -(-pos // 32)
        words.append([(stream >> (32 * k)) & 0xFFFFFFFF for k in range(nw)])
    n = len(q)
    names = label_names or [str(i) for i in range(gold.shape[1])]
    lines = [f"/* Generated by lepton_hdl: {n} test images of '{pipeline.name}'. */",
             "#ifndef LEPTON_DATA_H", "#define LEPTON_DATA_H", "#include <stdint.h>", '#include "model.h"',
             f"#define N_IMAGES {n}", f"#define IMAGE_WORDS {len(words[0])}",
             f"#define HAS_LABELS {int(labels is not None)}"]
    lines.append(f"static const model_in_t images_q[{n}][MODEL_IN_SIZE] = {{")
    for xi in q:
        lines.append("  {" + ", ".join(str(int(v)) for v in xi.reshape(-1)) + "},")
    lines.append("};")
    lines.append(f"static const uint32_t images_dma[{n}][IMAGE_WORDS] __attribute__((aligned(16))) = {{")
    for w in words:
        lines.append("  {" + ", ".join(f"0x{v:08x}" for v in w) + "},")
    lines.append("};")
    lab = labels if labels is not None else np.zeros(n, dtype=int)
    lines.append(f"static const int labels[{n}] = {{" + ", ".join(str(int(v)) for v in lab) + "};")
    lines.append(f"static const int32_t expected[{n}][MODEL_OUT_SIZE] = {{")
    for gi in gold:
        lines.append("  {" + ", ".join(str(int(v)) for v in gi) + "},")
    lines.append("};")
    lines.append("static const char *const label_names[] = {" + ", ".join(f'"{s}"' for s in names) + "};")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


def write_firmware_sources(pipeline, x, labels, out_dir: Path, label_names=None):
    out_dir = Path(out_dir)
    h, c = model_c(pipeline)
    (out_dir / "model.h").write_text(h)
    (out_dir / "model.c").write_text(c)
    (out_dir / "data.h").write_text(data_h(pipeline, x, labels, label_names))

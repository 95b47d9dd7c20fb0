"""Random valid graphs, checked at three levels (``tests/test_fuzz.py``, ``bench/fuzz.py``).

A graph is drawn choice by choice through a ``draw(lo, hi)`` function, so the same generator
runs on a seeded numpy RNG (fixed samples, Dask campaigns) and under hypothesis (which shrinks a
failing graph to a small one):

* an input of 1-4 channels, 4-10 pixels a side (or a flat vector);
* 1-4 stages, each a convolution (1x1 to 3x3 or 1x3/3x1, stride 1-2, padding 0-1, plain,
  grouped or depthwise, BatchNorm or not), a max/average pool, a residual block (two same-shape
  convolutions and an add), a channel concat of two branches, an elementwise product of two
  branches, or an activation (ReLU, ReLU6, Hardtanh, hardswish, sigmoid, abs);
* a head: flatten (or global average) and one or two linear layers;
* weight and activation bits 2-8 and a random folding (a multiplier budget or a cycle target).

Levels: ``float`` (the float passes preserve the torch model's function), ``c`` (the generated C
reference, host gcc, equals the golden model on every element), ``rtl`` (Verilator under random
stalls equals the golden model on every element, and cycles equal the bound).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTS = ("relu", "relu6", "hardtanh", "hardswish", "sigmoid", "abs", "none")


@dataclass
class Spec:
    """A drawn graph: what to build and how to compile it (printable: the counterexample)."""
    in_shape: tuple
    stages: list = field(default_factory=list)
    head: list = field(default_factory=list)
    w_bits: int = 8
    a_bits: int = 8
    budget: int = None
    target_cycles: int = None
    seed: int = 0

    def __str__(self):
        fold = f"max_multipliers={self.budget}" if self.budget else f"target_cycles={self.target_cycles}"
        return (f"input {self.in_shape}, w{self.w_bits}/a{self.a_bits}, {fold}, seed {self.seed}: "
                + " -> ".join(str(s) for s in self.stages + self.head))


def numpy_draw(seed: int):
    rng = np.random.default_rng(seed)
    return lambda lo, hi: int(rng.integers(lo, hi + 1))


def draw_spec(draw, seed=0, wide=False) -> Spec:
    """A random valid graph: shapes are tracked so every layer is legal. ``wide``: a frame 64 to
    72 pixels wide and 3 to 6 high (the video-rate window generator's territory), a global-pool
    head, and half the time the fastest pipeline (a window a cycle)."""
    if wide:
        spec = draw_wide(draw, seed)
        return spec
    flat = draw(0, 5) == 0
    if flat:
        spec = Spec(in_shape=(draw(2, 24),), seed=seed)
    else:
        spec = Spec(in_shape=(draw(1, 4), draw(4, 10), draw(4, 10)), seed=seed)
    C, H, W = (spec.in_shape + (1, 1))[:3] if not flat else (spec.in_shape[0], 0, 0)
    if not flat:
        for _ in range(draw(1, 4)):
            kind = ("conv", "conv", "conv", "pool", "residual", "concat", "mul", "act")[draw(0, 7)]
            if kind == "pool" and min(H, W) >= 2:
                k = draw(2, min(3, H, W))
                stride = draw(1, k)
                spec.stages.append(("pool", ("max", "avg")[draw(0, 1)], k, stride))
                H, W = (H - k) // stride + 1, (W - k) // stride + 1
            elif kind == "residual":
                k = (1, 3)[draw(0, 1)]
                spec.stages.append(("residual", C, k, ACTS[draw(0, 2)], draw(0, 1) == 1))
            elif kind == "concat":
                c1, c2 = draw(1, 4), draw(1, 4)
                spec.stages.append(("concat", C, c1, c2))
                C = c1 + c2
            elif kind == "mul":
                spec.stages.append(("mul", C, ("sigmoid", "hardtanh", "none")[draw(0, 2)]))
            elif kind == "act":
                spec.stages.append(("act", ACTS[draw(0, len(ACTS) - 2)]))
            else:
                kh, kw = (1, 1, 2, 3, 3, 3)[draw(0, 5)], (1, 2, 3, 3, 3, 1)[draw(0, 5)]
                kh, kw = min(kh, H + 2), min(kw, W + 2)
                pad = draw(0, 1) if min(kh, kw) > 1 else 0
                stride = draw(1, 2) if min(H, W) >= 4 else 1
                groups = 1
                g = draw(0, 3)
                if g == 1:
                    groups = C                                   # depthwise
                elif g == 2 and C % 2 == 0:
                    groups = 2
                cout = C * draw(1, 2) if groups == C else draw(1, 8)
                if groups == 2 and cout % 2:
                    cout += 1
                Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
                if Ho < 1 or Wo < 1:
                    continue
                spec.stages.append(("conv", C, cout, (kh, kw), stride, pad, groups, draw(0, 1) == 1,
                                    ACTS[draw(0, len(ACTS) - 1)]))
                C, H, W = cout, Ho, Wo
        if draw(0, 2) == 0:
            spec.head.append(("gap",))
            feat = C
        else:
            spec.head.append(("flatten",))
            feat = C * H * W
    else:
        feat = C
    if draw(0, 1) and feat <= 64:
        hidden = draw(2, 12)
        spec.head.append(("linear", feat, hidden, ACTS[draw(0, 2)]))
        feat = hidden
    spec.head.append(("linear", feat, draw(1, 10), "none"))
    spec.w_bits, spec.a_bits = draw(2, 8), draw(2, 8)
    if draw(0, 2) == 0:
        spec.budget = draw(24, 256)                   # the fastest pipeline within a budget
    else:
        spec.target_cycles = 1 << draw(0, 13)         # the cheapest that meets a cycle target
        spec.target_cycles += draw(0, spec.target_cycles - 1) if spec.target_cycles > 1 else 0
    return spec


def draw_wide(draw, seed=0) -> Spec:
    """``draw_spec(..., wide=True)``: convolutions (any kernel, padding and grouping the
    generator takes), residual blocks and activations on a wide frame, then a global pool."""
    spec = Spec(in_shape=(draw(1, 3), draw(3, 6), draw(64, 72)), seed=seed)
    C, H, W = spec.in_shape
    for _ in range(draw(1, 3)):
        kind = ("conv", "conv", "conv", "residual", "act")[draw(0, 4)]
        if kind == "residual":
            spec.stages.append(("residual", C, (1, 3)[draw(0, 1)], ACTS[draw(0, 2)], draw(0, 1) == 1))
        elif kind == "act":
            spec.stages.append(("act", ACTS[draw(0, len(ACTS) - 2)]))
        else:
            kh, kw = (1, 3, 3, 5, 1)[draw(0, 4)], (1, 3, 5, 3, 3)[draw(0, 4)]
            kh = min(kh, H)
            pad = (min(kh // 2, kw // 2) if draw(0, 2) else 0)
            groups = C if draw(0, 2) == 0 else 1
            cout = C if groups == C else draw(1, 4)
            spec.stages.append(("conv", C, cout, (kh, kw), 1, pad, groups, draw(0, 1) == 1,
                                ACTS[draw(0, len(ACTS) - 1)]))
            C, H, W = cout, H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    spec.head = [("gap",), ("linear", C, draw(1, 10), "none")]
    spec.w_bits, spec.a_bits = draw(2, 8), draw(2, 8)
    spec.target_cycles = 1 if draw(0, 1) else H * W * draw(2, 4)
    return spec


def build(spec: Spec):
    """``(torch model, samples)`` for ``spec``: weights and BatchNorm statistics seeded from
    ``spec.seed``; 16 samples in [0, 1) (flat input) or images."""
    import torch
    import torch.nn as nn

    def act(name):
        return {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "hardtanh": nn.Hardtanh(-1.0, 1.0),
                "hardswish": nn.Hardswish(), "sigmoid": nn.Sigmoid(), "abs": _Abs(), "none": nn.Identity()}[name]

    class _Abs(nn.Module):
        def forward(self, x):
            return torch.abs(x)

    class Residual(nn.Module):
        def __init__(self, c, k, a, bn):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(c, c, k, padding=k // 2), nn.Conv2d(c, c, k, padding=k // 2)
            self.bn = nn.BatchNorm2d(c) if bn else nn.Identity()
            self.a = act(a)

        def forward(self, x):
            return x + self.bn(self.c2(self.a(self.c1(x))))

    class Concat(nn.Module):
        def __init__(self, c, c1, c2):
            super().__init__()
            self.a, self.b = nn.Conv2d(c, c1, 1), nn.Conv2d(c, c2, 3, padding=1)

        def forward(self, x):
            return torch.cat([torch.relu(self.a(x)), self.b(x)], dim=1)

    class Mul(nn.Module):
        def __init__(self, c, a):
            super().__init__()
            self.a, self.b, self.act = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 1), act(a)

        def forward(self, x):
            return self.a(x) * self.act(self.b(x))

    class GAP(nn.Module):
        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)

    torch.manual_seed(spec.seed)
    layers = []
    for s in spec.stages:
        if s[0] == "conv":
            _, cin, cout, k, stride, pad, groups, bn, a = s
            layers.append(nn.Conv2d(cin, cout, k, stride=stride, padding=pad, groups=groups))
            if bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(act(a))
        elif s[0] == "pool":
            _, kind, k, stride = s
            layers.append(nn.MaxPool2d(k, stride) if kind == "max" else nn.AvgPool2d(k, stride))
        elif s[0] == "residual":
            layers.append(Residual(*s[1:]))
        elif s[0] == "concat":
            layers.append(Concat(*s[1:]))
        elif s[0] == "mul":
            layers.append(Mul(*s[1:]))
        elif s[0] == "act":
            layers.append(act(s[1]))
    for s in spec.head:
        if s[0] == "gap":
            layers.append(GAP())
        elif s[0] == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append(nn.Linear(s[1], s[2]))
            layers.append(act(s[3]))
    model = nn.Sequential(*layers)
    g = torch.Generator().manual_seed(spec.seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
    x = torch.rand((16,) + tuple(spec.in_shape), generator=g)
    return model.eval(), x


def compile_spec(spec: Spec):
    import lepton_hdl
    model, x = build(spec)
    pipe = lepton_hdl.compile(model, x, w_bits=spec.w_bits, a_bits=spec.a_bits,
                              max_multipliers=spec.budget, target_cycles=spec.target_cycles)
    return model, x, pipe


def check(spec: Spec, levels=("float", "c", "rtl"), workdir=None) -> dict:
    """Check ``spec`` at ``levels``; returns ``dict(mismatches=, checked=, cycles=, bound=)``
    (mismatching elements, summed over the levels), or raises if the graph does not compile
    (a bug too: every drawn graph is valid)."""
    import torch
    from .codegen_c import run_host_c
    model, x, pipe = compile_spec(spec)
    out = dict(mismatches=0, checked=0, spec=str(spec), bound=pipe.bound_cycles)
    q = pipe.quantize_input(x[:6])
    want = np.asarray(pipe.golden_int(q))
    if "float" in levels:
        with torch.no_grad():
            ref = model(x).numpy()
        if ref.ndim == 4:
            ref = ref.transpose(0, 2, 3, 1)
        got = np.asarray(pipe.float_reference(x)).reshape(len(x), -1)
        bad = ~np.isclose(got, ref.reshape(len(x), -1), rtol=1e-4, atol=1e-5 * max(1.0, np.abs(ref).max()))
        out["float_mismatches"] = int(bad.sum())
        out["mismatches"] += int(bad.sum())
        out["checked"] += bad.size
    if "c" in levels:
        with tempfile.TemporaryDirectory() as d:
            got = run_host_c(pipe, q, Path(workdir or d))
        bad = got != want.reshape(len(q), -1)
        out["c_mismatches"] = int(bad.sum())
        out["mismatches"] += int(bad.sum())
        out["checked"] += bad.size
    if "rtl" in levels:
        rng = np.random.default_rng(spec.seed)
        vp, rp = float(rng.uniform(0.3, 1.0)), float(rng.uniform(0.3, 1.0))
        got, _ = pipe.simulate(q, integer=True, seed=spec.seed, valid_prob=vp, ready_prob=rp)
        bad = np.asarray(got) != want
        # the cycle count: frames back to back with no stalls, 16 of them, the period measured
        # over the second half (a pipeline of nested joins can take a few frames to settle: seed
        # 500406 ran 113 cycles a frame for its first four frames, its bound of 108 from the
        # fifth on; six frames' second half caught the start-up)
        q16 = pipe.quantize_input(x)
        got2, info = pipe.simulate(q16, integer=True)
        bad2 = np.asarray(got2) != np.asarray(pipe.golden_int(q16))
        out["rtl_mismatches"] = int(bad.sum() + bad2.sum())
        out["mismatches"] += out["rtl_mismatches"]
        out["checked"] += bad.size + bad2.size
        out["cycles"] = info["cycles_per_frame"]
        if info["cycles_per_frame"] != pipe.bound_cycles:
            out["mismatches"] += 1
            out["cycle_mismatch"] = (info["cycles_per_frame"], pipe.bound_cycles)
    return out

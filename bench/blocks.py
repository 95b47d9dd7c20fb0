#!/usr/bin/env python3
"""Per-block cycles per frame, measured under Verilator vs the analytic figure, at several
pe/simd settings; plus Verilator simulation speed.

    python bench/blocks.py [--frames N] [--markdown]

Measured = steady-state cycles between consecutive frame completions, back-to-back frames,
no stalls (the nominal rate). Deterministic: every run prints the same cycle counts.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from conftest import make_add, make_conv, make_pool, rand_input  # noqa: E402

from lepton_hdl.arith import IntType, quantize_multipliers  # noqa: E402
from lepton_hdl.ops import sinks_of  # noqa: E402
from lepton_hdl.ops.abs import AbsParams  # noqa: E402
from lepton_hdl.ops.concat import ConcatParams  # noqa: E402
from lepton_hdl.ops.mul import MulParams  # noqa: E402
from lepton_hdl.ops.table import Fn, TableParams, make_table  # noqa: E402
from lepton_hdl.ops.upsample import UpsampleParams  # noqa: E402
from lepton_hdl.params import Requant  # noqa: E402
from lepton_hdl.sim.frames import pack_frame  # noqa: E402
from lepton_hdl.hw.options import HwOptions  # noqa: E402
from lepton_hdl.sim.verilator import VerilatorModel  # noqa: E402

CASES = [
    ("conv 8x8x1->8 k3p1", lambda r, pe, simd: make_conv(r, (8, 8, 1), 8, 3, padding=1, pe=pe, simd=simd), [(1, 1), (2, 3), (8, 9)]),
    ("conv 8x8x8->8 k3p1", lambda r, pe, simd: make_conv(r, (8, 8, 8), 8, 3, padding=1, pe=pe, simd=simd), [(4, 72), (4, 24)]),
    ("conv 4x4x8->16 k3p1", lambda r, pe, simd: make_conv(r, (4, 4, 8), 16, 3, padding=1, pe=pe, simd=simd), [(1, 8), (4, 24), (16, 72)]),
    ("conv 16x16x8->8 k1", lambda r, pe, simd: make_conv(r, (16, 16, 8), 8, 1, pe=pe, simd=simd), [(1, 8), (8, 8)]),
    ("dwconv 8x8x16 k3p1", lambda r, pe, simd: make_conv(r, (8, 8, 16), 16, 3, padding=1, groups=16, pe=pe, simd=simd), [(1, 3), (4, 9), (16, 9)]),
    # the channel window (simd divides C_in; depthwise with simd 1): a beat a step, no window register
    ("conv 8x8x16->16 k3p1", lambda r, pe, simd: make_conv(r, (8, 8, 16), 16, 3, padding=1, pe=pe, simd=simd), [(1, 4), (2, 16), (16, 16)]),
    ("dwconv 8x8x32 k3p1", lambda r, pe, simd: make_conv(r, (8, 8, 32), 32, 3, padding=1, groups=32, pe=pe, simd=simd), [(1, 1), (8, 1), (32, 1)]),
    ("conv 6x6x64->32 k1", lambda r, pe, simd: make_conv(r, (6, 6, 64), 32, 1, pe=pe, simd=simd), [(1, 1), (4, 8)]),
    ("linear 2x2x16->10", lambda r, pe, simd: make_conv(r, (2, 2, 16), 10, linear=True, pe=pe, simd=simd), [(1, 16), (5, 32), (10, 64)]),
    ("maxpool 8x8x8 k2", lambda r, pe, simd: make_pool(r, (8, 8, 8), "max", 2), [(None, None)]),
    ("avgpool 8x8x8 k3p1", lambda r, pe, simd: make_pool(r, (8, 8, 8), "avg", 3, 1, 1), [(None, None)]),
    ("global avg 8x8x16", lambda r, pe, simd: make_pool(r, (8, 8, 16), "global_avg", 1), [(None, None)]),
    ("residual add 8x8x8", lambda r, pe, simd: make_add(r, (8, 8, 8)), [(None, None)]),
    ("mul gate 8x8x8", lambda r, pe, simd: _mul(r, (8, 8, 8), True), [(None, None)]),
    ("concat 8x8x(4+4)", lambda r, pe, simd: _concat(r), [(None, None)]),
    ("upsample x2 8x8x8", lambda r, pe, simd: UpsampleParams((8, 8, 8), IntType(8), (2, 2)), [(None, None)]),
    ("table (sigmoid) 8x8x8", lambda r, pe, simd: _table(r), [(None, None)]),
    ("abs 8x8x8", lambda r, pe, simd: AbsParams((8, 8, 8), IntType(8)), [(None, None)]),
]


def _mul(rng, shape, gate):
    (m,), s = quantize_multipliers([0.01])
    return MulParams(shape, (1, 1, shape[2]) if gate else shape, IntType(8), IntType(8, False), m, s, IntType(8))


def _concat(rng):
    mult, s = quantize_multipliers([0.7, 1.0])
    return ConcatParams(((8, 8, 4), (8, 8, 4)), (IntType(8), IntType(8)), Requant([mult[0]] * 4 + [mult[1]] * 4, s, IntType(8)))


def _table(rng):
    from lepton_hdl.ir import QTensor
    it = IntType(8)
    return TableParams((8, 8, 8), it, IntType(8, False),
                       make_table(Fn.SIGMOID, QTensor(0.05, it), QTensor(1 / 255, IntType(8, False))), Fn.SIGMOID)


def measure(p, frames, name):
    rng = np.random.default_rng(0)
    dut = p.op.hardware(p, HwOptions())
    model = VerilatorModel(dut, sinks=sinks_of(dut), name="bench-" + name.split()[0])
    specs = p.op.in_specs(p)
    streams = [[] for _ in specs]
    for _ in range(frames):
        for s, (shape, t) in zip(streams, specs):
            s += pack_frame(rand_input(rng, shape, t), t)
    out_shape = p.op.out_spec(p)[0]
    n_px = out_shape[0] * out_shape[1]
    res = model.run(streams, n_px * frames)
    return res.steady_period(n_px), res.sim_cycles / max(res.wall_s, 1e-9), model.build_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    rows = []
    for name, make, folds in CASES:
        for pe, simd in folds:
            p = make(np.random.default_rng(1), pe, simd)
            t0 = time.perf_counter()
            period, speed, build = measure(p, args.frames, name)
            rows.append((name, "-" if pe is None else f"{pe}/{simd}",
                         getattr(p, "mac_cycles", None), p.cycles, period, period / p.cycles, speed))
            print(f"  {name:24s} pe/simd={rows[-1][1]:7s} measured={period:9.1f} analytic={p.cycles:6d} "
                  f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    print("| block | pe/simd | MAC-bound cycles | analytic cycles/frame | measured cycles/frame | measured/analytic | Verilator speed (cycles/s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, fold, macb, an, me, ratio, speed in rows:
        print(f"| {name} | {fold} | {macb if macb is not None else '-'} | {an} | {me:.1f} | {ratio:.3f} | {speed / 1e6:.2f} M |")
    exact = all(r[4] == r[3] for r in rows)
    print(f"\nmeasured == analytic for every block: {'yes' if exact else 'NO'}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Per model: compile time, cycles per frame measured under Verilator vs the analytic bound
(slowest block), MAC-lane utilisation and multipliers. Exits non-zero unless every model's
RTL equals its golden model and its measured cycles per frame equal its bound.

    python bench/compile.py [--max-multipliers N]

Cycle counts are deterministic (simulation); compile time is wall-clock on this machine.
"""
import argparse
import sys
import time

import numpy as np
import torch

import lepton_hdl
from lepton_hdl.examples import digits, resnet8, zoo


def models():
    for name in zoo.NAMES:
        yield name, *zoo.make(name)
    m, cal, _, _ = digits.factory()
    yield "digits", m, torch.from_numpy(cal)
    yield "resnet8", *resnet8.factory()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-multipliers", type=int, default=lepton_hdl.pipeline.DEFAULT_MAX_MULTIPLIERS)
    args = ap.parse_args()
    rows = []
    for name, m, x in models():
        t0 = time.perf_counter()
        p = lepton_hdl.compile(m, x, max_multipliers=args.max_multipliers)
        tc = time.perf_counter() - t0
        xs = x[:16]
        y, info = p.simulate(xs)
        exact = bool(np.array_equal(y, p.golden(xs)))
        b = p.bench()
        rows.append((name, tc, b["bound_cycles"], info["cycles_per_frame"], b["mac_utilisation"], b["resources"]["mult"],
                     info["build_s"], exact))
        print(f"  {name}: {info['cycles_per_frame']} cycles/frame (bound {b['bound_cycles']})", file=sys.stderr)
    print("| model | compile (s) | bound cycles/frame | measured cycles/frame | measured/bound | MAC-lane utilisation | multipliers | Verilator build (s) | RTL == golden |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, tc, bound, meas, util, mult, build, exact in rows:
        bs = f"{build:.0f}" if build else "cached"
        print(f"| {name} | {tc:.2f} | {bound} | {meas:.1f} | {meas / bound:.3f} | {100 * util:.0f}% | {mult} | {bs} | {'yes' if exact else 'NO'} |")
    return 0 if all(r[-1] and r[3] == r[2] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

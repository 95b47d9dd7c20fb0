#!/usr/bin/env python3
"""Accelerator vs CPU cycles per inference in the simulated LiteX SoC (VexRiscv "standard"
with its multiplier), against two CPU baselines, both C at -O3 with every size a constant: the
generated plain reference (window loops with a bounds check per tap) and the tuned C (window
loops over each pixel's in-bounds tap ranges, no check per tap, constant channel loops), and
the accelerator against the pipeline's own bound, so the DMA/CSR overhead is visible.

    python bench/soc.py [--images N]       (N images a row; ResNet-8: 1)

All figures are cycle counts from the simulation: deterministic.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

# (model, board, arguments): `--fit BOARD` simulates the accelerator `lepton-hdl build --board
# BOARD` builds beside the SoC: the fastest folding whose estimate fits what the SoC leaves.
MODELS = [("digits", "colorlight_i5", ["--fit", "colorlight_i5"]),
          ("digits", "colorlight_i5 (--bits 7)", ["--fit", "colorlight_i5", "--bits", "7"]),
          ("digits", "ulx3s", ["--fit", "ulx3s"]),
          ("lepton_hdl/examples/zoo.py:residual_factory", "colorlight_i5", ["--fit", "colorlight_i5"]),
          ("lepton_hdl/examples/zoo.py:depthwise_factory", "colorlight_i5", ["--fit", "colorlight_i5"]),
          ("lepton_hdl/examples/zoo.py:gallery_factory", "colorlight_i5", ["--fit", "colorlight_i5"]),
          # 1 image: one ResNet-8 inference is 144 M CPU cycles, about 10 minutes of simulation
          ("lepton_hdl/examples/resnet8.py:factory", "ulx3s", ["--fit", "ulx3s", "--images", "1", "--timeout", "3600"]),
          # DS-CNN does not fit beside the Colorlight i5's SoC: the folding `build --board
          # colorlight_i5 --accel-only` chooses for the accelerator alone, fixed layer by layer
          ("lepton_hdl/examples/dscnn.py:factory", "colorlight_i5 (accelerator alone)",
           ["--images", "1", "--timeout", "3600", "--fold", "stem_0=2,1", "--fold", "fc=1,1", "--fold", "pool=1"]
           + [a for b in range(4) for a in ("--fold", f"blocks_{b}_0=1,1", "--fold", f"blocks_{b}_3=1,4")])]


def macs_of(model: str) -> int:
    """MACs per frame of ``model`` (independent of folding and bits)."""
    import lepton_hdl
    from lepton_hdl.models import load
    spec = load(model)
    return lepton_hdl.compile(spec.model, spec.samples).bench()["macs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--build-dir", default="build/soc")
    ap.add_argument("--only", default="", help="comma-separated row numbers (1-based) to run; the others are "
                                               "tabulated from their saved reports")
    ap.add_argument("--reuse", action="store_true", help="run nothing: tabulate the saved reports")
    args = ap.parse_args()
    reports = Path(args.build_dir) / "bench-reports"
    reports.mkdir(parents=True, exist_ok=True)
    only = {int(k) for k in args.only.split(",") if k}
    rows, ok = [], True
    for k, (model, config, extra) in enumerate(MODELS, 1):
        rep = reports / f"row{k}.json"
        if not args.reuse and (not only or k in only):
            images = [] if "--images" in extra else ["--images", str(args.images)]
            cmd = [sys.executable, "-m", "lepton_hdl.cli", "soc", "--model", model, *images,
                   "--report", str(rep), "--build-dir", args.build_dir, *extra]
            print(f"  running {model} ({config}); log {rep.with_suffix('.log')} ...", file=sys.stderr, flush=True)
            rep.unlink(missing_ok=True)
            with open(rep.with_suffix(".log"), "w") as logf:
                ok &= subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT).returncode == 0
        if not rep.exists():
            print(f"  no report for row {k} ({model}, {config}): see {rep.with_suffix('.log')}", file=sys.stderr)
            ok = False
            continue
        r = json.loads(rep.read_text())
        path, _, func = model.rpartition(":")
        name = Path(path).stem if func == "factory" else func.replace("_factory", "")
        hw_per = r["accel_hw_cycles"] / r["images"]
        if r.get("macs") is None:              # a report from before the MAC count was in it
            r["macs"] = macs_of(model)
        rows.append((name, config, r, hw_per))
    print("| model | accelerator as built for | multipliers | bits | images | mismatches | pipeline bound (cycles/frame) | "
          "accelerator, hardware counter (cycles/frame) | accelerator, seen by the CPU (cycles/inference) | "
          "single-image latency (cycles) | MACs/frame | accelerator MACs/cycle | "
          "CPU plain C -O3 (cycles/inference) | CPU cycles/MAC | speedup, back to back | speedup, one image alone | "
          "CPU tuned C -O3 (cycles/inference) | tuned CPU cycles/MAC | speedup vs tuned, back to back | "
          "speedup vs tuned, one image alone |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, config, r, hw_per in rows:
        tuned = r.get("cpu_tuned_cycles_per_inference")
        t = (f"{tuned} | {tuned / r['macs']:.1f} | {tuned / r['accel_cycles_per_inference']:.0f}x | "
             f"{tuned / r['accel_latency_cycles']:.0f}x" if tuned else "not measured | | |")
        print(f"| {name} | {config} | {r['multipliers']} | w{r['bits']['w']}/a{r['bits']['a']} | {r['images']} | "
              f"{r['mismatches']} | {r['bound_cycles']} | {hw_per:.1f} | {r['accel_cycles_per_inference']} | "
              f"{r['accel_latency_cycles']} | {r['macs']:,} | {r['macs'] / r['accel_cycles_per_inference']:.1f} | "
              f"{r['cpu_cycles_per_inference']} | {r['cpu_cycles_per_inference'] / r['macs']:.1f} | "
              f"{r['speedup']:.0f}x | {r['latency_speedup']:.0f}x | {t} |")
    return 0 if ok and all(r["mismatches"] == 0 for _, _, r, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

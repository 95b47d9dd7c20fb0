#!/usr/bin/env python3
"""Image filters on real photos in the simulated SoC (VexRiscv "standard", 256-bit main RAM
bus, the accelerator's DMA on it): cycles of the accelerator (DMA included) against the same
filter in plain C on the CPU, pixels per cycle, exactness against the golden model, PSNR
against scipy's float filter. Copies each run's input | output picture to docs/img/.

    python bench/filters.py [--only 1,2] [--reuse]

All figures are cycle counts from the simulation: deterministic. The 512x512 rows take several
minutes each (the CPU's C filter is most of it); the denoiser runs at 128x128: its 521-multiplier
accelerator slows the whole SoC's simulation to a few hundred thousand cycles a second, and its
C filter is about 1 G CPU cycles at 256x256.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

# (filter, image, size or None for the photo's own)
RUNS = [("sobel", "camera", None), ("blur", "astronaut", None), ("sharpen", "coffee", None),
        ("denoise", "astronaut", 128)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default="build/soc-filter")
    ap.add_argument("--only", default="", help="comma-separated row numbers (1-based) to run; the others are "
                                               "tabulated from their saved reports")
    ap.add_argument("--reuse", action="store_true", help="run nothing: tabulate the saved reports")
    ap.add_argument("--img-dir", default="docs/img")
    args = ap.parse_args()
    reports = Path(args.build_dir) / "bench-reports"
    reports.mkdir(parents=True, exist_ok=True)
    only = {int(k) for k in args.only.split(",") if k}
    rows, ok = [], True
    for k, (flt, image, size) in enumerate(RUNS, 1):
        rep = reports / f"row{k}.json"
        out = reports / f"row{k}"
        if not args.reuse and (not only or k in only):
            cmd = [sys.executable, "-m", "lepton_hdl.cli", "filter", "--filter", flt, "--image", image,
                   "--out", str(out), "--report", str(rep), "--build-dir", args.build_dir]
            if size:
                cmd += ["--size", str(size)]
            print(f"  running {flt} on {image}; log {rep.with_suffix('.log')} ...", file=sys.stderr, flush=True)
            rep.unlink(missing_ok=True)
            with open(rep.with_suffix(".log"), "w") as logf:
                ok &= subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT).returncode == 0
            if (out / "side_by_side.png").exists():
                # the README's picture: input | output at half size (the full-size PNGs stay in
                # the run's folder)
                from PIL import Image
                Path(args.img_dir).mkdir(parents=True, exist_ok=True)
                im = Image.open(out / "side_by_side.png")
                im = im.resize((im.size[0] // 2, im.size[1] // 2), Image.LANCZOS)
                if rep.exists() and json.loads(rep.read_text())["size"][2] == 3:
                    im.save(Path(args.img_dir) / f"filter_{flt}_{image}.jpg", quality=88)   # colour photos
                else:
                    im.save(Path(args.img_dir) / f"filter_{flt}_{image}.png", optimize=True)
        if not rep.exists():
            print(f"  no report for row {k} ({flt}, {image}): see {rep.with_suffix('.log')}", file=sys.stderr)
            ok = False
            continue
        rows.append(json.loads(rep.read_text()))
    print("| filter | photo | size | multipliers | mismatching pixels (vs golden) | pipeline bound (cycles) | "
          "accelerator, DMA included (cycles) | px/cycle | CPU plain C -O3 (cycles) | CPU cycles/MAC | speedup | "
          "CPU tuned C -O3 (cycles) | speedup vs tuned | PSNR (dB) vs |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        H, W, C = r["size"]
        print(f"| {r['filter']} | {r['image']} | {H}x{W}x{C} | {r['multipliers']} | {r['mismatches']} | "
              f"{r['bound_cycles']:,} | {r['cycles']:,} | {r['px_per_cycle']:.3f} | {r['cpu_cycles']:,} | "
              f"{r.get('cpu_cycles_per_mac', 0):.1f} | {r['speedup']:.0f}x | {r['cpu_tuned_cycles']:,} | "
              f"{r['speedup_tuned']:.0f}x | {r['psnr_db']} vs {r['psnr_reference']}"
              + (f" (noisy input {r['psnr_noisy_vs_clean_db']}, output {r['psnr_output_vs_clean_db']} vs the clean photo)"
                 if r.get("psnr_noisy_vs_clean_db") is not None else "") + " |")
    return 0 if ok and all(r["mismatches"] == 0 and r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

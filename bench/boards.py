#!/usr/bin/env python3
"""Per board: resources, Fmax (nextpnr), cycles per frame and FPS at Fmax, for the digits
accelerator alone and (ECP5) the whole SoC with it, so the SoC's own share is visible.

    python bench/boards.py [--boards colorlight_i5,icebreaker] [--no-soc]

Resources and Fmax are nextpnr's figures (seed 1); cycles per frame is the pipeline bound,
equal to the measured figure in simulation (bench/compile.py).
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path


def run(args_list):
    subprocess.run([sys.executable, "-m", "lepton_hdl.cli", *args_list], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", default="colorlight_i5,icebreaker")
    ap.add_argument("--no-soc", action="store_true")
    ap.add_argument("--out", default="build/bench-boards")
    a = ap.parse_args()
    rows = []
    for board in a.boards.split(","):
        kinds = [("accel-only", ["--accel-only"])]
        if not a.no_soc and board != "icebreaker":
            kinds.append(("SoC + accel", []))
        for kind, extra in kinds:
            out = Path(a.out) / f"{board}-{'accel' if extra else 'soc'}"
            print(f"  {board} {kind} ...", file=sys.stderr, flush=True)
            run(["build", "--board", board, "--model", "digits", "--out", str(out), *extra])
            rows.append((board, kind, json.loads((out / "report.json").read_text())))
    print("| board | build | bits | accuracy | LUT | FF | BRAM | DSP | Fmax (MHz) | target (MHz) | cycles/frame "
          "| frames/s at Fmax | build (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for board, kind, r in rows:
        res = r["resources"]

        def f(k):
            v = res.get(k)
            return f"{v['used']}/{v['available']}" if v else "-"
        fps = f"{r['fps_at_fmax']:,.0f}" if r.get("fps_at_fmax") else "-"
        bits = f"w{r['bits']['w']}/a{r['bits']['a']}" if r.get("bits") else "-"
        acc = f"{100 * r['accuracy']['golden']:.2f}%" if r.get("accuracy") else "-"
        print(f"| {board} | {kind} | {bits} | {acc} | {f('LUT')} | {f('FF')} | {f('BRAM')} | {f('DSP')} | "
              f"{r['fmax_mhz']:.1f} | {r['target_mhz']:g} | {r['cycles_per_frame']} | {fps} | {r['build_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

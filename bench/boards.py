#!/usr/bin/env python3
"""Per board: resources, Fmax (nextpnr), cycles per frame and FPS at Fmax, for the digits
accelerator alone and (ECP5) the whole SoC with it, so the SoC's own share is visible.

    python bench/boards.py [--boards colorlight_i5,icebreaker] [--no-soc]

Resources and Fmax are nextpnr's figures (seed 1); cycles per frame is the pipeline bound,
equal to the measured figure in simulation (bench/compile.py); frames/s is at Fmax for the
accelerator alone and at the system clock for a SoC. ``--reuse`` tabulates existing reports.
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
    ap.add_argument("--reuse", action="store_true", help="tabulate the reports already in --out, build nothing")
    a = ap.parse_args()
    rows = []
    for board in a.boards.split(","):
        kinds = [("accel-only", ["--accel-only"])]
        if not a.no_soc and board != "icebreaker":
            kinds.append(("SoC + accel", []))
        for kind, extra in kinds:
            out = Path(a.out) / f"{board}-{'accel' if extra else 'soc'}"
            if not a.reuse:
                print(f"  {board} {kind} ...", file=sys.stderr, flush=True)
                run(["build", "--board", board, "--model", "digits", "--out", str(out), *extra])
            elif not (out / "report.json").exists():
                continue
            rows.append((board, kind, json.loads((out / "report.json").read_text())))
    print("| board | build | bits | accuracy | LUT | FF | BRAM | DSP | Fmax (MHz) | target (MHz) | cycles/frame "
          "| frames/s | build (s) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for board, kind, r in rows:
        res = r["resources"]

        def f(k):
            v = res.get(k)
            return f"{v['used']}/{v['available']}" if v else "-"
        if r.get("kind") == "soc":       # the SoC runs the accelerator at its system clock
            fps = f"{r['target_mhz'] * 1e6 / r['cycles_per_frame']:,.0f} (at {r['target_mhz']:g} MHz)"
        else:
            fps = f"{r['fps_at_fmax']:,.0f}" if r.get("fps_at_fmax") else "-"
        bits = f"w{r['bits']['w']}/a{r['bits']['a']}" if r.get("bits") else "-"
        acc = f"{100 * r['accuracy']['golden']:.2f}%" if r.get("accuracy") else "-"
        print(f"| {board} | {kind} | {bits} | {acc} | {f('LUT')} | {f('FF')} | {f('BRAM')} | {f('DSP')} | "
              f"{r['fmax_mhz']:.1f} | {r['target_mhz']:g} | {r['cycles_per_frame']} | {fps} | {r['build_s']:.0f} |")
    # the SoC's own share: SoC build minus the accelerator alone, per board
    by = {(b, k): r for b, k, r in rows}
    share = [(b, by[(b, "SoC + accel")], by[(b, "accel-only")]) for b, k, _ in rows
             if k == "accel-only" and (b, "SoC + accel") in by]
    if share:
        print()
        print("| board | SoC's own share (SoC build - accelerator alone) |")
        print("|---|---|")
        for b, soc, acc in share:
            d = {k: soc["resources"][k]["used"] - acc["resources"][k]["used"]
                 for k in ("LUT", "FF", "BRAM", "DSP") if k in soc["resources"] and k in acc["resources"]}
            print(f"| {b} | " + ", ".join(f"{k} {v:+,}" for k, v in d.items()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

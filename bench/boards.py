#!/usr/bin/env python3
"""Per (model, board): resources, Fmax (nextpnr, seeds named), cycles per frame, inferences/s,
latency and accuracy, with the published anchor figure beside it.

    python bench/boards.py [--only digits/colorlight_i5/accel,...] [--reuse] [--out build/bench-boards]

Each row is one `lepton-hdl build` (its report in ``OUT/<model>-<board>-<kind>/report.json``);
``--reuse`` tabulates the reports already there and builds nothing. Resources and Fmax are
nextpnr's; an accelerator-alone row placed and routed on several seeds gives the lowest Fmax;
cycles per frame is the pipeline's bound, equal to the cycles measured in simulation; a SoC row's
inferences/s are at the system clock it was built for (50 MHz on ECP5) and at its Fmax. Writes
``bench/boards.md``.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESNET8 = "lepton_hdl/examples/resnet8.py:factory"
DSCNN = "lepton_hdl/examples/dscnn.py:factory"

# (model name, MODEL argument, board, kind, extra build arguments)
ROWS = [
    ("digits", "digits", "colorlight_i5", "accel", ["--accel-only", "--seed", "1,2,3"]),
    ("digits", "digits", "colorlight_i5", "soc", ["--bits", "7"]),
    ("digits", "digits", "ulx3s", "soc", []),
    ("digits", "digits", "icebreaker", "accel", ["--accel-only", "--seed", "1,2,3"]),
    ("digits_qat", "digits_qat", "icebreaker", "accel", ["--accel-only", "--seed", "1,2,3"]),
    ("digits", "digits", "icebreaker", "soc", []),
    # w4/a4 at 36,864 cycles; with every DSP tile taken (w8 or w4) router2 did not converge and
    # the accelerator's clock placed at 30-37 MHz; capped at 64 tiles it routes at 52 MHz
    ("resnet8", RESNET8, "ulx3s", "soc", ["--bits", "4", "--target-cycles", "36864", "--max-dsp", "64",
                                          "--images", "1", "--accel-mhz", "50"]),
    # w6/a6 at 160,000 cycles: at w8 that folding places at 103% of the LUTs (nextpnr)
    ("dscnn", DSCNN, "colorlight_i5", "accel", ["--accel-only", "--bits", "6", "--target-cycles", "160000",
                                              "--seed", "1,2,3"]),
]

# published figures for the same task on other FPGAs (MLPerf Tiny and the papers' own)
ANCHORS = {
    "digits": "-",
    "digits_qat": "-",
    "resnet8": "fpgaconvnet, ZedBoard XC7Z020: 2,431 inf/s; hls4ml RN08, PYNQ-Z2: 130.8 inf/s (MLPerf Tiny)",
    "dscnn": "fpgaconvnet, ZedBoard: 3,088 inf/s (MLPerf Tiny v1.1)",
}


def build(model_arg, board, out, extra):
    cmd = [sys.executable, "-m", "lepton_hdl.cli", "build", "--board", board, "--model", model_arg,
           "--out", str(out), *extra]
    print("  $ lepton-hdl " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def row(model, board, kind, r) -> str:
    res = r["resources"]

    def f(k):
        v = res.get(k)
        return f"{v['used']:,}/{v['available']:,}" if v else "-"
    seeds = r.get("seeds") or {"1": r.get("fmax_mhz")}
    fmax = r.get("fmax_mhz") or 0
    seed_txt = ", ".join(f"{v:.1f}" for v in seeds.values() if v) if len(seeds) > 1 else ""
    fmax_txt = f"{fmax:.1f}" + (f" (lowest of seeds {','.join(seeds)}: {seed_txt})" if seed_txt else
                                f" (seed {next(iter(seeds))})")
    cyc = r["cycles_per_frame"]
    own = r.get("accel_clk_mhz")
    if r.get("kind") == "soc" and own:
        # the accelerator at its own clock: its Fmax sets the rate; the system clock's beside it
        afmax = r.get("accel_fmax_mhz") or 0
        fmax_txt = (f"accelerator {afmax:.1f} (target {own:g}), system {fmax:.1f} (target {r['target_mhz']:g}); "
                    f"seed {next(iter(seeds))}")
        ips = f"{min(own, afmax) * 1e6 / cyc:,.0f} at {min(own, afmax):g} MHz as built; {afmax * 1e6 / cyc:,.0f} at Fmax"
        what = f"SoC ({r.get('cpu', 'cpu')}) + accelerator on its own clock"
    elif r.get("kind") == "soc":
        ips = f"{r['target_mhz'] * 1e6 / cyc:,.0f} at {r['target_mhz']:g} MHz; {fmax * 1e6 / cyc:,.0f} at Fmax"
        what = f"SoC ({r.get('cpu', 'cpu')}) + accelerator"
        demo = r.get("demo") or {}
        if demo.get("boots") == "demo":
            what += f", boots the demo ({demo['images']} images)"
        elif demo:
            what += ", boots the BIOS"
    else:
        ips = f"{r['fps_at_fmax']:,.0f} at Fmax" if r.get("fps_at_fmax") else "-"
        what = "accelerator alone"
    lat = f"{r['latency_cycles']:,} cycles = {r['latency_us']:.1f} us at Fmax" if r.get("latency_us") else "-"
    bits = f"w{r['bits']['w']}/a{r['bits']['a']}" if r.get("bits") else "-"
    acc = r.get("accuracy") or {}
    acc_txt = (f"{100 * acc['golden']:.2f}% (float {100 * acc['float']:.2f}%)" if acc.get("golden") is not None
               else "-")
    return (f"| {model} | {board} | {what} | {bits} | {f('LUT')} | {f('FF')} | {f('BRAM')} | {f('DSP')} | {fmax_txt} "
            f"| {cyc:,} | {ips} | {lat} | {acc_txt} | {ANCHORS.get(model, '-')} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="model/board/kind,... rows to build (default: all)")
    ap.add_argument("--reuse", action="store_true", help="tabulate the reports already in --out, build nothing")
    ap.add_argument("--out", default="build/bench-boards")
    ap.add_argument("--md", default=str(HERE / "boards.md"))
    a = ap.parse_args()
    only = set(a.only.split(",")) if a.only else None
    lines = ["| model | board | build | bits | LUT | FF | BRAM | DSP | Fmax (MHz) | cycles/frame | inf/s "
             "| one frame alone (accelerator) | accuracy | anchor |",
             "|---|---|---|---|---:|---:|---:|---:|---|---:|---|---|---|---|"]
    for model, arg, board, kind, extra in ROWS:
        out = Path(a.out) / f"{model}-{board}-{kind}"
        if not a.reuse and (only is None or f"{model}/{board}/{kind}" in only):
            build(arg, board, out, extra)
        rep = out / "report.json"
        if not rep.exists():
            print(f"  {model}/{board}/{kind}: no report in {out}", file=sys.stderr)
            continue
        lines.append(row(model, board, kind, json.loads(rep.read_text())))
    text = "\n".join(lines) + "\n"
    Path(a.md).write_text(f"Generated by `python bench/boards.py` (nextpnr's resources and Fmax).\n\n{text}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

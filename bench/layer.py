#!/usr/bin/env python3
"""One layer of a model synthesized alone with Yosys, with its window taken a chunk at a time
(``ChannelWindow``) and whole (``HwOptions(channel_window=False)``): what the channel window
saves on a real layer.

    python bench/layer.py MODEL LAYER PE,SIMD [--family ecp5] [--dsp-tiles 1]

e.g. ``python bench/layer.py lepton_hdl/examples/dscnn.py:factory blocks_0_0 1,1`` (one of
DS-CNN's 64-channel 3x3 depthwise layers folded to one multiplier). Logs stay in
``build/layer/<layer>_<variant>/``.
"""
import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("layer")
    ap.add_argument("fold", help="PE,SIMD")
    ap.add_argument("--family", default="ecp5", choices=["ecp5", "ice40"])
    ap.add_argument("--dsp-tiles", type=int, default=1)
    ap.add_argument("--build-dir", default="build/layer")
    args = ap.parse_args()
    import lepton_hdl
    from lepton_hdl.models import load
    from platforms.jobs import synth_block
    spec = load(args.model)
    pipe = lepton_hdl.compile(spec.model, spec.samples, fold={args.layer: tuple(args.fold.split(","))})
    node = next(n for n in pipe.graph.nodes if n.name == args.layer or n.target == args.layer)
    print(f"| {args.layer} ({args.model}, pe,simd {args.fold}, {args.family}, {args.dsp_tiles} DSP tiles) "
          f"| LUT | FF | BRAM | DSP |\n|---|---:|---:|---:|---:|")
    for variant, options in (("whole window", {"channel_window": False}), ("channel window", {})):
        out = Path(args.build_dir) / f"{args.layer}_{variant.replace(' ', '_')}"
        r = synth_block(node.params, args.family, args.dsp_tiles, str(out.resolve()), options)
        print(f"| {variant} | {r['LUT']:,} | {r['FF']:,} | {r['BRAM']} | {r['DSP']} |", flush=True)


if __name__ == "__main__":
    main()

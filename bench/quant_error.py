#!/usr/bin/env python3
"""Quantized golden model against float torch for the zoo models written for the new ops: the
largest and mean |golden - float| on each model's own calibration inputs, as a share of the
float output's full scale (the one place a tolerance is allowed).

    python bench/quant_error.py [--max-multipliers N]
"""
import argparse
import sys

import numpy as np
import torch

import lepton_hdl
from lepton_hdl.examples import zoo

MODELS = ("encoder_decoder", "squeeze_excite", "inverted_residual", "sobel", "activations", "gallery")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-multipliers", type=int, default=256)
    args = ap.parse_args()
    print("| model | largest error (of full scale) | mean error |")
    print("|---|---:|---:|")
    for name in MODELS:
        m, x = zoo.make(name)
        p = lepton_hdl.compile(m, x, max_multipliers=args.max_multipliers)
        with torch.no_grad():
            ref = m(x).numpy()
        if ref.ndim == 4:                      # (N, C, H, W) -> the stream layout
            ref = ref.transpose(0, 2, 3, 1)
        err = np.abs(p.dequantize(p.golden(x)).reshape(ref.shape) - ref) / np.abs(ref).max()
        print(f"| {name} | {100 * err.max():.1f}% | {100 * err.mean():.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

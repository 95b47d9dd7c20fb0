"""Shared checks for an op on whole models: float vs golden (the one tolerance), golden == RTL
under Verilator with stalls, golden == the generated C (host gcc)."""
from __future__ import annotations

import subprocess

import numpy as np
import torch

import lepton_hdl
from blockcheck import assert_equal
from conftest import require_tool
from lepton_hdl.codegen_c import model_c

HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include "model.h"
int main(void) {
  static model_in_t x[MODEL_IN_SIZE];
  static int32_t y[MODEL_OUT_SIZE];
  int n;
  if (scanf("%d", &n) != 1) return 2;
  for (int k = 0; k < n; k++) {
    for (int i = 0; i < MODEL_IN_SIZE; i++) { int v; if (scanf("%d", &v) != 1) return 2; x[i] = v; }
    model_infer(x, y);
    for (int i = 0; i < MODEL_OUT_SIZE; i++) printf("%d ", (int)y[i]);
    printf("\n");
  }
  return 0;
}
"""


def run_c(pipe, q, tmp_path):
    """The generated C reference on integer inputs ``q`` (stream layout): outputs, flattened."""
    require_tool("gcc")
    h, c = model_c(pipe)
    (tmp_path / "model.h").write_text(h)
    (tmp_path / "model.c").write_text(c)
    (tmp_path / "main.c").write_text(HARNESS)
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", "ref", "main.c", "model.c"], cwd=tmp_path, check=True)
    inp = f"{len(q)}\n" + "\n".join(" ".join(str(int(v)) for v in xi.reshape(-1)) for xi in q) + "\n"
    out = subprocess.run(["./ref"], cwd=tmp_path, input=inp, capture_output=True, text=True, check=True).stdout
    return np.array([[int(v) for v in line.split()] for line in out.splitlines()])


def float_error(model, pipe, x) -> float:
    """Largest |dequantized golden - torch float| relative to the float output's largest magnitude."""
    with torch.no_grad():
        ref = model.eval()(x).numpy()
    got = pipe.dequantize(pipe.golden(x)).reshape(ref.shape[0], -1)
    return float(np.abs(got - to_flat_stream(ref)).max() / np.abs(ref).max())


def to_flat_stream(y):
    """torch outputs (N, C, H, W) or (N, F) -> per sample, flattened in stream order."""
    y = np.asarray(y)
    if y.ndim == 4:
        y = y.transpose(0, 2, 3, 1)
    return y.reshape(len(y), -1)


def check_model(model, x, tmp_path, tol, max_multipliers=256, stalls=((1, 0.6, 0.5), (2, 1.0, 0.3))):
    """Compile ``model`` on samples ``x`` and check it at every level; returns the pipeline and
    its float error."""
    pipe = lepton_hdl.compile(model, x, max_multipliers=max_multipliers)
    err = float_error(model, pipe, x)
    assert err <= tol, f"quantized golden differs from float by {err:.4f} of full scale (> {tol})"
    q = pipe.quantize_input(x[:24])
    want = pipe.golden_int(q)
    got_c = run_c(pipe, q, tmp_path)
    assert_equal(got_c, want.reshape(len(q), -1), "C reference")
    require_tool("verilator")
    for seed, vp, rp in stalls:
        got, _ = pipe.simulate(q, integer=True, seed=seed, valid_prob=vp, ready_prob=rp)
        assert_equal(got, want, f"RTL under stalls {vp}/{rp}")
    got, info = pipe.simulate(q, integer=True)
    assert_equal(got, want, "RTL")
    assert info["cycles_per_frame"] == pipe.bound_cycles, (info["cycles_per_frame"], pipe.bound_cycles)
    return pipe, err

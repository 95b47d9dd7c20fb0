"""Shared checks for an op on whole models: float vs golden (the one tolerance), golden == RTL
under Verilator with stalls, golden == the generated C (host gcc)."""
from __future__ import annotations

import numpy as np
import torch

import lepton_hdl
from blockcheck import assert_equal
from conftest import require_tool
from lepton_hdl.codegen_c import run_host_c

def run_c(pipe, q, tmp_path):
    """The generated C reference on integer inputs ``q`` (stream layout): outputs, flattened."""
    require_tool("gcc")
    return run_host_c(pipe, q, tmp_path)


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

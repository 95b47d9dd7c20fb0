"""Shared factories for block tests: random but valid parameter objects and inputs."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from lepton_hdl.arith import IntType, quantize_multipliers, weight_range
from lepton_hdl.ops import AddParams, Conv2dParams, PoolParams, linear_params
from lepton_hdl.params import Requant


def requant_for(acc_bound, out: IntType, rng, channels=1, act="none", spread=0.3):
    """A requant mapping about ``spread`` of the accumulator bound onto the output range."""
    base = out.max_abs / max(acc_bound * spread, 1)
    real = base * rng.uniform(0.5, 1.5, size=channels)
    mult, shift = quantize_multipliers(real)
    lo = 0 if act == "relu" else None
    hi = None if act != "relu6" else out.qmax // 2
    if act == "relu6":
        lo = 0
    return Requant(mult, shift, out, lo, hi)


def make_conv(rng, in_shape=(6, 6, 3), cout=4, k=3, stride=1, padding=0, groups=1, pe=1, simd=1,
              in_bits=8, w_bits=8, out_bits=8, in_signed=True, out_signed=True, act="none",
              weights="random", linear=False):
    H, W, C = in_shape
    kh, kw = (k, k) if isinstance(k, int) else k
    it, ot = IntType(in_bits, in_signed), IntType(out_bits, out_signed)
    wr = weight_range(w_bits)
    shape = (cout, H * W * C) if linear else (cout, kh, kw, C // groups)
    if weights == "max":
        w = np.where(rng.random(shape) < 0.5, -wr, wr)
    elif weights == "zero":
        w = np.zeros(shape, dtype=np.int64)
    else:
        w = rng.integers(-wr, wr + 1, size=shape)
    bias = rng.integers(-4 * wr, 4 * wr + 1, size=cout)
    bound = int(np.abs(w).reshape(cout, -1).sum(1).max() * it.max_abs + np.abs(bias).max())
    rq = requant_for(bound, ot, rng, channels=cout, act=act)
    if linear:
        return linear_params(in_shape, it, w, bias, rq, w_bits=w_bits, pe=pe, simd=simd)
    return Conv2dParams(in_shape, it, w, bias, rq, w_bits=w_bits, stride=stride, padding=padding,
                        groups=groups, pe=pe, simd=simd)


def make_pool(rng, in_shape=(6, 6, 3), kind="max", k=2, stride=None, padding=0, in_bits=8,
              out_bits=8, in_signed=True, out_signed=True):
    it = IntType(in_bits, in_signed)
    if kind == "max":
        return PoolParams(in_shape, it, kind, k, stride, padding)
    n = in_shape[0] * in_shape[1] if kind == "global_avg" else (k * k if isinstance(k, int) else k[0] * k[1])
    real = rng.uniform(0.7, 1.3) / n
    mult, shift = quantize_multipliers([real])
    rq = Requant(mult, shift, IntType(out_bits, out_signed))
    return PoolParams(in_shape, it, kind, k, stride, padding, requant=rq)


def make_add(rng, shape=(4, 4, 3), a_bits=8, b_bits=8, out_bits=8, relu=False):
    real = rng.uniform(0.3, 1.2, size=2)
    mult, shift = quantize_multipliers(real)
    return AddParams(shape, IntType(a_bits), IntType(b_bits), mult[0], mult[1], shift,
                     IntType(out_bits), lo=0 if relu else None)


def rand_input(rng, shape, typ: IntType, mode="random"):
    if mode == "max":
        return np.full(shape, typ.qmax, dtype=np.int64)
    if mode == "min":
        return np.full(shape, typ.qmin, dtype=np.int64)
    if mode == "zero":
        return np.zeros(shape, dtype=np.int64)
    return rng.integers(typ.qmin, typ.qmax + 1, size=shape)


def require_tool(name: str):
    """A missing tool fails under CI (make setup installs it) and skips only on a dev laptop."""
    if shutil.which(name):
        return
    msg = f"{name} not found on PATH: run `make setup` to install it"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)

"""Bit-exact integer golden model: plain numpy int64, one function per op.

Each function takes a channels-last integer tensor ``(H, W, C)`` (or a flat vector for
``linear``) and the same frozen parameter object the hardware generator takes. The gateware
and the firmware C must reproduce these results element for element.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .arith import requantize
from .params import AddParams, Conv2dParams, PoolParams, Requant, RequantParams


def _check_input(x: np.ndarray, shape, in_type, name) -> np.ndarray:
    x = np.asarray(x)
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name}: input shape {x.shape} != expected {tuple(shape)}")
    return in_type.check(x, f"{name} input")


def apply_requant(acc: np.ndarray, rq: Requant) -> np.ndarray:
    """Requantize ``acc`` (channels on the last axis) with ``rq``."""
    mult = rq.channel_mult(acc.shape[-1])
    return requantize(acc, mult, rq.shift, rq.lo, rq.hi)


def windows(x: np.ndarray, kernel, stride, padding, pad_value=0) -> np.ndarray:
    """All ``kernel`` windows of a padded ``(H, W, C)`` tensor: ``(Ho, Wo, kh, kw, C)``."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), constant_values=pad_value)
    win = sliding_window_view(xp, (kh, kw), axis=(0, 1))  # (Hp-kh+1, Wp-kw+1, C, kh, kw)
    win = win[::sh, ::sw]
    return np.moveaxis(win, 2, 4)


def conv_accumulate(x: np.ndarray, p: Conv2dParams) -> np.ndarray:
    """Integer accumulators (bias included) of a convolution, ``(Ho, Wo, C_out)`` int64."""
    x = _check_input(x, p.in_shape, p.in_type, p.name)
    win = windows(x, p.kernel, p.stride, p.padding)
    Ho, Wo = win.shape[:2]
    g, cout = p.groups, p.out_channels
    cig, cog = p.in_shape[2] // g, cout // g
    acc = np.empty((Ho, Wo, cout), dtype=np.int64)
    for gi in range(g):
        cols = win[..., gi * cig:(gi + 1) * cig].reshape(Ho * Wo, -1)
        wg = p.weight[gi * cog:(gi + 1) * cog].reshape(cog, -1)
        acc[..., gi * cog:(gi + 1) * cog] = (cols @ wg.T).reshape(Ho, Wo, cog)
    acc += p.bias
    bound = p.acc_bound
    assert np.abs(acc).max(initial=0) <= bound, "accumulator exceeded its derived bound"
    return acc


def conv2d(x: np.ndarray, p: Conv2dParams) -> np.ndarray:
    """Convolution (any kernel, stride, padding, groups) + bias + requant/activation."""
    return apply_requant(conv_accumulate(x, p), p.requant)


def linear(x: np.ndarray, p: Conv2dParams) -> np.ndarray:
    """Linear layer on a flat vector in (h, w, c) order; ``p`` from ``linear_params``."""
    x = np.asarray(x)
    H, W, C = p.in_shape
    if x.size != H * W * C:
        raise ValueError(f"{p.name}: input has {x.size} elements, expected {H * W * C}")
    return conv2d(x.reshape(H, W, C), p).reshape(-1)


def pool(x: np.ndarray, p: PoolParams) -> np.ndarray:
    """Max pool (padding counts as the smallest value), average pool (zero padding counted
    in the divisor) or global average pool; averages are ``requant(sum)``."""
    x = _check_input(x, p.in_shape, p.in_type, p.name)
    if p.kind == "max":
        win = windows(x, p.kernel, p.stride, p.padding, pad_value=p.in_type.qmin)
        return win.max(axis=(2, 3))
    win = windows(x, p.kernel, p.stride, p.padding, pad_value=0)
    return apply_requant(win.sum(axis=(2, 3)), p.requant)


def add(a: np.ndarray, b: np.ndarray, p: AddParams) -> np.ndarray:
    """Residual add: ``clamp((a * Ma + b * Mb + R) >> S, lo, hi)``."""
    a = _check_input(a, p.shape, p.a_type, f"{p.name} a")
    b = _check_input(b, p.shape, p.b_type, f"{p.name} b")
    s = a * np.int64(p.mult_a) + b * np.int64(p.mult_b)
    return requantize(s, 1, p.shift, p.lo, p.hi)


def requant(x: np.ndarray, p: RequantParams) -> np.ndarray:
    """Standalone requantization / activation."""
    x = _check_input(x, p.in_shape, p.in_type, p.name)
    return apply_requant(x, p.requant)


def flatten(x: np.ndarray) -> np.ndarray:
    """Channels-last flatten: (h, w, c) order, as the stream delivers it."""
    return np.asarray(x).reshape(-1)


def run(x, p, b=None):
    """Dispatch on the parameter object's type (used by tests and the graph executor)."""
    if isinstance(p, Conv2dParams):
        return linear(x, p) if p.op == "linear" and np.asarray(x).ndim == 1 else conv2d(x, p)
    if isinstance(p, PoolParams):
        return pool(x, p)
    if isinstance(p, AddParams):
        return add(x, b, p)
    if isinstance(p, RequantParams):
        return requant(x, p)
    raise TypeError(f"no golden op for {type(p).__name__}")


def execute(g, x: np.ndarray, all_outputs=False):
    """Run a quantized IR graph on one integer input in stream layout ``(H, W, C)``.

    Returns the output node's integer tensor (its stream shape), or every node's output.
    """
    vals = {}
    for n in g.nodes:
        if n.op == "input":
            vals[n.name] = n.qtype.type.check(np.asarray(x).reshape(n.shape), "pipeline input")
        elif n.params is None:          # flatten: the stream is unchanged
            vals[n.name] = vals[n.inputs[0]]
        else:
            args = [vals[i] for i in n.inputs]
            vals[n.name] = run(args[0], n.params, args[1] if len(args) > 1 else None)
    return vals if all_outputs else vals[g.output]

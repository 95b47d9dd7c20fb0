"""Float64 numpy execution of an IR graph (channels-last), for calibration and for checking
that the float passes preserve the model's function."""
from __future__ import annotations

import numpy as np

from .golden import windows
from .ir import Graph, Node


def _conv(x, a, flat_out=False):
    w = a["weight"]                          # (Cout, kh, kw, Cig)
    cout, kh, kw, cig = w.shape
    win = windows(x, (kh, kw), a["stride"], a["padding"])
    Ho, Wo = win.shape[:2]
    g = a["groups"]
    cog = cout // g
    out = np.empty((Ho, Wo, cout))
    for gi in range(g):
        cols = win[..., gi * cig:(gi + 1) * cig].reshape(Ho * Wo, -1)
        out[..., gi * cog:(gi + 1) * cog] = (cols @ w[gi * cog:(gi + 1) * cog].reshape(cog, -1).T).reshape(Ho, Wo, cog)
    return out + a["bias"]


def apply_act(y, a):
    act = a.get("act")
    if act is None:
        return y
    return np.clip(y, act[1], act[2])


def run_node(n: Node, args):
    a = n.attrs
    x = args[0] if args else None
    if n.op == "conv2d":
        return apply_act(_conv(x, a), a)
    if n.op == "linear":
        y = x.reshape(-1) @ a["weight"].T + a["bias"]
        return apply_act(y.reshape(1, 1, -1), a)
    if n.op == "batchnorm":
        return (x - a["mean"]) / np.sqrt(a["var"] + a["eps"]) * a["gamma"] + a["beta"]
    if n.op == "act":
        return np.clip(x, a["lo"], a["hi"])
    if n.op == "maxpool":
        return windows(x, a["kernel"], a["stride"], a["padding"], pad_value=-np.inf).max(axis=(2, 3))
    if n.op == "avgpool":
        k = a["kernel"]
        return apply_act(windows(x, k, a["stride"], a["padding"]).sum(axis=(2, 3)) / (k[0] * k[1]), a)
    if n.op == "global_avgpool":
        return apply_act(x.mean(axis=(0, 1), keepdims=True), a)
    if n.op == "flatten":
        return x
    if n.op == "add":
        return apply_act(args[0] + args[1], a)
    raise ValueError(f"no float op for {n.op}")


def execute(g: Graph, x: np.ndarray, all_outputs=False):
    """Run ``g`` on one input in stream layout ``(H, W, C)``; returns the output (or every
    node's output when ``all_outputs``)."""
    vals = {}
    for n in g.nodes:
        if n.op == "input":
            vals[n.name] = np.asarray(x, dtype=np.float64).reshape(n.shape)
        else:
            vals[n.name] = run_node(n, [vals[i] for i in n.inputs])
    return vals if all_outputs else vals[g.output]

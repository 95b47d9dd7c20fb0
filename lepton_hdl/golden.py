"""Bit-exact integer golden model: plain numpy int64, one function per op (``Op.golden``).

Each op's golden function takes channels-last integer tensors ``(H, W, C)`` and the same frozen
parameter object its hardware generator and C code take. The gateware and the firmware C must
reproduce these results element for element.
"""
from __future__ import annotations

import numpy as np

from .ops import of


def run(p, *xs) -> np.ndarray:
    """The golden output of the block of parameter object ``p`` on inputs ``xs``."""
    return of(p).golden(p, *xs)


def execute(g, x: np.ndarray, all_outputs=False):
    """Run a quantized IR graph on one integer input in stream layout ``(H, W, C)``.

    Returns the output node's integer tensor (its stream shape), or every node's output.
    """
    vals = {}
    for n in g.nodes:
        if n.op.arity == 0:
            vals[n.name] = n.qtype.type.check(np.asarray(x).reshape(n.shape), "pipeline input")
        elif n.op.passthrough:          # flatten: the stream is unchanged
            vals[n.name] = vals[n.inputs[0]]
        else:
            vals[n.name] = n.op.golden(n.params, *[vals[i] for i in n.inputs])
    return vals if all_outputs else vals[g.output]

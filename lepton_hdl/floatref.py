"""Float64 numpy execution of an IR graph (channels-last), for calibration and for checking
that the float passes preserve the model's function. Each op's ``float_exec`` does the work."""
from __future__ import annotations

import numpy as np

from .ir import Graph


def execute(g: Graph, x: np.ndarray, all_outputs=False):
    """Run ``g`` on one input in stream layout ``(H, W, C)``; returns the output (or every
    node's output when ``all_outputs``)."""
    vals = {}
    for n in g.nodes:
        if n.op.arity == 0:
            vals[n.name] = np.asarray(x, dtype=np.float64).reshape(n.shape)
        else:
            vals[n.name] = n.op.float_exec(n, [vals[i] for i in n.inputs])
    return vals if all_outputs else vals[g.output]

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ..ir import Graph


def fold_batchnorm(g: Graph) -> Graph:
    """Fold each BatchNorm into the conv/linear feeding it (float graph; that producer must
    have no other consumer)."""
    for n in g.nodes:
        if n.op != "batchnorm":
            continue
        src = g[n.inputs[0]]
        if src.op not in ("conv2d", "linear") or len(g.consumers(src.name)) != 1 or "act" in src.attrs:
            raise UnsupportedOpError(
                f"BatchNorm at '{n.label}' follows {src.op} '{src.label}': it can only be folded into "
                f"a preceding Conv2d/Linear whose output feeds nothing else")
        a = n.attrs
        scale = a["gamma"] / np.sqrt(a["var"] + a["eps"])
        attrs = dict(src.attrs)
        w = src.attrs["weight"]
        attrs["weight"] = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        attrs["bias"] = (src.attrs["bias"] - a["mean"]) * scale + a["beta"]
        return fold_batchnorm(g.replace(src.with_(attrs=attrs)).remove(n.name))
    return g

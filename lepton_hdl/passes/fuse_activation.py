from __future__ import annotations

from ..ir import Graph

FUSABLE = ("conv2d", "linear", "add", "avgpool", "global_avgpool")


def fuse_activation(g: Graph) -> Graph:
    """Move each ReLU/ReLU6/Hardtanh into the requant clamp of its producer (float graph; the
    producer must be a conv/linear/add/avg pool with no other consumer). Others stay
    standalone activation nodes."""
    for n in g.nodes:
        if n.op != "act":
            continue
        src = g[n.inputs[0]]
        if src.op not in FUSABLE or len(g.consumers(src.name)) != 1:
            continue
        lo, hi = n.attrs["lo"], n.attrs["hi"]
        kind = n.attrs["kind"]
        if "act" in src.attrs:
            k0, lo0, hi0 = src.attrs["act"]
            lo, hi, kind = max(lo, lo0), min(hi, hi0), f"{k0}+{kind}"
        attrs = dict(src.attrs)
        attrs["act"] = (kind, float(lo), float(hi))
        return fuse_activation(g.replace(src.with_(attrs=attrs)).remove(n.name))
    return g

from __future__ import annotations

from ..ir import Graph


def fuse_activation(g: Graph) -> Graph:
    """Move each clamp activation (ReLU, ReLU6, Hardtanh, clamp) into the requant of its
    producer (float graph; the producer's op must ``fuses_clamp`` and feed nothing else).
    Others stay standalone activation nodes."""
    for n in g.nodes:
        if not n.op.clamp_activation:
            continue
        src = g[n.inputs[0]]
        if not src.op.fuses_clamp or len(g.consumers(src.name)) != 1:
            continue
        clamp = n.op.clamp_of(n)
        if "clamp" in src.attrs:
            clamp = src.attrs["clamp"].merge(clamp)
        attrs = dict(src.attrs)
        attrs["clamp"] = clamp
        return fuse_activation(g.replace(src.with_(attrs=attrs)).remove(n.name))
    return g

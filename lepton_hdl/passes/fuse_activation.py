from __future__ import annotations

from ..ir import Graph


def fuse_activation(g: Graph) -> Graph:
    """Move each clamp activation (ReLU, ReLU6, Hardtanh, clamp) into the requant of its
    producer (float graph; the producer's op must ``fuses_clamp`` and feed nothing else).
    Others stay standalone activation nodes. Then each given quantization moves onto the node
    it follows (``apply_given_quant``)."""
    return apply_given_quant(_fuse_clamps(g))


def _fuse_clamps(g: Graph) -> Graph:
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
        return _fuse_clamps(g.replace(src.with_(attrs=attrs)).remove(n.name))
    return g


def apply_given_quant(g: Graph) -> Graph:
    """Remove each given activation quantization (``quant`` node: a QONNX ``Quant``, a
    ``QuantAct``), leaving its scale and bits on the node it follows (``given_q``), whose
    requant then produces exactly that quantization (float graph, after activation fusion)."""
    from ..errors import UnsupportedOpError
    for n in g.nodes:
        if n.op.name != "quant":
            continue
        src = g[n.inputs[0]]
        given = (float(n.attrs["scale"]), int(n.attrs["bits"]), bool(n.attrs["signed"]))
        old = src.attrs.get("given_q")
        if old is not None and old != given:
            raise UnsupportedOpError(f"two different quantizations of '{src.label}': {old} and {given} "
                                     f"(scale, bits, signed)")
        attrs = dict(src.attrs, given_q=given)
        return apply_given_quant(g.replace(src.with_(attrs=attrs)).remove(n.name))
    return g

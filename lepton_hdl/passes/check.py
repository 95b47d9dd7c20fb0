from __future__ import annotations

from ..errors import LeptonError
from ..ir import Graph


def check_invariants(g: Graph) -> Graph:
    """Check what lowering relies on (quantized graph): one input, every node typed, nothing
    left unfolded, every block's input streams equal to its producers' streams (shape and
    type), its output equal to its node's."""
    inputs = [n for n in g.nodes if n.op.arity == 0]
    if len(inputs) != 1:
        raise LeptonError(f"graph has {len(inputs)} inputs; exactly one is supported")
    for n in g.nodes:
        if n.qtype is None:
            raise LeptonError(f"'{n.label}' ({n.op.name}) has no quantized type")
        if not n.op.lowered:
            raise LeptonError(f"'{n.label}' ({n.op.name}) was not folded or fused")
        p = n.params
        if p is None:
            if n.op.arity != 0 and not n.op.passthrough:
                raise LeptonError(f"'{n.label}' ({n.op.name}) has no hardware parameters")
            continue
        specs = n.op.in_specs(p)
        if len(specs) != len(n.inputs):
            raise LeptonError(f"'{n.label}': its block takes {len(specs)} inputs, the node has {len(n.inputs)}")
        for (shape, typ), src in zip(specs, (g[i] for i in n.inputs)):
            if tuple(shape) != tuple(src.shape) or typ != src.qtype.type:
                raise LeptonError(f"'{n.label}' expects {shape} {typ} but '{src.label}' streams "
                                  f"{src.shape} {src.qtype.type}")
        shape, typ = n.op.out_spec(p)
        if tuple(shape) != tuple(n.shape) or typ != n.qtype.type:
            raise LeptonError(f"'{n.label}': block output {shape} {typ} != node {n.shape} {n.qtype.type}")
    return g

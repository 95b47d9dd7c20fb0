from __future__ import annotations

from ..errors import LeptonError
from ..ir import Graph
from ..params import AddParams, Conv2dParams, PoolParams, RequantParams


def check_invariants(g: Graph) -> Graph:
    """Assert what lowering relies on (quantized graph): one input, every node typed, every
    block's input shape and type equal to its producer's stream, the output reachable."""
    inputs = [n for n in g.nodes if n.op == "input"]
    if len(inputs) != 1:
        raise LeptonError(f"graph has {len(inputs)} inputs; exactly one is supported")
    for n in g.nodes:
        if n.qtype is None:
            raise LeptonError(f"'{n.label}' ({n.op}) has no quantized type")
        if n.op in ("batchnorm",) or (n.op == "act" and n.params is None):
            raise LeptonError(f"'{n.label}' ({n.op}) was not folded or fused")
        p = n.params
        if p is None:
            if n.op not in ("input", "flatten"):
                raise LeptonError(f"'{n.label}' ({n.op}) has no hardware parameters")
            continue
        srcs = [g[i] for i in n.inputs]
        if isinstance(p, AddParams):
            pairs = [(p.shape, p.a_type, srcs[0]), (p.shape, p.b_type, srcs[1])]
        elif isinstance(p, (Conv2dParams, PoolParams, RequantParams)):
            pairs = [(p.in_shape, p.in_type, srcs[0])]
        else:
            raise LeptonError(f"'{n.label}': unknown parameter object {type(p).__name__}")
        for shape, typ, src in pairs:
            if tuple(shape) != tuple(src.shape) or typ != src.qtype.type:
                raise LeptonError(f"'{n.label}' expects {shape} {typ} but '{src.label}' streams "
                                  f"{src.shape} {src.qtype.type}")
        if tuple(p.out_shape) != tuple(n.shape) or p.out_type != n.qtype.type:
            raise LeptonError(f"'{n.label}': block output {p.out_shape} {p.out_type} != node "
                              f"{n.shape} {n.qtype.type}")
    return g

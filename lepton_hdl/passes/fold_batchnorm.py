from __future__ import annotations

from ..errors import UnsupportedOpError
from ..ir import Graph


def fold_batchnorm(g: Graph) -> Graph:
    """Fold each BatchNorm-like node (``op.folds_into_producer``) into the node feeding it
    (float graph; that producer must absorb a per-channel affine map, carry no fused
    activation and feed nothing else)."""
    for n in g.nodes:
        if not n.op.folds_into_producer:
            continue
        src = g[n.inputs[0]]
        if not src.op.absorbs_affine or len(g.consumers(src.name)) != 1 or "clamp" in src.attrs:
            foldable = ", ".join(sorted(op.name for op in _absorbing()))
            raise UnsupportedOpError(
                f"BatchNorm at '{n.label}' follows {src.op.name} '{src.label}': it can only be folded into "
                f"a preceding {foldable} layer whose output feeds nothing else")
        scale, shift = n.op.affine_of(n)
        src = src.with_(attrs=src.op.absorb_affine(src, scale, shift))
        return fold_batchnorm(g.replace(src).remove(n.name))
    return g


def _absorbing():
    from ..ops import REGISTRY
    return [op for op in REGISTRY.values() if op.absorbs_affine]

from __future__ import annotations

from typing import Mapping, Optional

from ..errors import FitError, ParallelismError
from ..ir import Graph


def _mult(p) -> int:
    return p.op.estimate(p)["mult"]


def cheapest(p, target: int):
    """The folding of ``p`` with the fewest multipliers whose cycles per frame are <= ``target``
    (None if even the fastest is slower)."""
    for q in p.op.foldings(p):
        if q.op.cycles(q) <= target:
            return q
    return None


def _foldable(n) -> bool:
    return n.params is not None and n.op.folding(n.params) is not None


def _override(g: Graph, fold: Mapping):
    fixed = {}
    names = {n.name: n for n in g.nodes}
    names.update({n.target: n for n in g.nodes if n.target})
    for key, values in (fold or {}).items():
        n = names.get(key)
        if n is None or not _foldable(n):
            kinds = "/".join(sorted({m.op.name for m in g.nodes if _foldable(m)})) or "foldable"
            layers = ", ".join(m.label for m in g.nodes if _foldable(m))
            raise ParallelismError(f"--fold {key}={','.join(map(str, values))}: no {kinds} layer named '{key}' "
                                   f"(layers: {layers})")
        fixed[n.name] = n.op.with_folding(n.params, *values)
    return fixed


def assign_parallelism(fold: Optional[Mapping] = None, target_cycles: Optional[int] = None,
                       max_multipliers: Optional[int] = None, fits=None):
    """Make the pass choosing each foldable layer's parallelism (conv/linear: pe, simd;
    per-element ops: lanes).

    Default: balance the pipeline at its unavoidable bound, the slowest layer at full
    parallelism (usually the input rate), giving every other layer the cheapest folding that
    keeps up. ``target_cycles`` relaxes the bound; ``max_multipliers`` picks the fastest
    balanced pipeline whose multiplier count (of the foldable layers) fits. ``fits``: a
    predicate on a candidate graph (e.g. a board's resources, ``resources.BoardFit``): the
    fastest balanced pipeline it accepts (candidate cycle counts tried fastest first). ``fold``
    fixes layers by name.
    """

    def assign_parallelism_pass(g: Graph) -> Graph:
        """Set the folding of every foldable layer (quantized graph)."""
        fixed = _override(g, fold)
        free = [n for n in g.nodes if _foldable(n) and n.name not in fixed]
        floor = max([p.op.cycles(p) for p in fixed.values()] +
                    [n.op.cycles(n.params) for n in g.nodes if n.params is not None and not _foldable(n)] +
                    [min(q.op.cycles(q) for q in n.op.foldings(n.params)) for n in free] + [1])

        def plan(target):
            out = dict(fixed)
            for n in free:
                out[n.name] = cheapest(n.params, target)
            return out

        def mults(pl):
            return sum(_mult(p) for p in pl.values())

        target = max(floor, target_cycles or 0)
        chosen = plan(target)
        if max_multipliers is not None and mults(chosen) > max_multipliers:
            cands = sorted({q.op.cycles(q) for n in free for q in n.op.foldings(n.params)
                            if q.op.cycles(q) > target})
            for t in cands:
                chosen = plan(t)
                if mults(chosen) <= max_multipliers:
                    target = t
                    break
            else:
                raise FitError(f"even fully folded (pe=simd=1 everywhere) the model needs {mults(chosen)} "
                               f"multipliers, over the budget of {max_multipliers}: use a smaller model or "
                               f"a larger board")
        def graph(pl, t):
            nodes = [n.with_(params=pl[n.name]) if n.name in pl else n for n in g.nodes]
            slowest = max((p.op.cycles(p) for p in pl.values()), default=t)
            return g.with_nodes(nodes, target_cycles=int(max(t, slowest)))

        if fits is not None:
            cands = [target] + sorted({q.op.cycles(q) for n in free for q in n.op.foldings(n.params)
                                       if q.op.cycles(q) > target})
            # fastest first: cost is not monotone in cycles (a slower folding can need more
            # LUTs, e.g. a wider operand multiplexer), so every candidate is tried in turn
            for t in cands:
                if fits(graph(plan(t), t)):
                    target = t
                    break
            else:
                fits.refuse(graph(plan(cands[-1]), cands[-1]))
            chosen = plan(target)
        return graph(chosen, target)

    return assign_parallelism_pass

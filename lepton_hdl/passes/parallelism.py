from __future__ import annotations

from typing import Mapping, Optional

from ..errors import FitError, ParallelismError
from ..ir import Graph
from ..params import Conv2dParams
from ..resources import estimate


def divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def foldings(p: Conv2dParams):
    """Every legal (pe, simd) of a layer with its cycles per frame and multiplier count,
    cheapest first."""
    out = []
    for pe in divisors(p.out_channels):
        for simd in divisors(p.dot_len):
            q = p.with_folding(pe, simd)
            out.append((pe * simd + pe, pe, simd, q.cycles))
    out.sort()
    return out


def cheapest(p: Conv2dParams, target: int):
    """The folding with the fewest multipliers whose cycles per frame are <= ``target``."""
    for cost, pe, simd, cyc in foldings(p):
        if cyc <= target:
            return pe, simd
    return None


def _override(g: Graph, fold: Mapping):
    fixed = {}
    names = {n.name: n for n in g.nodes}
    names.update({n.target: n for n in g.nodes if n.target})
    for key, (pe, simd) in (fold or {}).items():
        n = names.get(key)
        if n is None or not isinstance(n.params, Conv2dParams):
            layers = ", ".join(m.label for m in g.nodes if isinstance(m.params, Conv2dParams))
            raise ParallelismError(f"--fold {key}={pe},{simd}: no conv/linear layer named '{key}' "
                                   f"(layers: {layers})")
        try:
            fixed[n.name] = n.params.with_folding(int(pe), int(simd))
        except ValueError as e:
            p = n.params
            raise ParallelismError(f"layer '{n.label}': pe={pe}, simd={simd} is impossible ({e}). "
                                   f"pe must divide {p.out_channels}: {divisors(p.out_channels)}; simd must "
                                   f"divide {p.dot_len}: {divisors(p.dot_len)}") from None
    return fixed


def assign_parallelism(fold: Optional[Mapping] = None, target_cycles: Optional[int] = None,
                       max_multipliers: Optional[int] = None):
    """Make the pass choosing each conv/linear layer's (pe, simd).

    Default: balance the pipeline at its unavoidable bound, the slowest layer at full
    parallelism (usually the input rate), giving every other layer the cheapest folding that
    keeps up. ``target_cycles`` relaxes the bound; ``max_multipliers`` picks the fastest
    balanced pipeline whose multiplier count fits. ``fold`` fixes layers by name.
    """

    def assign_parallelism_pass(g: Graph) -> Graph:
        """Set pe/simd of every conv/linear (quantized graph)."""
        fixed = _override(g, fold)
        free = [n for n in g.nodes if isinstance(n.params, Conv2dParams) and n.name not in fixed]
        floor = max([p.cycles for p in fixed.values()] +
                    [n.params.cycles for n in g.nodes if n.params is not None and not isinstance(n.params, Conv2dParams)] +
                    [min(f[3] for f in foldings(n.params)) for n in free] + [1])

        def plan(target):
            out = dict(fixed)
            for n in free:
                pe, simd = cheapest(n.params, target)
                out[n.name] = n.params.with_folding(pe, simd)
            return out

        def mults(pl):
            return sum(estimate(p)["mult"] for p in pl.values())

        target = max(floor, target_cycles or 0)
        chosen = plan(target)
        if max_multipliers is not None and mults(chosen) > max_multipliers:
            cands = sorted({f[3] for n in free for f in foldings(n.params) if f[3] > target})
            for t in cands:
                chosen = plan(t)
                if mults(chosen) <= max_multipliers:
                    target = t
                    break
            else:
                raise FitError(f"even fully folded (pe=simd=1 everywhere) the model needs {mults(chosen)} "
                               f"multipliers, over the budget of {max_multipliers}: use a smaller model or "
                               f"a larger board")
        nodes = [n.with_(params=chosen[n.name]) if n.name in chosen else n for n in g.nodes]
        return g.with_nodes(nodes, target_cycles=int(max(target, max(p.cycles for p in chosen.values()) if chosen else target)))

    return assign_parallelism_pass

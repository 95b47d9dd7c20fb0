from __future__ import annotations

from ..ir import Graph
from ..params import AddParams, Conv2dParams, PoolParams


def buffering(p) -> int:
    """Input pixels a block can absorb before it must emit an output: its window ring (and
    the windows held in the MAC), its accumulation frame, or its pipeline registers."""
    from ..hw.window import ring_rows
    if isinstance(p, (Conv2dParams, PoolParams)):
        if isinstance(p, PoolParams) and p.kind == "global_avg":
            return p.in_shape[0] * p.in_shape[1] + 4
        Hp, Wp, _ = p.padded_shape
        if p.collects_frame:
            return Hp * Wp + 8
        if isinstance(p, PoolParams) and p.row_accumulate:
            return p.kernel[0] * Wp + 8
        return ring_rows(p.kernel, p.stride) * Wp + 8
    if isinstance(p, AddParams):
        return p.skip_depth + 4
    return 4


def _ancestors(g: Graph, name: str) -> set:
    out, stack = {name}, [name]
    while stack:
        for i in g[stack.pop()].inputs:
            if i not in out:
                out.add(i)
                stack.append(i)
    return out


def path_buffering(g: Graph, fork: str, node: str):
    """Most pixels the blocks after ``fork`` up to ``node`` can hold (max over paths); None
    if ``node`` does not descend from ``fork``. Counted in each block's input pixels, which
    over-counts after a downsampling stage: safe."""
    if node == fork:
        return 0
    n = g[node]
    subs = [s for s in (path_buffering(g, fork, i) for i in n.inputs) if s is not None]
    if not subs:
        return None
    return max(subs) + (buffering(n.params) if n.params is not None else 0)


def size_fifos(g: Graph) -> Graph:
    """Size the FIFOs (quantized graph). Each residual add's skip FIFO: input ``b`` becomes the
    path with less buffering, and its FIFO holds everything the other path can absorb, so
    the two paths from their fork never deadlock. Each windowed or accumulating block within a
    factor two of the slowest block's cycles gets an input FIFO of one input row, which absorbs
    the phase difference between neighbouring blocks running at about the same rate (their
    bursts differ: padding, row starts)."""
    nodes = {n.name: n for n in g.nodes}
    bound = max((n.params.cycles for n in g.nodes if n.params is not None), default=0)
    for n in g.nodes:
        # a block at least twice as fast as the slowest one drains any burst before the next
        # arrives: its row FIFO would only cost memory
        if isinstance(n.params, (Conv2dParams, PoolParams)) and 2 * n.params.cycles > bound:
            attrs = dict(n.attrs)
            # a layer that collects whole frames (linear) takes no input while it computes: a
            # frame of FIFO keeps its producer running meanwhile; others get one input row
            Hp, Wp, _ = n.params.padded_shape
            whole = isinstance(n.params, Conv2dParams) and n.params.collects_frame
            attrs["in_fifo"] = max(2, Hp * Wp if whole else n.params.in_shape[1])
            nodes[n.name] = n.with_(attrs=attrs)
    for n in g.nodes:
        if not isinstance(n.params, AddParams):
            continue
        a, b = n.inputs
        common = _ancestors(g, a) & _ancestors(g, b)
        order = [m.name for m in g.nodes]
        fork = max(common, key=order.index)
        cap_a, cap_b = path_buffering(g, fork, a), path_buffering(g, fork, b)
        p = n.params
        if cap_b > cap_a:   # make b the shallow (skip) side
            p = AddParams(p.shape, p.b_type, p.a_type, p.mult_b, p.mult_a, p.shift, p.out, p.lo, p.hi,
                          name=p.name)
            a, b, cap_a, cap_b = b, a, cap_b, cap_a
        depth = max(2, cap_a + 8)
        nodes[n.name] = nodes[n.name].with_(inputs=(a, b), params=AddParams(
            p.shape, p.a_type, p.b_type, p.mult_a, p.mult_b, p.shift, p.out, p.lo, p.hi,
            skip_depth=depth, name=p.name))
    return g.with_nodes([nodes[n.name] for n in g.nodes])

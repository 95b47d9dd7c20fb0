from __future__ import annotations

import math

from ..ir import Graph

# Pixels of slack on every join FIFO beyond the other paths' buffering (the fork's and the
# join's own registers).
JOIN_SLACK = 8


def _pixels(shape) -> int:
    return shape[0] * shape[1]


def node_buffering(g: Graph, n) -> int:
    """Input pixels node ``n`` (its block and its input FIFOs) can absorb before it must emit."""
    if n.params is None:
        return 0
    fifo = max([n.attrs.get("row_fifo", 0)] + list(n.attrs.get("join_fifos", ())))
    return n.op.buffering(n.params) + fifo


def _ancestors(g: Graph, name: str) -> set:
    out, stack = {name}, [name]
    while stack:
        for i in g[stack.pop()].inputs:
            if i not in out:
                out.add(i)
                stack.append(i)
    return out


def path_buffering(g: Graph, fork: str, node: str):
    """Most fork pixels the blocks after ``fork`` up to and including ``node`` can hold (max
    over paths); None if ``node`` does not descend from ``fork``. A block after a downsampling
    stage holds proportionally more fork pixels: its buffering is scaled by the ratio of the
    fork's frame pixels to its input's (never below 1, so an upsampled path over-counts: safe)."""
    if node == fork:
        return 0
    n = g[node]
    subs = [s for s in (path_buffering(g, fork, i) for i in n.inputs) if s is not None]
    if not subs:
        return None
    ratio = max(1.0, _pixels(g[fork].shape) / max(_pixels(g[n.inputs[0]].shape), 1))
    return max(subs) + math.ceil(node_buffering(g, n) * ratio)


def _join_fifos(g: Graph, n) -> tuple:
    """Depths of the FIFOs on each input of a multi-input node: every path but the deepest
    (from the nearest common fork) gets a FIFO holding everything the deepest can absorb, in
    its own stream's pixels, so the fork never deadlocks."""
    order = [m.name for m in g.nodes]
    common = set.intersection(*[_ancestors(g, i) for i in n.inputs])
    fork = max(common, key=order.index)
    caps = [path_buffering(g, fork, i) for i in n.inputs]
    deepest = max(range(len(caps)), key=lambda k: caps[k])
    fork_px = _pixels(g[fork].shape)
    depths = []
    for k, i in enumerate(n.inputs):
        if k == deepest:
            depths.append(0)
            continue
        scale = min(1.0, _pixels(g[i].shape) / fork_px)   # join-input pixels per fork pixel
        depths.append(max(2, math.ceil(caps[deepest] * scale) + JOIN_SLACK))
    return tuple(depths)


def _refuses_while_computing(p) -> bool:
    """A MAC array that collects a whole frame (a linear layer) takes no input during its steps
    (a global pool accumulates as pixels come, so it is not one)."""
    from ..ops import Conv2dParams
    return isinstance(p, Conv2dParams) and p.collects_frame and p.cycles_per_window > 1


def size_fifos(g: Graph) -> Graph:
    """Size the FIFOs (quantized graph).

    Row FIFOs: a block whose op asks for one (``Op.row_fifo``: windowed blocks, two rows; a
    linear layer, its frame) and runs within a factor two of the slowest block gets
    it on every input: it
    absorbs the phase difference between neighbours at about the same rate (their bursts
    differ: padding, row starts). A block at least twice as fast drains any burst anyway, except
    one that collects whole frames: it refuses input while it computes, so it always gets its
    frame of FIFO.

    Join FIFOs: every multi-input node (add, concat, multiply, ...) gets ``join_fifos``, one
    depth per input, so the paths from their common fork never deadlock (``_join_fifos``).
    """
    # sized afresh: a graph folded again (explore's candidates) must not keep the FIFOs sized
    # for its earlier folding
    g = g.with_nodes([n.with_(attrs={k: v for k, v in n.attrs.items() if k not in ("row_fifo", "join_fifos")})
                      if "row_fifo" in n.attrs or "join_fifos" in n.attrs else n for n in g.nodes])
    nodes = {n.name: n for n in g.nodes}
    bound = max((n.op.cycles(n.params) for n in g.nodes if n.params is not None), default=0)
    for n in g.nodes:
        if n.params is None:
            continue
        depth = n.op.row_fifo(n.params)
        # a block that collects whole frames (a linear layer) takes no input while it computes,
        # however fast it is on average: without its frame of FIFO its producer stalls that long
        # every frame (fuzzing found it: a 440-cycle linear after a 3,024-cycle convolution
        # made 3,307 cycles a frame)
        if depth and 2 * n.op.cycles(n.params) > bound:
            nodes[n.name] = n.with_(attrs=dict(n.attrs, row_fifo=max(2, depth)))
        elif depth and _refuses_while_computing(n.params):
            # (its row FIFO is its frame) pixels arrive every bound / frame cycles on average; the
            # FIFO holds those that arrive while it computes (its steps), plus one
            interval = bound / depth
            if n.params.cycles_per_window > interval:
                need = math.ceil(n.params.cycles_per_window / interval) + 1
                nodes[n.name] = n.with_(attrs=dict(n.attrs, row_fifo=max(2, min(depth, need))))
    g = g.with_nodes([nodes[n.name] for n in g.nodes])
    for n in g.nodes:           # in order: a join's FIFOs count in later joins' paths
        if len(n.inputs) > 1:
            g = g.replace(g[n.name].with_(attrs=dict(g[n.name].attrs, join_fifos=_join_fifos(g, g[n.name]))))
    return g

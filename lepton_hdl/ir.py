"""The immutable IR: a topologically ordered graph of typed nodes.

A node's ``shape`` is the shape of the stream it produces, channels-last ``(H, W, C)``; a flat
vector of ``N`` features is ``(1, 1, N)`` with ``flat=True`` (a flatten of an ``(H, W, C)`` map
keeps that stream shape and only sets ``flat``). Float attributes (weights, BN statistics) are
read-only numpy arrays; after quantization every node carries ``qtype`` (its output's scale
and integer type) and, for compute nodes, ``params`` (the frozen object the golden op and the
generator take).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping, Optional

import numpy as np

from .arith import IntType

@dataclass(frozen=True)
class QTensor:
    """Quantization of one tensor: real value = integer * ``scale``."""
    scale: float
    type: IntType


def frozen_attrs(d: Mapping) -> Mapping:
    out = {}
    for k, v in d.items():
        if isinstance(v, np.ndarray):
            v = np.array(v, copy=True)
            v.setflags(write=False)
        out[k] = v
    return MappingProxyType(out)


@dataclass(frozen=True, eq=False)
class Node:
    """One op application: ``op`` (a registered ``lepton_hdl.ops.Op``) on the streams of
    ``inputs`` (node names), producing a stream of ``shape`` ``(H, W, C)``.

    ``attrs``: the op's float attributes (read-only; weights, kernel, a fused ``clamp``, FIFO
    depths chosen by ``passes.size_fifos``). ``target``: the module path or fx name it came from,
    for messages. ``qtype``/``params``: set by quantization (the output's scale and integer type;
    the frozen parameter object the op's golden, hardware and C code take). Immutable: passes
    build new nodes with ``with_``.
    """
    name: str
    op: Any
    inputs: tuple
    shape: tuple
    attrs: Mapping = field(default_factory=lambda: MappingProxyType({}))
    target: str = ""            # the module path (or function) it came from, for messages
    flat: bool = False
    qtype: Optional[QTensor] = None
    params: Any = None

    def __post_init__(self):
        from .ops.base import Op
        if not isinstance(self.op, Op):
            raise TypeError(f"node {self.name}: op must be a registered lepton_hdl.ops.Op, got {self.op!r}")
        if not isinstance(self.attrs, MappingProxyType):
            object.__setattr__(self, "attrs", frozen_attrs(self.attrs))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    def with_(self, **kw) -> "Node":
        """A copy with the given fields replaced."""
        if "attrs" in kw:
            kw["attrs"] = frozen_attrs(kw["attrs"])
        return replace(self, **kw)

    @property
    def label(self) -> str:
        """How messages and reports name the node: its module path, else its fx name."""
        return self.target or self.name


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable, topologically ordered graph of ``Node``: one input node, one ``output``.

    ``meta`` carries graph-wide facts (model name, bit widths, the parallelism target). Every
    pass takes a graph and returns a new one (``with_nodes``, ``replace``, ``remove``).
    """
    nodes: tuple
    output: str
    meta: Mapping = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self):
        object.__setattr__(self, "nodes", tuple(self.nodes))
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError("duplicate node names in graph")
        seen = set()
        for n in self.nodes:
            for i in n.inputs:
                if i not in seen:
                    raise ValueError(f"node {n.name} uses {i} before it is defined")
            seen.add(n.name)
        if self.output not in seen:
            raise ValueError(f"graph output {self.output} is not a node")
        if not isinstance(self.meta, MappingProxyType):
            object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __getitem__(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def input(self) -> Node:
        """The graph's input node (the op with no inputs)."""
        return next(n for n in self.nodes if n.op.arity == 0)

    def consumers(self, name: str) -> list:
        """Nodes reading the stream of ``name``."""
        return [n for n in self.nodes if name in n.inputs]

    def with_nodes(self, nodes, output: Optional[str] = None, **meta) -> "Graph":
        """A graph of ``nodes`` (same output unless given), ``meta`` updated."""
        m = dict(self.meta)
        m.update(meta)
        return Graph(tuple(nodes), output or self.output, m)

    def remove(self, name: str) -> "Graph":
        """Drop a single-input node, rewiring its consumers to its input."""
        node = self[name]
        if len(node.inputs) != 1:
            raise ValueError(f"cannot bypass {name}: it has {len(node.inputs)} inputs")
        src = node.inputs[0]
        nodes = [n.with_(inputs=tuple(src if i == name else i for i in n.inputs))
                 for n in self.nodes if n.name != name]
        return self.with_nodes(nodes, src if self.output == name else self.output)

    def replace(self, node: Node) -> "Graph":
        """The graph with the node of ``node.name`` replaced by ``node``."""
        return self.with_nodes([node if n.name == node.name else n for n in self.nodes])

    @property
    def quantized(self) -> bool:
        return all(n.qtype is not None for n in self.nodes)

    def compute_nodes(self) -> list:
        """Nodes that become hardware blocks (they carry parameters)."""
        return [n for n in self.nodes if n.params is not None]

    def summary(self) -> str:
        """One line per node: name, op, shape, inputs, quantization."""
        rows = []
        for n in self.nodes:
            q = f" {n.qtype.type}@{n.qtype.scale:.4g}" if n.qtype else ""
            rows.append(f"{n.name:24s} {n.op.name:14s} {str(n.shape):14s} <- {', '.join(n.inputs)}{q}")
        return "\n".join(rows)

"""Flatten and stream-preserving reshapes: the stream is unchanged, only the node's ``flat``
flag (vector or feature map) changes. A flatten of an ``(H, W, C)`` map keeps its stream shape;
the linear layer after it reads the features in stream order."""
from __future__ import annotations

from .base import SKIP, Match, Op, arg, fail, fx_shape, register


@register
class FlattenOp(Op):
    """``nn.Flatten``, ``torch.flatten(x, 1)``, ``x.flatten(1)``, ``x.view(N, -1)``, and a reshape
    of a vector to ``(N, C, 1, 1)`` (or back)."""
    runtime_params = True
    name = "flatten"
    passthrough = True
    torch_methods = ("flatten", "view", "reshape", "size")

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Flatten,)

    def torch_functions(self):
        import operator
        import torch
        return (torch.flatten, operator.getitem)

    @staticmethod
    def _check(path, start, end=-1):
        if start != 1 or end not in (-1, 3):
            fail(f"flatten(start_dim={start}, end_dim={end})", path, "only flatten from dim 1 to the end")
        return Match({"flat": True})

    def from_module(self, ctx, n, m, path):
        return self._check(path, m.start_dim, m.end_dim)

    def from_function(self, ctx, n, f, path):
        import operator
        if f is operator.getitem:
            src = n.args[0]
            if getattr(src, "op", None) == "call_method" and src.target == "size":
                return SKIP
            fail("operator.getitem (indexing a tensor)", path)
        return self._check(path, arg(n, 1, "start_dim", 0), arg(n, 2, "end_dim", -1))

    def from_method(self, ctx, n, name, path):
        if name == "size":
            return SKIP
        if name == "flatten":
            return self._check(path, arg(n, 1, "start_dim", 0), arg(n, 2, "end_dim", -1))
        shape, in_shape = fx_shape(n), fx_shape(n.args[0])
        if len(shape) == 2 and shape[0] == in_shape[0]:
            return Match({"flat": True})
        # (N, C) <-> (N, C, 1, 1): the stream (one pixel of C channels) is the same
        stream = ctx.ir(ctx.src(n.args[0])).shape
        if len(shape) == 4 and shape[2:] == (1, 1) and stream[:2] == (1, 1) and shape[1] == stream[2]:
            return Match({"flat": False})
        fail(f"Tensor.{name}{tuple(shape)}", path, "only a reshape to (batch, features) or of a vector "
             "to (batch, C, 1, 1) is supported")

    def float_exec(self, node, args):
        return args[0]

    def quantize(self, node, ins, ctx):
        return ins[0].qtype, None

"""Ops that vanish at trace time: ``nn.Identity`` and dropout (inference)."""
from __future__ import annotations

from .base import Op, register


@register
class IdentityOp(Op):
    """``nn.Identity``, ``nn.Dropout``, ``nn.Dropout2d``, ``F.dropout``: the node is replaced by
    its input."""
    runtime_params = True
    name = "identity"
    alias_only = True

    def torch_modules(self):
        import torch.nn as nn
        return (nn.Identity, nn.Dropout, nn.Dropout2d)

    def torch_functions(self):
        import torch.nn.functional as F
        return (F.dropout,)

    def from_module(self, ctx, n, m, path):
        return ctx.src(n.args[0])

    def from_function(self, ctx, n, f, path):
        return ctx.src(n.args[0])

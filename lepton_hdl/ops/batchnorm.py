"""BatchNorm (inference statistics): folded into the convolution or linear layer before it by
``passes.fold_batchnorm``; it never reaches hardware."""
from __future__ import annotations

import numpy as np

from .base import Match, Op, fail, register, to_np


@register
class BatchNormOp(Op):
    """``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` with running statistics."""
    runtime_params = True
    name = "batchnorm"
    lowered = False
    folds_into_producer = True

    def torch_modules(self):
        import torch.nn as nn
        return (nn.BatchNorm1d, nn.BatchNorm2d)

    def from_module(self, ctx, n, m, path):
        if m.running_mean is None:
            fail(f"nn.{type(m).__name__}(track_running_stats=False)", path, "running statistics are needed")
        C = m.num_features
        g = to_np(m.weight) if m.affine else np.ones(C)
        b = to_np(m.bias) if m.affine else np.zeros(C)
        return Match(dict(mean=to_np(m.running_mean), var=to_np(m.running_var), eps=float(m.eps), gamma=g, beta=b))

    def affine_of(self, node):
        a = node.attrs
        scale = a["gamma"] / np.sqrt(a["var"] + a["eps"])
        return scale, a["beta"] - a["mean"] * scale

    def float_exec(self, node, args):
        scale, shift = self.affine_of(node)
        return args[0] * scale + shift

"""The graph's input stream."""
from __future__ import annotations

from .base import Op, register


@register
class InputOp(Op):
    """The one input of a graph (a torch.fx placeholder): quantized per tensor from its
    calibrated range; the pipeline's sink."""
    runtime_params = True
    name = "input"
    arity = 0

    def float_exec(self, node, args):
        raise RuntimeError("the input node is fed, not executed")

    def quantize(self, node, ins, ctx):
        return ctx.tensor(node), None

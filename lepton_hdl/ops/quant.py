"""Given quantization (QONNX ``Quant`` nodes, or a quantisation-aware-trained model): an
activation quantizer says the scale and bit width of the tensor it follows, instead of the
calibration pass.

``QuantAct`` is the torch module (its forward is the fake quantization ``scale *
clip(round(x / scale))``); the op table traces it into a ``quant`` node, which
``passes.apply_given_quant`` removes after activation fusion, leaving ``given_q = (scale, bits,
signed)`` on the node whose output it quantizes: that node's requant then targets the given
scale. Weights carry their own integers (``weight_quant`` on the layer, ``given_w``).
"""
from __future__ import annotations

import numpy as np

from .base import Match, Op, fail, register


def _module_class():
    import torch

    class QuantAct(torch.nn.Module):
        """Fake-quantize to ``bits`` (``signed``) at ``scale``, zero point 0: what a QONNX
        ``Quant`` node on an activation computes (narrow range drops the most negative code)."""

        def __init__(self, scale: float, bits: int, signed: bool, narrow: bool = False):
            super().__init__()
            self.scale, self.bits, self.signed, self.narrow = float(scale), int(bits), bool(signed), bool(narrow)
            if self.signed:
                self.lo, self.hi = -(1 << (self.bits - 1)) + int(self.narrow), (1 << (self.bits - 1)) - 1
            else:
                self.lo, self.hi = 0, (1 << self.bits) - 1 - int(self.narrow)

        def forward(self, x):
            return torch.clamp(torch.floor(x / self.scale + 0.5), self.lo, self.hi) * self.scale

        def extra_repr(self):
            return f"scale={self.scale:g}, bits={self.bits}, signed={self.signed}"

    return QuantAct


_QUANT_ACT = None


def QuantAct(*args, **kw):
    """The ``QuantAct`` module (built on first use, so importing lepton_hdl needs no torch)."""
    global _QUANT_ACT
    if _QUANT_ACT is None:
        _QUANT_ACT = _module_class()
    return _QUANT_ACT(*args, **kw)


def quant_act_type():
    QuantAct(1.0, 8, True)
    return _QUANT_ACT


@register
class QuantOp(Op):
    """A given activation quantization (``QuantAct``): removed by ``apply_given_quant``."""
    name = "quant"
    lowered = False

    def torch_modules(self):
        return (quant_act_type(),)

    def from_module(self, ctx, n, m, path):
        if m.narrow and m.signed:
            fail("Quant(narrow=1, signed=1) on an activation", path,
                 "activations use the full signed range; export without narrow range")
        return Match(dict(scale=m.scale, bits=m.bits, signed=m.signed, lo=m.lo, hi=m.hi))

    def float_exec(self, node, args):
        a = node.attrs
        return np.clip(np.floor(args[0] / a["scale"] + 0.5), a["lo"], a["hi"]) * a["scale"]

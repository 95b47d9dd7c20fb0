"""Elementwise multiply: equal shapes and a per-channel gate (squeeze-excitation), in Migen
under stalls; shapes it cannot broadcast are refused."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import lepton_hdl
from blockcheck import check_frames, to_verilog
from conftest import rand_input
from lepton_hdl.arith import IntType, quantize_multipliers
from lepton_hdl.errors import UnsupportedOpError
from lepton_hdl.ops.mul import MulParams


@pytest.mark.parametrize("gate,a_bits,b_signed", [(False, 8, True), (True, 8, False), (True, 3, True)])
def test_mul_block(gate, a_bits, b_signed):
    rng = np.random.default_rng(a_bits + gate)
    (m,), s = quantize_multipliers([rng.uniform(0.002, 0.02)])
    shape = (3, 4, 3)
    p = MulParams(shape, (1, 1, 3) if gate else shape, IntType(a_bits), IntType(8, b_signed), m, s, IntType(8))
    frames = [tuple(rand_input(rng, sh, t, mode) for sh, t in p.op.in_specs(p)) for mode in ("random", "max", "min")]
    check_frames(p, frames, seed=4, valid_prob=0.6, ready_prob=0.6)
    to_verilog(p)


def test_mul_unsupported_broadcast():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.c(x) * x[:, :1]
    with pytest.raises(UnsupportedOpError):
        lepton_hdl.compile(M(), torch.randn(4, 2, 4, 4))


def test_mul_constant_refused():
    class M(nn.Module):
        def forward(self, x):
            return x * 0.5
    with pytest.raises(UnsupportedOpError, match="mul with a constant"):
        lepton_hdl.compile(M(), torch.randn(4, 2, 4, 4))

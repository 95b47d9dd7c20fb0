"""Channel concatenation: inputs at different scales and types requantized to one, in Migen
under stalls; only dim=1 is accepted."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import lepton_hdl
from blockcheck import check_frames, to_verilog
from conftest import rand_input
from lepton_hdl.arith import IntType, quantize_multipliers
from lepton_hdl.errors import UnsupportedOpError
from lepton_hdl.ops.concat import ConcatParams
from lepton_hdl.params import Requant


@pytest.mark.parametrize("types", [(IntType(8), IntType(8, False)), (IntType(4, False), IntType(8), IntType(2))])
def test_concat_block(types):
    rng = np.random.default_rng(len(types))
    chans = [2, 3, 1][:len(types)]
    mult, shift = quantize_multipliers(rng.uniform(0.3, 1.0, size=len(types)))
    rq = Requant([m for m, c in zip(mult, chans) for _ in range(c)], shift, IntType(8))
    p = ConcatParams(tuple((3, 4, c) for c in chans), types, rq)
    frames = [tuple(rand_input(rng, s, t, mode) for s, t in p.op.in_specs(p)) for mode in ("random", "max", "min")]
    check_frames(p, frames, seed=5, valid_prob=0.6, ready_prob=0.6)
    to_verilog(p)


def test_concat_other_dim_refused():
    class M(nn.Module):
        def forward(self, x):
            return torch.cat([x, x], dim=2)
    with pytest.raises(UnsupportedOpError, match="dim=2"):
        lepton_hdl.compile(M(), torch.randn(4, 2, 4, 4))

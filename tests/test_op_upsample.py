"""Nearest upsampling: integer factors (rows, columns, both, a one-pixel-wide frame) in Migen
under stalls; other modes are refused."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lepton_hdl
from blockcheck import check_frames, to_verilog
from conftest import rand_input
from lepton_hdl import golden
from lepton_hdl.arith import IntType
from lepton_hdl.errors import UnsupportedOpError
from lepton_hdl.ops.upsample import UpsampleParams


@pytest.mark.parametrize("shape,scale", [((3, 4, 2), (2, 2)), ((2, 3, 1), (1, 3)), ((3, 2, 2), (3, 1)),
                                         ((3, 1, 2), (2, 2)), ((1, 1, 3), (2, 3))])
def test_upsample_block(shape, scale):
    rng = np.random.default_rng(sum(shape))
    p = UpsampleParams(shape, IntType(6, False), scale)
    frames = [rand_input(rng, shape, p.in_type, m) for m in ("random", "max", "random")]
    ref = F.interpolate(torch.from_numpy(frames[0].transpose(2, 0, 1)[None].astype(np.float64)), scale_factor=scale)
    assert np.array_equal(golden.run(p, frames[0]), ref[0].numpy().transpose(1, 2, 0).astype(np.int64))
    check_frames(p, frames, seed=6, valid_prob=0.6, ready_prob=0.6)
    to_verilog(p)


def test_upsample_bilinear_refused():
    with pytest.raises(UnsupportedOpError, match="mode='bilinear'"):
        lepton_hdl.compile(nn.Upsample(scale_factor=2, mode="bilinear"), torch.randn(4, 1, 4, 4))

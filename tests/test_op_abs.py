"""``torch.abs``: golden, Migen block under stalls, Verilog, and a Sobel magnitude model
(|gx| + |gy|) through golden, C and RTL."""
import numpy as np
import pytest
import torch

from blockcheck import check_frames, to_verilog
from conftest import rand_input
from lepton_hdl import golden
from lepton_hdl.arith import IntType
from lepton_hdl.examples import zoo
from lepton_hdl.ops.abs import AbsParams
from opcheck import check_model


@pytest.mark.parametrize("bits,signed", [(8, True), (2, True), (5, False), (8, False)])
def test_abs_block(bits, signed):
    rng = np.random.default_rng(bits)
    p = AbsParams((3, 4, 3), IntType(bits, signed))
    frames = [rand_input(rng, p.in_shape, p.in_type, m) for m in ("random", "min", "max", "random")]
    for x in frames:
        assert np.array_equal(golden.run(p, x), np.abs(x))
    check_frames(p, frames, seed=3, valid_prob=0.6, ready_prob=0.5)
    to_verilog(p)


@pytest.mark.verilator
def test_sobel_magnitude(tmp_path):
    x = torch.rand(32, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    pipe, err = check_model(zoo.make("sobel")[0], x, tmp_path, tol=0.02)
    assert [n.op.name for n in pipe.graph.nodes].count("abs") == 2

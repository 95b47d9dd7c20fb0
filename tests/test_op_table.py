"""Table activations: the table is the float function rounded on every input value; the ROM
block equals the golden model under stalls; unsupported GELU settings are refused."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import lepton_hdl
from blockcheck import check_frames, to_verilog
from conftest import rand_input
from lepton_hdl.arith import IntType
from lepton_hdl.ir import QTensor
from lepton_hdl.ops.table import Fn, TableParams, make_table

TORCH = {Fn.SIGMOID: torch.sigmoid, Fn.TANH: torch.tanh, Fn.HARDSWISH: F.hardswish, Fn.HARDSIGMOID: F.hardsigmoid,
         Fn.SILU: F.silu, Fn.GELU: F.gelu, Fn.GELU_TANH: lambda v: F.gelu(v, approximate="tanh")}


@pytest.mark.parametrize("fn", list(Fn))
def test_table_is_the_rounded_function(fn):
    qi, qo = QTensor(0.05, IntType(8, True)), QTensor(0.01, IntType(8, True))
    t = make_table(fn, qi, qo)
    x = torch.arange(-128, 128, dtype=torch.float64) * 0.05
    want = np.clip(np.floor(TORCH[fn](x).numpy() / 0.01 + 0.5), -128, 127)
    assert np.array_equal(t, want)


@pytest.mark.parametrize("bits,signed", [(8, True), (4, False), (2, True)])
def test_table_block(bits, signed):
    rng = np.random.default_rng(bits)
    it, ot = IntType(bits, signed), IntType(6, False)
    table = rng.integers(0, 64, size=it.qmax - it.qmin + 1)
    p = TableParams((3, 3, 2), it, ot, table, Fn.SIGMOID)
    frames = [rand_input(rng, p.in_shape, it, m) for m in ("random", "min", "max")]
    check_frames(p, frames, seed=2, valid_prob=0.6, ready_prob=0.5)
    to_verilog(p)


def test_gelu_bad_approximation_refused():
    class M(nn.Module):
        def forward(self, x):
            return F.gelu(x, approximate="erf?")
    with pytest.raises(lepton_hdl.LeptonError, match="approximate"):
        lepton_hdl.compile(nn.Sequential(nn.Conv2d(1, 2, 3), M()), torch.randn(4, 1, 5, 5))

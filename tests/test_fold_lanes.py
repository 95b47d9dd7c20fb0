"""Per-element ops folded by lanes (``C / lanes`` cycles a pixel): the same results as the
golden model under stalls, and the steady-state period equal to the op's cycle model."""
import numpy as np
import pytest
from dataclasses import replace

import lepton_hdl
from blockcheck import check_frames, run_frames, to_verilog
from conftest import make_add, rand_input
from lepton_hdl.arith import IntType, quantize_multipliers
from lepton_hdl.errors import ParallelismError
from lepton_hdl.examples import zoo
from lepton_hdl.ir import QTensor
from lepton_hdl.ops import RequantParams
from lepton_hdl.ops.abs import AbsParams
from lepton_hdl.ops.mul import MulParams
from lepton_hdl.ops.table import Fn, TableParams, make_table
from lepton_hdl.params import Requant


def _cases(rng):
    (m,), s = quantize_multipliers([0.01])
    it = IntType(8)
    return {
        "add": make_add(rng, (3, 4, 6), relu=True),
        "mul": MulParams((3, 4, 6), (3, 4, 6), it, IntType(8, False), m, s, IntType(8)),
        "act": RequantParams((3, 4, 6), it, Requant((1,), 0, IntType(8, False), lo=0, hi=90)),
        "table": TableParams((3, 4, 6), it, IntType(8, False),
                             make_table(Fn.SIGMOID, QTensor(0.05, it), QTensor(1 / 255, IntType(8, False))), Fn.SIGMOID),
        "abs": AbsParams((3, 4, 6), it),
    }


@pytest.mark.parametrize("name", ["add", "mul", "act", "table", "abs"])
@pytest.mark.parametrize("lanes", [1, 2, 3])
def test_lane_folded_block(name, lanes):
    rng = np.random.default_rng(lanes)
    p = replace(_cases(rng)[name], lanes=lanes)
    frames = [tuple(rand_input(rng, s, t, mode) for s, t in p.op.in_specs(p)) for mode in ("random", "max", "min")]
    check_frames(p, frames, seed=lanes, valid_prob=0.6, ready_prob=0.6)
    _, res = run_frames(p, frames)
    assert res.steady_period(12) == p.cycles == 12 * 6 // lanes
    assert p.op.estimate(p)["mult"] == p.op.estimate(replace(p, lanes=6))["mult"] * lanes // 6
    to_verilog(p)


def test_per_channel_constants_do_not_fold():
    p = RequantParams((2, 2, 4), IntType(8), Requant((100, 200, 300, 400), 8, IntType(8)))
    assert p.op.foldings(p) == [p]
    with pytest.raises(ParallelismError, match="per-channel constants"):
        p.op.with_folding(p, 2)


def test_fold_a_lane_op_by_name():
    m, x = zoo.make("residual")
    p = lepton_hdl.compile(m, x, fold={"add": (2,)}, max_multipliers=None)
    add = next(n for n in p.graph.nodes if n.op.name == "add").params
    assert add.lanes == 2 and add.cycles == 8 * 8 * 4
    with pytest.raises(ParallelismError, match="lanes=.3"):
        lepton_hdl.compile(m, x, fold={"add": (3,)})
    with pytest.raises(ParallelismError, match="PE,SIMD"):
        lepton_hdl.compile(m, x, fold={"conv1": (2,)})


@pytest.mark.parametrize("lanes", [1, 2, 6])
def test_global_average_folds_its_requant(lanes):
    """The frame's sums pass a two-beat FIFO to ``lanes`` requant lanes: results unchanged,
    H * W cycles a frame (the requant overlaps the next frame)."""
    from conftest import make_pool
    rng = np.random.default_rng(lanes)
    p = replace(make_pool(rng, (3, 4, 6), "global_avg", 1), lanes=lanes)
    frames = [rand_input(rng, p.in_shape, p.in_type, m) for m in ("random", "max", "min", "random")]
    check_frames(p, frames, seed=lanes, valid_prob=0.6, ready_prob=0.6)
    _, res = run_frames(p, frames)
    assert res.steady_period(1) == p.cycles == 12
    assert p.op.estimate(p)["mult"] == lanes
    to_verilog(p)

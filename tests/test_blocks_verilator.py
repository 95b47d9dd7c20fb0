"""Conv, pool, linear, depthwise and add as exported Verilog under Verilator: bit-exact under
stalls over back-to-back frames, and the steady-state cycles per frame equal to the op's
cycle model."""
import numpy as np
import pytest

from blockcheck import block, check_frames, run_frames
from conftest import make_add, make_conv, make_pool, rand_input, require_tool
from lepton_hdl.ops import sinks_of
from lepton_hdl.sim.verilator import VerilatorModel

pytestmark = pytest.mark.verilator

CASES = {
    "conv3x3_pad": lambda r: make_conv(r, (8, 8, 3), cout=8, k=3, padding=1, pe=2, simd=9),
    "conv3x3_s2_full": lambda r: make_conv(r, (9, 9, 4), cout=8, k=3, stride=2, pe=8, simd=36, act="relu",
                                           out_signed=False),
    "conv5x5_u4": lambda r: make_conv(r, (8, 8, 2), cout=4, k=5, padding=2, pe=4, simd=10, in_bits=4,
                                      w_bits=4, out_bits=4, in_signed=False),
    "depthwise": lambda r: make_conv(r, (6, 6, 8), cout=8, k=3, padding=1, groups=8, pe=4, simd=9),
    "linear_flat": lambda r: make_conv(r, (1, 1, 64), cout=10, linear=True, pe=5, simd=16),
    "linear_map": lambda r: make_conv(r, (2, 2, 16), cout=10, linear=True, pe=10, simd=64),
    "conv1x1": lambda r: make_conv(r, (6, 7, 8), cout=8, k=1, pe=8, simd=8),
    "conv3x3_s2_f1": lambda r: make_conv(r, (10, 10, 2), cout=4, k=3, stride=2, padding=1, pe=4, simd=18),
    "maxpool2": lambda r: make_pool(r, (8, 8, 8), "max", 2),
    "maxpool3_s2_p1": lambda r: make_pool(r, (9, 9, 4), "max", 3, 2, 1),
    "avgpool2": lambda r: make_pool(r, (8, 8, 4), "avg", 2),
    "global_avg": lambda r: make_pool(r, (6, 6, 8), "global_avg", 1),
    "add": lambda r: make_add(r, (6, 6, 8), relu=True),
    # a window every 2..kw+1 cycles: the skid buffer hides part of each row start
    "conv3x3_p2": lambda r: make_conv(r, (8, 8, 8), cout=8, k=3, padding=1, pe=4, simd=72),
    "conv3x3_s2_p2": lambda r: make_conv(r, (9, 9, 4), cout=4, k=3, stride=2, pe=2, simd=36),
    "conv5x5_p3": lambda r: make_conv(r, (7, 7, 2), cout=3, k=5, padding=2, pe=1, simd=50),
    "conv1x5_p4": lambda r: make_conv(r, (5, 9, 2), cout=4, k=(1, 5), padding=(0, 2), pe=1, simd=5),
    # wide frames, a window a cycle: the line-buffer generator (hw.window.LineWindow)
    "line3x3_same": lambda r: make_conv(r, (4, 64, 2), cout=2, k=3, padding=1, pe=2, simd=18),
    "line5x3_less": lambda r: make_conv(r, (6, 66, 1), cout=2, k=(5, 3), padding=(1, 1), pe=2, simd=15),
    "line_depthwise": lambda r: make_conv(r, (4, 64, 3), cout=3, k=3, padding=1, groups=3, pe=3, simd=9),
}


def _frames(p, rng, n):
    modes = ["random", "max", "min", "random", "zero"]
    specs = p.op.in_specs(p)
    return [tuple(rand_input(rng, shape, t, modes[(i + k) % 5]) for k, (shape, t) in enumerate(specs))
            for i in range(n)]


def _model(p, name):
    require_tool("verilator")
    dut = block(p)
    return VerilatorModel(dut, sinks=sinks_of(dut), name=name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_verilator_block(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    p = CASES[name](rng)
    model = _model(p, name)
    frames = _frames(p, rng, 6)
    for seed, vp, rp in [(1, 0.5, 0.5), (2, 0.9, 0.3), (3, 0.3, 0.9)]:
        check_frames(p, frames, sim="verilator", model=model, seed=seed, valid_prob=vp, ready_prob=rp)
    # Nominal rate: no stalls, back-to-back frames.
    _, res = run_frames(p, frames, sim="verilator", model=model)
    n_px = p.out_shape[0] * p.out_shape[1]
    period = res.steady_period(n_px)
    assert period == p.cycles, f"{name}: {period} cycles/frame measured, the model says {p.cycles}"
    single = res.cycles[n_px - 1]  # from cycle 0: the pad stage may run ahead of the input
    assert p.cycles - 1 <= single <= p.cycles + p.latency, (single, p.cycles, p.latency)

"""The video-rate window generator (``hw.window.LineWindow``): wide frames, stride 1, padding
at most half the kernel, a window a cycle. Every element against the golden model under random
stalls with frames back to back; no stalls: a frame every ``H*W`` cycles, padding and row turns
free; a single frame's latency is the model's; the line buffers are ``kh - 1`` rows."""
import numpy as np
import pytest

from blockcheck import check_frames, run_frames, to_verilog
from conftest import make_conv, rand_input
from lepton_hdl.hw.conv import LINE_WINDOW_WIDTH, line_window
from lepton_hdl.hw.options import FAMILY

W = LINE_WINDOW_WIDTH
CASES = [
    dict(in_shape=(5, W, 2), cout=2, k=3, padding=1),            # 'same' 3x3
    dict(in_shape=(6, W + 3, 1), cout=1, k=5, padding=2),        # 'same' 5x5, odd width
    dict(in_shape=(4, W, 2), cout=3, k=3, padding=0),            # 'valid': positions skipped
    dict(in_shape=(3, W, 3), cout=2, k=1, padding=0),            # 1x1: no line buffer
    dict(in_shape=(4, W, 2), cout=2, k=(1, 3), padding=(0, 1)),  # one row
    dict(in_shape=(6, W, 1), cout=2, k=(3, 5), padding=(1, 1)),  # less than 'same' across
    dict(in_shape=(5, W, 2), cout=2, k=3, padding=1, groups=2),  # depthwise
]


def full(kw):
    """The case as a window-a-cycle convolution (every MAC lane unrolled)."""
    k = kw["k"] if isinstance(kw["k"], tuple) else (kw["k"], kw["k"])
    g = kw.get("groups", 1)
    return dict(kw, pe=kw["cout"], simd=k[0] * k[1] * kw["in_shape"][2] // g)


def frames(rng, p, n):
    return [rand_input(rng, p.in_shape, p.in_type, m) for m in (["random", "max", "min"] * n)[:n]]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("vp,rp", [(0.6, 0.5), (1.0, 0.3)])
def test_line_window_exact(case, vp, rp):
    rng = np.random.default_rng(case * 10 + int(vp * 10))
    p = make_conv(rng, **full(CASES[case]))
    assert line_window(p), "the case must take the line-buffer generator"
    check_frames(p, frames(rng, p, 3), seed=case + 3, valid_prob=vp, ready_prob=rp)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_line_window_cycles(case):
    """Frames back to back, no stalls: exact, the period is H*W (== the op's model); one frame
    alone ends within its model latency. (The generator is the same for every FPGA family.)"""
    rng = np.random.default_rng(case)
    p = make_conv(rng, **full(CASES[case]))
    H, Wd, _ = p.in_shape
    opts = FAMILY["ecp5"]
    fr = frames(rng, p, 4)
    outs, res = run_frames(p, fr, opts=opts)
    for x, y in zip(fr, outs):
        assert np.array_equal(y, p.op.golden(p, x))
    n_px = p.out_shape[0] * p.out_shape[1]
    assert p.op.cycles(p, opts) == H * Wd
    assert res.steady_period(n_px) == H * Wd
    _, one = run_frames(p, frames(rng, p, 1), opts=opts)
    measured = one.cycles[-1] - one.first_in
    assert H * Wd <= measured <= H * Wd + p.latency, (measured, H * Wd, p.latency)


def test_line_window_memory_and_verilog():
    """The line buffers are kh - 1 rows of the unpadded width; the block converts to Verilog
    with one memory."""
    rng = np.random.default_rng(1)
    p = make_conv(rng, **full(CASES[1]))
    est = p.op.estimate(p)
    assert est["mem_bits"] == p.weight.size * p.w_bits + 4 * p.in_shape[1] * p.in_shape[2] * p.in_type.bits
    v = to_verilog(p)
    mems = [l for l in v.splitlines() if l.startswith("// Memory ")]
    assert mems == [f"// Memory lines: {p.in_shape[1]}-words x {4 * p.in_shape[2] * p.in_type.bits}-bit"], mems


def test_narrow_or_folded_keeps_the_ring():
    """Below the width, strided, or slower than a window a cycle: the ring generator."""
    rng = np.random.default_rng(2)
    assert not line_window(make_conv(rng, **full(dict(in_shape=(5, W - 1, 2), cout=2, k=3, padding=1))))
    assert not line_window(make_conv(rng, **full(dict(in_shape=(5, W, 2), cout=2, k=3, padding=1, stride=2))))
    assert not line_window(make_conv(rng, **dict(in_shape=(5, W, 2), cout=2, k=3, padding=1, pe=1, simd=18)))

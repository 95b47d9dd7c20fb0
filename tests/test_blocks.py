"""Every block against its golden op, element by element, in Migen's simulator, under seeded
random stalls on valid and ready, with back-to-back frames; every block converts to Verilog."""
import numpy as np
import pytest

from blockcheck import check_frames, run_frames, to_verilog
from lepton_hdl.hw.options import FAMILY
from conftest import make_add, make_conv, make_pool, rand_input

STALLS = [(1.0, 1.0), (0.6, 0.5)]


def frames_for(p, rng, n=2, modes=("random",)):
    out = []
    for i in range(n):
        mode = modes[i % len(modes)]
        out.append(rand_input(rng, p.in_shape, p.in_type, mode))
    return out


@pytest.mark.parametrize("k,stride,padding", [(1, 1, 0), (3, 1, 1), (3, 2, 1), (2, 2, 0), ((1, 3), 1, (0, 1)), (5, 1, 2)])
@pytest.mark.parametrize("vp,rp", STALLS)
def test_conv_kernel_stride_padding(k, stride, padding, vp, rp):
    rng = np.random.default_rng(hash((str(k), stride, str(padding))) % 2**32)
    p = make_conv(rng, (5, 5, 2), cout=4, k=k, stride=stride, padding=padding, pe=2, simd=2)
    check_frames(p, frames_for(p, rng), seed=7, valid_prob=vp, ready_prob=rp)
    to_verilog(p)


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("pe,simd", [(1, 1), (4, 1), (1, 18), (2, 6), (4, 18)])
def test_conv_folding(pe, simd, family):
    rng = np.random.default_rng(pe * 100 + simd)
    p = make_conv(rng, (4, 4, 2), cout=4, k=3, padding=1, pe=pe, simd=simd)
    check_frames(p, frames_for(p, rng), seed=pe + simd, valid_prob=0.7, ready_prob=0.7, opts=FAMILY[family])


@pytest.mark.parametrize("in_bits,w_bits,out_bits,in_signed,act", [
    (2, 2, 2, True, "none"), (4, 3, 5, False, "relu"), (8, 8, 8, False, "relu6"),
    (3, 8, 4, True, "relu"), (8, 2, 8, True, "none")])
def test_conv_bits(in_bits, w_bits, out_bits, in_signed, act):
    rng = np.random.default_rng(in_bits * 64 + w_bits * 8 + out_bits)
    p = make_conv(rng, (4, 4, 3), cout=4, k=3, padding=1, pe=2, simd=3, in_bits=in_bits,
                  w_bits=w_bits, out_bits=out_bits, in_signed=in_signed,
                  out_signed=act == "none", act=act)
    check_frames(p, frames_for(p, rng, 3, ("random", "max", "min")), seed=1, valid_prob=0.8, ready_prob=0.8)


@pytest.mark.parametrize("weights,mode", [("max", "max"), ("max", "min"), ("zero", "random"), ("random", "zero")])
def test_conv_extremes(weights, mode):
    """Saturation at both ends, zeros, max-magnitude weights."""
    rng = np.random.default_rng(11)
    p = make_conv(rng, (4, 4, 2), cout=2, k=3, padding=1, pe=1, simd=2, weights=weights)
    check_frames(p, [rand_input(rng, p.in_shape, p.in_type, mode)] * 2, seed=2, valid_prob=0.7, ready_prob=0.6)


@pytest.mark.parametrize("in_bits,w_bits,cin,weights,mode", [
    (8, 8, 2, "max", "max"), (8, 8, 2, "max", "min"), (8, 8, 16, "max", "max"), (8, 8, 16, "random", "random"),
    (2, 2, 2, "random", "random"), (4, 8, 3, "max", "min")])
def test_conv_ice40_options(in_bits, w_bits, cin, weights, mode):
    """The iCE40 options (requant as 16 low accumulator bits x M in one 16x16 product plus
    shift-adds for the high bits, no skid buffers, rotating operands) against the golden model,
    accumulators from a few bits to over 20."""
    rng = np.random.default_rng(in_bits * 100 + cin)
    p = make_conv(rng, (4, 4, cin), cout=4, k=3, padding=1, pe=2, simd=cin, in_bits=in_bits, w_bits=w_bits,
                  weights=weights)
    frames = [rand_input(rng, p.in_shape, p.in_type, m) for m in (mode, "random", "max", "min")]
    check_frames(p, frames, seed=3, valid_prob=0.8, ready_prob=0.8, opts=FAMILY["ice40"])


@pytest.mark.parametrize("groups,cout,pe,simd", [(2, 4, 2, 3), (4, 4, 1, 9), (4, 8, 4, 3), (4, 4, 4, 1)])
def test_conv_grouped_depthwise(groups, cout, pe, simd):
    rng = np.random.default_rng(groups * 10 + pe)
    p = make_conv(rng, (4, 4, 4), cout=cout, k=3, padding=1, groups=groups, pe=pe, simd=simd)
    check_frames(p, frames_for(p, rng), seed=5, valid_prob=0.7, ready_prob=0.7)
    to_verilog(p)


@pytest.mark.parametrize("in_shape,pe,simd", [((1, 1, 12), 2, 4), ((2, 2, 3), 5, 6), ((2, 2, 3), 1, 12)])
def test_linear(in_shape, pe, simd):
    rng = np.random.default_rng(sum(in_shape) + pe)
    p = make_conv(rng, in_shape, cout=10 if pe == 5 else 4, linear=True, pe=pe, simd=simd)
    assert p.collects_frame and p.kernel == in_shape[:2]
    check_frames(p, frames_for(p, rng, 3), seed=3, valid_prob=0.6, ready_prob=0.6)
    to_verilog(p)


@pytest.mark.parametrize("kind,k,stride,padding", [
    ("max", 2, None, 0), ("max", 3, 2, 1), ("max", 3, 1, 1), ("avg", 2, None, 0),
    ("avg", 3, 1, 1), ("avg", (2, 3), (2, 1), 0), ("global_avg", 1, None, 0)])
@pytest.mark.parametrize("vp,rp", STALLS)
def test_pool(kind, k, stride, padding, vp, rp):
    rng = np.random.default_rng(len(kind) + padding)
    p = make_pool(rng, (5, 6, 3), kind, k, stride, padding)
    check_frames(p, frames_for(p, rng, 3, ("random", "max", "min")), seed=4, valid_prob=vp, ready_prob=rp)
    to_verilog(p)


@pytest.mark.parametrize("in_bits,out_bits,signed", [(2, 2, True), (5, 3, False), (8, 8, True)])
def test_pool_bits(in_bits, out_bits, signed):
    rng = np.random.default_rng(in_bits)
    for kind in ("max", "avg"):
        p = make_pool(rng, (4, 4, 2), kind, 2, in_bits=in_bits, out_bits=out_bits, in_signed=signed,
                      out_signed=signed)
        check_frames(p, frames_for(p, rng, 2, ("random", "max")), seed=1, valid_prob=0.7, ready_prob=0.7)


@pytest.mark.parametrize("relu,a_bits,b_bits", [(False, 8, 8), (True, 4, 8), (False, 2, 3)])
@pytest.mark.parametrize("vp,rp", STALLS)
def test_residual_add(relu, a_bits, b_bits, vp, rp):
    rng = np.random.default_rng(a_bits * 10 + b_bits)
    p = make_add(rng, (3, 4, 3), a_bits=a_bits, b_bits=b_bits, relu=relu)
    frames = [(rand_input(rng, p.shape, p.a_type, m), rand_input(rng, p.shape, p.b_type, m2))
              for m, m2 in [("random", "random"), ("max", "max"), ("min", "max"), ("random", "min")]]
    check_frames(p, frames, seed=9, valid_prob=vp, ready_prob=rp)
    to_verilog(p)


def test_requant_block():
    from lepton_hdl.arith import IntType, quantize_multipliers
    from lepton_hdl.ops import RequantParams
    from lepton_hdl.params import Requant
    rng = np.random.default_rng(0)
    mult, shift = quantize_multipliers(rng.uniform(0.1, 0.9, size=3))
    p = RequantParams((3, 3, 3), IntType(8), Requant(mult, shift, IntType(6, False), lo=0, hi=40))
    check_frames(p, frames_for(p, rng, 3, ("random", "max", "min")), seed=1, valid_prob=0.6, ready_prob=0.6)
    to_verilog(p)


@pytest.mark.parametrize("make,kw", [
    (make_conv, dict(in_shape=(6, 6, 2), cout=4, k=3, padding=1, pe=2, simd=2)),
    (make_conv, dict(in_shape=(6, 6, 2), cout=4, k=3, stride=2, pe=4, simd=18)),
    (make_pool, dict(in_shape=(6, 6, 2), kind="max", k=2)),
    (make_pool, dict(in_shape=(6, 6, 2), kind="global_avg", k=1)),
])
def test_declared_cycles(make, kw):
    """A single frame, no stalls: declared cycles <= measured <= declared + latency."""
    rng = np.random.default_rng(0)
    p = make(rng, **kw)
    _, res = run_frames(p, [rand_input(rng, p.in_shape, p.in_type)])
    measured = res.cycles[-1] - res.first_in
    assert p.cycles - 1 <= measured <= p.cycles + p.latency, (measured, p.cycles, p.latency)


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_rounding_ties(shift):
    """Multiplier 1 and a small shift make exact .5 ties common: round half up, in RTL too."""
    from lepton_hdl.arith import IntType
    from lepton_hdl.ops import PoolParams, RequantParams
    from lepton_hdl.params import Requant
    rng = np.random.default_rng(shift)
    p = RequantParams((4, 4, 2), IntType(8), Requant((1, 3), shift, IntType(8)))
    check_frames(p, frames_for(p, rng, 2), seed=1)
    q = PoolParams((4, 4, 2), IntType(8), "avg", 2, requant=Requant((1,), 2, IntType(8)))
    check_frames(q, frames_for(q, rng, 2), seed=1)


@pytest.mark.parametrize("kind,k,stride,padding,shape", [
    ("max", 3, 1, 0, (3, 3, 2)), ("avg", 3, 1, 1, (1, 1, 3)), ("max", (2, 3), 1, 0, (2, 3, 2))])
def test_pool_whole_frame(kind, k, stride, padding, shape):
    """A pool whose kernel covers the whole padded frame (stride != kernel): the frame
    collector path, under stalls, frames back to back."""
    rng = np.random.default_rng(len(shape) + padding)
    p = make_pool(rng, shape, kind, k, stride, padding)
    assert p.collects_frame and not p.row_accumulate
    check_frames(p, frames_for(p, rng, 3, ("random", "max", "min")), seed=2, valid_prob=0.7, ready_prob=0.6)


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("kw", [
    dict(in_shape=(6, 6, 4), cout=4, k=3, padding=1, pe=4, simd=36),   # a window a cycle
    dict(in_shape=(6, 6, 4), cout=4, k=3, padding=1, pe=2, simd=36),   # every 2 cycles
    dict(in_shape=(6, 6, 4), cout=4, k=3, padding=1, pe=4, simd=12),   # every 3
    dict(in_shape=(7, 7, 2), cout=2, k=3, stride=2, pe=1, simd=18),    # stride 2, every 2
    dict(in_shape=(5, 5, 2), cout=4, k=3, padding=1, pe=1, simd=6),    # MAC-bound
])
def test_conv_cycles_equal_model(family, kw):
    """Back-to-back frames, no stalls: the steady-state period equals the op's cycle model for
    the family's generation options (with and without the window's skid buffer)."""
    rng = np.random.default_rng(5)
    p = make_conv(rng, **kw)
    opts = FAMILY[family]
    _, res = run_frames(p, [rand_input(rng, p.in_shape, p.in_type) for _ in range(4)], opts=opts)
    n_px = p.out_shape[0] * p.out_shape[1]
    assert res.steady_period(n_px) == p.op.cycles(p, opts)


# -- the channel window: the window a chunk of channels a step (window.ChannelWindow) -------------

CHUNKED = [
    dict(in_shape=(5, 5, 4), cout=4, k=3, padding=1, pe=2, simd=2),            # dense, 2 chunks a pixel
    dict(in_shape=(6, 6, 4), cout=4, k=3, stride=2, padding=1, pe=1, simd=4),  # stride 2, a chunk a pixel
    dict(in_shape=(6, 6, 8), cout=8, k=3, padding=1, pe=4, simd=1, groups=8),  # depthwise: a beat of pe channels
    dict(in_shape=(6, 6, 4), cout=4, k=1, stride=2, pe=4, simd=1),             # the writer is the bound
    dict(in_shape=(7, 5, 2), cout=2, k=(2, 3), stride=(2, 1), pe=2, simd=2),   # rectangular, bottom row unused
    dict(in_shape=(5, 1, 2), cout=2, k=(3, 1), padding=(1, 0), pe=1, simd=2),  # a word a row: read asynchronously
    dict(in_shape=(3, 3, 4), cout=32, k=3, padding=1, pe=1, simd=4),           # 32 folds: bias, multiplier ROMs
]


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("kw", CHUNKED)
def test_channel_window_exact_and_cycles(kw, family):
    """Convolutions whose steps read whole chunks of a pixel take their window from a
    ``ChannelWindow`` (no window or operand register): exact under stalls, frames back to back,
    and the steady-state period equals ``ChannelWindow.frame_cycles`` with ``==``."""
    from lepton_hdl.hw.conv import channel_window
    rng = np.random.default_rng(sum(map(ord, str(kw))))
    p = make_conv(rng, **kw)
    opts = FAMILY[family]
    assert channel_window(p, opts)
    dut = p.op.hardware(p, opts)
    assert not hasattr(dut.mac, "opr")                       # no operand register
    frames = [rand_input(rng, p.in_shape, p.in_type, m) for m in ("random", "max", "min", "random")]
    check_frames(p, frames[:3], seed=11, valid_prob=0.6, ready_prob=0.5, opts=opts)
    _, res = run_frames(p, frames, opts=opts)
    assert res.steady_period(p.out_shape[0] * p.out_shape[1]) == p.op.cycles(p, opts)


def test_channel_window_off_is_the_whole_window():
    """``HwOptions(channel_window=False)`` keeps the whole-window path, with its own cycle model."""
    import dataclasses
    from lepton_hdl.hw.conv import channel_window
    rng = np.random.default_rng(3)
    p = make_conv(rng, (5, 5, 4), cout=4, k=3, padding=1, pe=2, simd=2)
    opts = dataclasses.replace(FAMILY["ecp5"], channel_window=False)
    assert not channel_window(p, opts) and hasattr(p.op.hardware(p, opts).mac, "opr")
    frames = [rand_input(rng, p.in_shape, p.in_type) for _ in range(4)]
    check_frames(p, frames[:2], seed=2, valid_prob=0.7, ready_prob=0.7, opts=opts)
    _, res = run_frames(p, frames, opts=opts)
    assert res.steady_period(p.out_shape[0] * p.out_shape[1]) == p.op.cycles(p, opts)


def test_chunk_plan_matches_the_weights_order():
    """Every step's beat carries the elements the lanes' weights expect (``mac.check_plan``),
    for dense and depthwise plans; a grouped convolution that is not depthwise, or a ``simd``
    not dividing ``C_in``, has no plan."""
    from lepton_hdl.hw.mac import check_plan
    from lepton_hdl.hw.window import chunk_plan
    rng = np.random.default_rng(0)
    for kw in CHUNKED:
        p = make_conv(rng, **kw)
        check_plan(p, chunk_plan(p))
    assert chunk_plan(make_conv(rng, (4, 4, 4), cout=4, k=3, groups=2, pe=1, simd=2)) is None
    assert chunk_plan(make_conv(rng, (4, 4, 4), cout=4, k=3, pe=1, simd=6)) is None
    assert chunk_plan(make_conv(rng, (4, 4, 4), cout=4, k=3, groups=4, pe=1, simd=3)) is None

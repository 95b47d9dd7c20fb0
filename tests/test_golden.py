"""The golden model against independent references (torch float64 on integers, exact), the
arithmetic rules, and parameter validation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import make_add, make_conv, make_pool, rand_input
from lepton_hdl import golden
from lepton_hdl.arith import IntType, quantize_multipliers, requantize, round_shift
from lepton_hdl.ops import Conv2dParams, PoolParams, linear_params
from lepton_hdl.ops.conv import conv_accumulate
from lepton_hdl.params import Requant, apply_requant


def _nchw(x):
    return torch.from_numpy(np.asarray(x, dtype=np.float64).transpose(2, 0, 1)[None])


@pytest.mark.parametrize("k,stride,padding,groups,cin,cout", [
    (3, 1, 1, 1, 3, 4), (3, 2, 0, 1, 2, 5), (5, 1, 2, 1, 1, 2), (1, 1, 0, 1, 6, 3),
    (3, 1, 1, 4, 4, 4), (3, 2, 1, 2, 4, 6), ((1, 3), (2, 1), (0, 1), 1, 2, 2)])
def test_conv_accumulator_matches_torch(k, stride, padding, groups, cin, cout):
    """Integer accumulators equal torch's float64 conv on the same integers (exact)."""
    rng = np.random.default_rng(cin * cout)
    p = make_conv(rng, (7, 6, cin), cout=cout, k=k, stride=stride, padding=padding, groups=groups)
    x = rand_input(rng, p.in_shape, p.in_type)
    acc = conv_accumulate(x, p)
    w = torch.from_numpy(p.weight.astype(np.float64).transpose(0, 3, 1, 2))
    ref = F.conv2d(_nchw(x), w, torch.from_numpy(p.bias.astype(np.float64)), stride=p.stride,
                   padding=p.padding, groups=groups)[0].numpy().transpose(1, 2, 0)
    assert np.array_equal(acc, ref.astype(np.int64))


def test_linear_matches_matmul():
    rng = np.random.default_rng(0)
    p = make_conv(rng, (2, 3, 4), cout=5, linear=True)
    x = rand_input(rng, p.in_shape, p.in_type)
    acc = x.reshape(-1) @ p.weight.reshape(5, -1).T + p.bias
    assert np.array_equal(golden.run(p, x).reshape(-1), apply_requant(acc[None, None], p.requant)[0, 0])


@pytest.mark.parametrize("kind,k,stride,padding", [("max", 2, 2, 0), ("max", 3, 2, 1), ("avg", 2, 2, 0), ("avg", 3, 1, 1)])
def test_pool_matches_torch(kind, k, stride, padding):
    rng = np.random.default_rng(1)
    p = make_pool(rng, (6, 6, 3), kind, k, stride, padding)
    x = rand_input(rng, p.in_shape, p.in_type)
    if kind == "max":
        ref = F.max_pool2d(_nchw(x), k, stride, padding)[0].numpy().transpose(1, 2, 0)
        assert np.array_equal(golden.run(p, x), ref.astype(np.int64))
    else:
        sums = F.avg_pool2d(_nchw(x), k, stride, padding, count_include_pad=True) * (k * k)
        ref = apply_requant(sums[0].numpy().transpose(1, 2, 0).round().astype(np.int64), p.requant)
        assert np.array_equal(golden.run(p, x), ref)


def test_global_avg_pool():
    rng = np.random.default_rng(2)
    p = make_pool(rng, (4, 5, 3), "global_avg", 1)
    x = rand_input(rng, p.in_shape, p.in_type)
    assert np.array_equal(golden.run(p, x)[0, 0], apply_requant(x.sum(axis=(0, 1)), p.requant))


def test_round_half_up_and_saturation():
    assert round_shift(np.array([5, 6, 7, -5, -6, -7, -8]), 2).tolist() == [1, 2, 2, -1, -1, -2, -2]
    # -6/4 = -1.5 rounds up to -1; -10/4 = -2.5 rounds up to -2
    assert round_shift(np.array([-6, -10, 2, 6]), 2).tolist() == [-1, -2, 1, 2]
    assert requantize(np.array([10**6, -10**6, 0]), 3, 1, -128, 127).tolist() == [127, -128, 0]


def test_multiplier_precision():
    real = np.array([0.0123, 0.5, 0.00071, 3.7])
    mult, shift = quantize_multipliers(real)
    approx = np.array(mult) / 2.0 ** shift
    assert max(mult) < 2 ** 15 and max(mult) >= 2 ** 14
    assert np.all(np.abs(approx - real) <= 2.0 ** -(shift + 1) + 1e-18)


def test_accumulator_width_is_derived_and_sufficient():
    rng = np.random.default_rng(3)
    p = make_conv(rng, (4, 4, 8), cout=4, k=3, padding=1, weights="max")
    x = rand_input(rng, p.in_shape, p.in_type, "min")
    acc = conv_accumulate(x, p)
    lim = 1 << (p.acc_bits - 1)
    assert -lim <= acc.min() and acc.max() < lim
    assert p.acc_bound >= np.abs(acc).max()
    # the bound is tight: all weights +-127 times -128 reaches sum|w| * 128 at some channel
    assert p.acc_bits == int(p.acc_bound).bit_length() + 1


def test_add_golden():
    rng = np.random.default_rng(4)
    p = make_add(rng, (2, 2, 3))
    a, b = rand_input(rng, p.shape, p.a_type), rand_input(rng, p.shape, p.b_type)
    want = np.clip((a * p.mult_a + b * p.mult_b + (1 << (p.shift - 1))) >> p.shift, p.lo, p.hi)
    assert np.array_equal(golden.run(p, a, b), want)


def _conv(**kw):
    args = dict(in_shape=(4, 4, 4), in_type=IntType(8), weight=np.zeros((4, 3, 3, 4), int),
                bias=np.zeros(4, int), requant=Requant((1,), 0, IntType(8)))
    args.update(kw)
    return Conv2dParams(**args)


@pytest.mark.parametrize("kw,needle", [
    (dict(pe=3), "pe=3"),
    (dict(simd=5), "simd=5"),
    (dict(w_bits=9), "w_bits=9"),
    (dict(w_bits=1), "w_bits=1"),
    (dict(in_type=IntType(12)), "input bits=12"),
    (dict(weight=np.zeros((4, 7, 7, 4), int)), "kernel=(7, 7) is larger"),
    (dict(groups=3), "groups=3"),
    (dict(weight=np.full((4, 3, 3, 4), 200)), "exceed the symmetric"),
    (dict(stride=0), "stride=(0, 0)"),
])
def test_invalid_conv_params(kw, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        _conv(**kw)


def test_invalid_pool_and_linear():
    with pytest.raises(ValueError, match="kernel=.5, 5. is larger"):
        PoolParams((4, 4, 2), IntType(8), "max", 5)
    with pytest.raises(ValueError, match="kind='median'"):
        PoolParams((4, 4, 2), IntType(8), "median", 2)
    with pytest.raises(ValueError, match="does not match in_features"):
        linear_params((2, 2, 2), IntType(8), np.zeros((3, 7), int), 0, Requant((1,), 0, IntType(8)))
    with pytest.raises(ValueError, match="exceed sint8 range"):
        IntType(8).check(np.array([300]), "x")

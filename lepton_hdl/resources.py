"""First-order resource estimates per block, from its parameter object.

These steer the choice of parallelism and refuse models that cannot fit a board before any
synthesis; ``lepton-hdl build`` reports the real figures from Yosys/nextpnr. Multipliers are
counted exactly (one per product lane plus one per requant lane); LUT/FF figures count datapath
bits (adder trees, operand muxes, registers), memory bits exact. Real LUT use is about 3.25x
the LUT figure on both ECP5 and iCE40 (measured on digits at several budgets and precisions;
``platforms/flow.py`` holds the calibration the fit check applies).
"""
from __future__ import annotations

from .arith import MULT_BITS
from .params import AddParams, Conv2dParams, PoolParams, RequantParams


def _ring_bits(padded_shape, kernel, stride, bits):
    from .hw.window import ring_rows
    Hp, Wp, C = padded_shape
    return ring_rows(kernel, stride) * Wp * C * bits


def estimate(p) -> dict:
    """``{'mult', 'lut', 'ff', 'mem_bits'}`` for one block."""
    if isinstance(p, Conv2dParams):
        kh, kw = p.kernel
        C = p.in_shape[2]
        ib, wb, ob = p.in_type.bits, p.w_bits, p.out_type.bits
        win_bits = kh * kw * C * ib
        lanes = p.pe * p.simd
        mult = lanes + p.pe
        # operand mux (per distinct lane table), adder trees, accumulators, requant
        mux = (1 if p.groups == 1 else p.pe) * p.simd * ib * max(p.sf // 2, 1)
        lut = mux + lanes * (ib + wb) + p.pe * (p.acc_bits * 2 + MULT_BITS + ob) + 60
        ff = 2 * win_bits + lanes * (ib + wb + ib + wb) + p.pe * (3 * p.acc_bits + MULT_BITS) + p.out_channels * ob
        mem = p.weight.size * wb + _ring_bits(p.padded_shape, p.kernel, p.stride, ib)
        return dict(mult=mult, lut=int(lut), ff=int(ff), mem_bits=int(mem))
    if isinstance(p, PoolParams):
        C = p.in_shape[2]
        ib = p.in_type.bits
        n = p.kernel[0] * p.kernel[1]
        if p.kind == "global_avg":
            return dict(mult=C, lut=C * (p.sum_bits * 2 + MULT_BITS), ff=C * (2 * p.sum_bits + MULT_BITS), mem_bits=0)
        win = n * C * ib
        return dict(mult=0 if p.kind == "max" else C, lut=win + 40, ff=win + C * ib * 2,
                    mem_bits=_ring_bits(p.padded_shape, p.kernel, p.stride, ib))
    if isinstance(p, AddParams):
        C = p.shape[2]
        return dict(mult=2 * C, lut=C * (MULT_BITS + 2 * p.out.bits + 8), ff=C * 2 * (MULT_BITS + 8),
                    mem_bits=p.skip_depth * C * p.b_type.bits)
    if isinstance(p, RequantParams):
        C = p.in_shape[2]
        return dict(mult=C, lut=C * (MULT_BITS + 10), ff=C * (MULT_BITS + 16), mem_bits=0)
    raise TypeError(f"no estimate for {type(p).__name__}")


def total(params) -> dict:
    out = dict(mult=0, lut=0, ff=0, mem_bits=0)
    for p in params:
        for k, v in estimate(p).items():
            out[k] += v
    return out

"""DSP tiles by budget: products that fit one tile take one in generation order, the rest are
shift-and-add logic; bit-exact either way, and the estimate counts exactly what the gateware
(and Yosys) holds."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import lepton_hdl
from conftest import make_conv
from lepton_hdl.examples import zoo
from lepton_hdl.hw.common import DspTile, Product
from lepton_hdl.hw.options import FAMILY
from lepton_hdl.platforms import flow
from lepton_hdl.resources import estimate_graph, structure


def test_what_fits_a_tile():
    ecp5, ice40 = DspTile(18), DspTile(16, min_product=11)
    assert ecp5.fits(Product.of(8, True, (8, True)))
    assert ecp5.fits(Product.of(17, False, (8, True)))            # widened to 18 bits: still one tile
    assert not ecp5.fits(Product.of(18, False, (8, True)))        # 19 bits: would need two
    assert not ecp5.fits(Product.of(20, True, (9, True)))
    assert not ecp5.fits(Product.of(8, True, 64)) and not ecp5.fits(Product.of(8, True, 0))   # shifts
    assert ecp5.fits(Product.of(8, True, 37)) and ecp5.fits(Product.of(8, True, -37))
    assert not ice40.fits(Product.of(4, True, (4, True)))         # Yosys keeps < 11-bit products in LCs
    assert ice40.fits(Product.of(16, False, (16, False)))


@pytest.mark.parametrize("tiles", [0, 7])
def test_partial_budget_bit_exact_and_counted(tiles):
    m, x = zoo.make("residual")
    pipe = lepton_hdl.compile(m, x, max_multipliers=128)
    opts = dataclasses.replace(FAMILY["ecp5"], dsp_tiles=tiles)
    q = pipe.quantize_input(x[:4])
    got, _ = pipe.simulate(q, integer=True, opts=opts, seed=3, valid_prob=0.7, ready_prob=0.7)
    assert np.array_equal(got, pipe.golden_int(q))
    top = pipe.freeze(opts)
    est = estimate_graph(pipe.graph, "ecp5", tiles)
    assert sum(top.dsp.used.values()) == est.total["DSP"] == tiles
    assert {b.name: b.DSP for b in est.blocks if b.DSP} == {k: v for k, v in top.dsp.used.items() if v}


@pytest.mark.toolchain
def test_yosys_infers_exactly_the_budget():
    """Yosys (DSP inference on) maps exactly the budgeted products to MULT18X18D / SB_MAC16."""
    flow.tool("yosys")                  # ToolMissing (a failure) when not installed
    out = Path(__file__).resolve().parent.parent / "build" / "test-dsp"     # YoWASP cannot see /tmp
    p = make_conv(np.random.default_rng(0), (4, 4, 8), 16, 3, padding=1, pe=2, simd=8)
    n_fit = sum(DspTile(18).fits(pr) for pr in structure(p, FAMILY["ecp5"]).products)
    assert n_fit > 6
    from lepton_hdl.platforms.jobs import synth_block
    r = synth_block(p, "ecp5", 6, str(out / "ecp5"))
    assert r["DSP"] == 6
    r = synth_block(p, "ice40", 3, str(out / "ice40"))
    assert r["DSP"] == 3

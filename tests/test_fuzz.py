"""Random valid graphs (``lepton_hdl.fuzz``) at three levels: the float passes keep the torch
model's function, the generated C equals the golden model on every element (host gcc), the RTL
equals it under random stalls (Verilator) with cycles equal to the bound. A fixed-seed sample:
300 graphs golden == C, 25 golden == RTL (and two regression seeds from the campaign), 8
wide-frame graphs (the video-rate window generator) golden == RTL; ``bench/fuzz.py --n N
[--wide]`` runs more on Dask."""
from __future__ import annotations

import pytest

from conftest import require_tool
from lepton_hdl.fuzz import check, draw_spec, numpy_draw

C_SEEDS = range(1000, 1300)
RTL_SEEDS = list(range(2000, 2025)) + [
    500406,   # nested joins: four frames to settle (the cycle check's 16 frames)
    500457,   # a lane-folded residual add after a zero-slack convolution (its row FIFOs)
]
WIDE_SEEDS = range(3000, 3008)
CHUNK = 20


@pytest.mark.parametrize("start", range(C_SEEDS.start, C_SEEDS.stop, CHUNK))
def test_golden_equals_c(start, tmp_path):
    require_tool("gcc")
    bad = []
    for seed in range(start, start + CHUNK):
        spec = draw_spec(numpy_draw(seed), seed)
        r = check(spec, levels=("float", "c"), workdir=tmp_path)
        if r["mismatches"]:
            bad.append(r)
    assert not bad, bad


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("seed", RTL_SEEDS)
def test_golden_equals_rtl(seed):
    require_tool("verilator")
    spec = draw_spec(numpy_draw(seed), seed)
    r = check(spec, levels=("rtl",))
    assert r["mismatches"] == 0, r


@pytest.mark.slow
@pytest.mark.verilator
@pytest.mark.parametrize("seed", WIDE_SEEDS)
def test_wide_golden_equals_rtl(seed):
    require_tool("verilator")
    spec = draw_spec(numpy_draw(seed), seed, wide=True)
    r = check(spec, levels=("rtl",))
    assert r["mismatches"] == 0, r


def test_wide_sample_takes_line_windows():
    """The wide sample exercises the line-buffer generator (not only the ring)."""
    from lepton_hdl.fuzz import compile_spec
    from lepton_hdl.hw.conv import line_window
    n = 0
    for seed in WIDE_SEEDS:
        _, _, pipe = compile_spec(draw_spec(numpy_draw(seed), seed, wide=True))
        n += sum(1 for nd in pipe.graph.nodes if nd.op.name == "conv2d" and line_window(nd.params))
    assert n >= 8, n


def test_hypothesis_drawn_graphs():
    """The same generator driven by hypothesis (derandomized: the same graphs every run), which
    would shrink a failing graph to a small one."""
    require_tool("gcc")
    import tempfile
    from pathlib import Path
    from hypothesis import HealthCheck, given, settings, strategies as st

    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def run(data):
        spec = draw_spec(lambda lo, hi: data.draw(st.integers(lo, hi)), seed=data.draw(st.integers(0, 9999)))
        with tempfile.TemporaryDirectory() as d:
            r = check(spec, levels=("float", "c"), workdir=Path(d))
        assert r["mismatches"] == 0, r
    run()

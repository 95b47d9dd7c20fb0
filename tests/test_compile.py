"""The graph walker: frontend, passes, lowering and the Pipeline API on a zoo of models."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

import lepton_hdl
from blockcheck import assert_equal
from conftest import require_tool
from lepton_hdl import floatref, golden
from lepton_hdl.errors import FitError, ParallelismError, TraceError, UnsupportedOpError
from lepton_hdl.examples import zoo
from lepton_hdl.frontend import trace
from lepton_hdl.passes import default_passes
from lepton_hdl.pipeline import to_stream_layout

# float torch vs the quantized golden model: the one place with a tolerance. 8-bit weights and
# activations; the error is relative to the output's largest magnitude.
QUANT_TOL = 0.06
BUDGET = 256   # multipliers: keeps the Verilator builds of the zoo small


def _compile(name, **kw):
    m, x = zoo.make(name)
    return m, x, lepton_hdl.compile(m, x, max_multipliers=kw.pop("max_multipliers", BUDGET), **kw)


@pytest.mark.parametrize("name", zoo.NAMES)
def test_golden_close_to_torch(name):
    m, x, p = _compile(name)
    with torch.no_grad():
        ref = m(x).numpy()
    if ref.ndim == 4:                    # (N, C, H, W) -> the stream layout (N, H, W, C)
        ref = ref.transpose(0, 2, 3, 1)
    assert np.abs(p.float_reference(x) - ref).max() <= 1e-6 * max(1.0, np.abs(ref).max())
    err = np.abs(p.dequantize(p.golden(x)) - ref).max() / np.abs(ref).max()
    assert err < QUANT_TOL, f"{name}: quantized golden differs from float by {err:.3f} of full scale"


@pytest.mark.verilator
@pytest.mark.parametrize("name", zoo.NAMES)
def test_zoo_rtl_bit_exact(name):
    require_tool("verilator")
    m, x, p = _compile(name)
    rng = np.random.default_rng(0)
    xs = torch.from_numpy(rng.normal(size=(12,) + tuple(x.shape[1:])).astype(np.float32))
    want = p.golden(xs)
    for seed, vp, rp in [(1, 0.6, 0.5), (2, 1.0, 0.3)]:
        got, _ = p.simulate(xs, seed=seed, valid_prob=vp, ready_prob=rp)
        assert_equal(got, want, f"{name} stalls {vp}/{rp}")
    got, info = p.simulate(xs)
    assert_equal(got, want, f"{name} no stalls")
    assert info["cycles_per_frame"] == p.bound_cycles, (info["cycles_per_frame"], p.bound_cycles)


def _stream_samples(m, x):
    g = trace(m, x)
    return g, list(to_stream_layout(x.numpy(), g.input.shape, g.input.flat))


@pytest.mark.parametrize("name", zoo.NAMES)
def test_every_pass_preserves_outputs(name):
    """Float passes keep the float function (to rounding); passes after quantization keep the
    golden outputs exactly."""
    m, x = zoo.make(name)
    g, xs = _stream_samples(m, x)
    passes = default_passes(xs, max_multipliers=BUDGET)
    ref = [floatref.execute(g, xi) for xi in xs[:8]]
    for p in passes[:2]:
        g = p(g)
        for xi, r in zip(xs[:8], ref):
            assert np.allclose(floatref.execute(g, xi), r, rtol=1e-9, atol=1e-9), p.__name__
    g = passes[2](g)
    qin = g.input.qtype
    qs = [np.clip(np.floor(xi / qin.scale + 0.5), qin.type.qmin, qin.type.qmax).astype(np.int64) for xi in xs[:8]]
    gold = [golden.execute(g, q) for q in qs]
    for p in passes[3:]:
        g = p(g)
        for q, want in zip(qs, gold):
            assert np.array_equal(golden.execute(g, q), want), p.__name__


def test_passes_are_pure():
    m, x = zoo.make("residual")
    g, xs = _stream_samples(m, x)
    for p in default_passes(xs):
        before = (g.summary(), [dict(n.attrs) for n in g.nodes])
        out = p(g)
        assert (g.summary(), [dict(n.attrs) for n in g.nodes]).__repr__() == before.__repr__(), p.__name__
        g = out


def test_batchnorm_folded_and_activation_fused():
    _, _, p = _compile("residual")
    ops = [n.op.name for n in p.graph.nodes]
    assert "batchnorm" not in ops and "act" not in ops
    add = next(n for n in p.graph.nodes if n.op.name == "add")
    assert add.params.lo == 0 and max(add.attrs["join_fifos"]) > 8 and min(add.attrs["join_fifos"]) == 0


def test_unsupported_module_names_op_path_and_supported():
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 4, 1), nn.Softmax(dim=1)))
    with pytest.raises(UnsupportedOpError) as e:
        lepton_hdl.compile(m, torch.randn(2, 1, 6, 6))
    msg = str(e.value)
    assert "nn.Softmax" in msg and "'2.1'" in msg and "Supported modules" in msg and "Conv2d" in msg


def test_unsupported_function_and_settings():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return torch.exp(self.c(x))
    with pytest.raises(UnsupportedOpError, match="torch.exp"):
        lepton_hdl.compile(M(), torch.randn(2, 1, 6, 6))
    with pytest.raises(UnsupportedOpError, match="dilation"):
        lepton_hdl.compile(nn.Conv2d(1, 2, 3, dilation=2), torch.randn(2, 1, 8, 8))
    with pytest.raises(UnsupportedOpError, match="BatchNorm at '1' follows maxpool"):
        lepton_hdl.compile(nn.Sequential(nn.MaxPool2d(2), nn.BatchNorm2d(1)), torch.randn(2, 1, 8, 8))


def test_data_dependent_control_flow_is_a_clear_error():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            if x.sum() > 0:
                return self.c(x)
            return self.c(-x)
    with pytest.raises(TraceError, match="Data-dependent control flow"):
        lepton_hdl.compile(M(), torch.randn(2, 1, 6, 6))


def test_bad_parallelism_errors():
    m, x = zoo.make("lenet")
    with pytest.raises(ParallelismError, match=r"layer 'c1': pe=4, simd=5 is impossible.*pe must divide 6"):
        lepton_hdl.compile(m, x, fold={"c1": (4, 5)})
    with pytest.raises(ParallelismError, match="no conv2d/linear layer named 'nope'"):
        lepton_hdl.compile(m, x, fold={"nope": (1, 1)})
    with pytest.raises(FitError, match="over the budget of 5"):
        lepton_hdl.compile(m, x, max_multipliers=5)


def test_fold_override_and_budget():
    m, x = zoo.make("lenet")
    p = lepton_hdl.compile(m, x, fold={"c1": (2, 5)}, max_multipliers=None)
    c1 = next(n for n in p.graph.nodes if n.label == "c1").params
    assert (c1.pe, c1.simd) == (2, 5)
    small = lepton_hdl.compile(m, x, max_multipliers=64)
    assert small.bench()["resources"]["mult"] <= 64
    assert small.bound_cycles > lepton_hdl.compile(m, x, max_multipliers=None).bound_cycles


def test_verilog_export(tmp_path):
    _, _, p = _compile("depthwise_separable")
    path = p.to_verilog(tmp_path / "p.v")
    text = path.read_text()
    assert "module lepton_pipeline" in text and "endmodule" in text


@pytest.mark.verilator
def test_cli_compile_digits_verify(tmp_path):
    """digits: golden within 1 point of float, 0 RTL mismatches over the 360 held-out images,
    measured cycles per frame equal to the bound."""
    require_tool("verilator")
    from lepton_hdl.cli import main
    assert main(["compile", "digits", "--out", str(tmp_path), "--verify"]) == 0
    r = json.loads((tmp_path / "report.json").read_text())
    assert r["images"] == 360 and r["rtl_mismatches"] == 0
    acc = r["accuracy"]
    assert acc["float"] > 0.9 and abs(acc["float"] - acc["golden"]) <= 0.01 and acc["rtl"] == acc["golden"]
    assert r["cycles_per_frame"] == r["bound_cycles"]
    assert {"name", "op", "pe", "simd", "cycles"} <= set(r["layers"][0])
    assert (tmp_path / "lepton_pipeline.v").exists() and (tmp_path / "vectors" / "input.hex").exists()


@pytest.mark.verilator
def test_residual_default_budget_meets_bound():
    """At the default budget residual's convolutions take a window every 2 cycles (the skid
    buffer hides part of each row start): the pipeline's measured period equals its bound."""
    require_tool("verilator")
    m, x = zoo.make("residual")
    p = lepton_hdl.compile(m, x)
    xs = torch.from_numpy(np.random.default_rng(3).normal(size=(12, 3, 8, 8)).astype(np.float32))
    got, info = p.simulate(xs)
    assert_equal(got, p.golden(xs), "residual default budget")
    assert info["cycles_per_frame"] == p.bound_cycles == 136


@pytest.mark.verilator
def test_resnet8_topology_exact_at_its_bound():
    """The MLPerf Tiny ResNet-8 topology (3x32x32, 16/32/64 channels) at 256 multipliers:
    the adds and the global pool fold to one lane, the convolutions to the 73,728-cycle rate
    (channel-window foldings: simd dividing each layer's input channels); RTL == golden and the
    measured period equals the bound."""
    require_tool("verilator")
    from lepton_hdl.examples import resnet8
    m, x = resnet8.factory()
    p = lepton_hdl.compile(m, x, max_multipliers=256)
    assert p.bound_cycles == 73728 and p.bench()["resources"]["mult"] <= 256
    lanes = {r.name: r.lanes for r in p.layers() if r.op in ("add", "global_avgpool")}
    assert set(lanes.values()) == {1}, lanes
    xs = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    got, info = p.simulate(xs)
    assert_equal(got, p.golden(xs), "resnet8")
    assert info["cycles_per_frame"] == p.bound_cycles


@pytest.mark.verilator
@pytest.mark.slow
def test_resnet8_for_the_ulx3s_exact_as_built():
    """ResNet-8 as ``--board ulx3s`` folds it runs at most 50,000 cycles a frame, and the gateware
    the ULX3S build synthesizes (156 DSP tiles, the other products carry-chain arrays) is
    bit-exact under Verilator at its bound."""
    require_tool("verilator")
    from lepton_hdl.examples import resnet8
    from lepton_hdl.platforms import boards, flow
    m, x = resnet8.factory()
    p = lepton_hdl.compile(m, x, board="ulx3s")
    assert p.bound_cycles <= 50_000
    xs = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    got, info = p.simulate(xs, opts=flow.build_options(boards.get("ulx3s")))
    assert_equal(got, p.golden(xs), "resnet8 ulx3s")
    assert info["cycles_per_frame"] == p.bound_cycles


def test_fps_picks_the_cheapest_pipeline_that_meets_it():
    m, cal, _, _ = __import__("lepton_hdl.examples.digits", fromlist=["factory"]).factory()
    fast = lepton_hdl.compile(m, cal)
    p = lepton_hdl.compile(m, cal, fps=400_000, clock_mhz=100)
    assert p.bound_cycles <= 250 and p.bench()["resources"]["mult"] < fast.bench()["resources"]["mult"]
    with pytest.raises(FitError, match=r"2e\+06 frames/s at 100 MHz needs <= 50 cycles.*takes 100"):
        lepton_hdl.compile(m, cal, fps=2_000_000, clock_mhz=100)
    with pytest.raises(FitError, match="must be positive"):
        lepton_hdl.compile(m, cal, fps=-5)


def test_register_refuses_an_incomplete_op():
    from lepton_hdl.ops import Op, register

    class HalfDone(Op):
        name = "half_done_test_op"

        def float_exec(self, node, args):
            return args[0]
    with pytest.raises(TypeError, match="does not define quantize, golden, estimate, hardware, c_function"):
        register(HalfDone)


@pytest.mark.parametrize("bad", ["c1", "c1=", "c1=a,b", "c1=1,2,3", "=2"])
def test_cli_bad_fold_is_one_line(bad, capsys, tmp_path):
    from lepton_hdl.cli import main
    assert main(["compile", "digits", "--out", str(tmp_path), "--fold", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "expected LAYER=PE,SIMD" in err and "Traceback" not in err


def test_real_size_example_factories_load_from_a_path():
    """The ResNet-8 and DS-CNN examples load as `lepton-hdl --model FILE.py:factory` loads them
    (a file, not a package module), with their published input shapes and the same weights as
    the package import."""
    from lepton_hdl.examples import resnet8
    from lepton_hdl.models import load
    for name, shape in (("resnet8", (3, 32, 32)), ("dscnn", (1, 49, 10))):
        spec = load(f"lepton_hdl/examples/{name}.py:factory")
        assert tuple(spec.samples.shape[1:]) == shape
    a = load("lepton_hdl/examples/resnet8.py:factory").model.state_dict()
    b = resnet8.factory()[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in b)


def test_fifo_sizing_is_idempotent_and_follows_the_folding():
    """``size_fifos`` sizes every FIFO afresh: sizing twice changes nothing, and a graph folded
    again (as ``explore`` does) keeps no FIFO sized for its earlier folding."""
    from lepton_hdl.models import load
    from lepton_hdl.passes.fifos import size_fifos
    from lepton_hdl.passes.parallelism import assign_parallelism
    spec = load("digits")
    p = lepton_hdl.compile(spec.model, spec.samples, target_cycles=512)

    def attrs(g):
        return [(n.name, n.attrs.get("row_fifo"), n.attrs.get("join_fifos")) for n in g.nodes]
    assert attrs(size_fifos(p.graph)) == attrs(p.graph)
    for t in (100, 256, 1024, 4096):
        again = assign_parallelism(target_cycles=t)(p.graph)
        clean = again.with_nodes([n.with_(attrs={k: v for k, v in n.attrs.items() if k not in ("row_fifo", "join_fifos")})
                                  for n in again.nodes])
        assert attrs(size_fifos(again)) == attrs(size_fifos(clean)), t


def test_verilog_text_does_not_depend_on_the_process_history():
    """The same pipeline prints the same Verilog whatever signals the process made before (a
    Dask worker that elaborated other blocks first): build caches keyed by the text hit."""
    from migen import Signal
    from lepton_hdl.hw.lower import LoweredPipeline
    from lepton_hdl.hw.options import FAMILY
    from lepton_hdl.platforms.flow import AccelHarness
    from lepton_hdl.sim.verilator import to_verilog
    m, x = zoo.make("residual")
    p = lepton_hdl.compile(m, x)

    def text():                     # as the syntheses print it
        top = AccelHarness(LoweredPipeline(p.graph, FAMILY["ecp5"]))
        return to_verilog(top, {top.in_valid, top.out_ready, top.out_bit, top.out_valid}).main_source
    first = text()
    junk = [Signal() for _ in range(4099)]
    assert text() == first and junk

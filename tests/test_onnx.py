"""The ONNX frontend: torch -> ONNX -> lepton_hdl gives exactly the golden outputs of torch ->
lepton_hdl (both of torch's exporters, every zoo model), the RTL of an ONNX model is exact, and
what it cannot take is refused naming the op type and the node."""
import contextlib
import io
import subprocess
import sys
import warnings

import numpy as np
import pytest

import onnx  # a dev dependency: a missing package fails, never skips


def _export(model, x, path, dynamo):
    import torch
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x[:1], str(path), dynamo=dynamo)
    return path


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript-exporter", "dynamo-exporter"])
def test_zoo_through_onnx_is_identical(tmp_path, dynamo):
    """Every zoo model, exported to ONNX: the same graph size, cycles and golden outputs (==)."""
    import lepton_hdl
    from lepton_hdl.examples import zoo
    for name in zoo.NAMES:
        m, x = zoo.make(name)
        path = _export(m, x, tmp_path / f"{name}.onnx", dynamo)
        a = lepton_hdl.compile(m, x, max_multipliers=256, name=name)
        b = lepton_hdl.compile(path, x, max_multipliers=256)
        assert b.name == name
        assert a.bound_cycles == b.bound_cycles, name
        ga, gb = a.golden(x.numpy()), b.golden(x.numpy())
        assert ga.shape == gb.shape and np.array_equal(ga, gb), f"{name}: {np.sum(ga != gb)} elements differ"


@pytest.mark.slow
@pytest.mark.verilator
def test_onnx_model_rtl_exact(tmp_path):
    """A residual model exported to ONNX simulates bit-exact under Verilator at its bound, and its
    RTL output equals the torch path's golden output."""
    from conftest import require_tool
    require_tool("verilator")
    import lepton_hdl
    from lepton_hdl.examples import zoo
    m, x = zoo.make("residual")
    path = _export(m, x, tmp_path / "residual.onnx", dynamo=False)
    pipe = lepton_hdl.compile(path, x, max_multipliers=256)
    y, info = pipe.simulate(x[:4].numpy())
    ref = lepton_hdl.compile(m, x, max_multipliers=256).golden(x[:4].numpy())
    assert np.array_equal(y, ref)
    assert info["cycles_per_frame"] == pipe.bound_cycles


def _model(nodes, inits, in_shape=(1, 2, 6, 6), out_shape=None):
    from onnx import TensorProto, helper, numpy_helper
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_unsupported_onnx_op_named_with_its_node():
    import lepton_hdl
    from onnx import helper
    from lepton_hdl.errors import UnsupportedOpError
    w = np.ones((3, 2, 3, 3))
    m = _model([helper.make_node("Conv", ["x", "w"], ["c"], name="stem_conv", pads=[1, 1, 1, 1]),
                helper.make_node("Softmax", ["c"], ["y"], name="head_softmax", axis=1)], {"w": w})
    x = np.random.default_rng(0).normal(size=(4, 2, 6, 6)).astype(np.float32)
    with pytest.raises(UnsupportedOpError, match=r"'Softmax' at node 'head_softmax'.*Supported ONNX op types: .*Conv"):
        lepton_hdl.compile(m, x)
    # an attribute the hardware lacks: named too
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="odd_pad", pads=[0, 1, 1, 1])], {"w": w})
    with pytest.raises(UnsupportedOpError, match=r"'Conv' at node 'odd_pad': asymmetric padding"):
        lepton_hdl.compile(m, x)
    m = _model([helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2, 2])], {"w": w})
    with pytest.raises(UnsupportedOpError, match=r"'Conv' at node 'dil': dilations"):
        lepton_hdl.compile(m, x)


def test_onnx_built_with_the_helper_compiles():
    """A model written with onnx.helper (not exported): Conv + BatchNormalization + Relu +
    GlobalAveragePool + Flatten + Gemm, against a numpy reference of the float model."""
    import lepton_hdl
    from onnx import helper
    rng = np.random.default_rng(1)
    inits = dict(w=rng.normal(size=(4, 2, 3, 3)) * 0.3, b=rng.normal(size=4) * 0.1, s=rng.uniform(0.5, 1.5, 4),
                 bb=rng.normal(size=4) * 0.1, mu=rng.normal(size=4) * 0.1, var=rng.uniform(0.5, 2, 4),
                 fw=rng.normal(size=(3, 4)), fb=rng.normal(size=3) * 0.1)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "mu", "var"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1)]
    m = _model(nodes, inits, out_shape=[1, 3])
    onnx.checker.check_model(m)
    x = rng.normal(size=(16, 2, 6, 6)).astype(np.float32)
    pipe = lepton_hdl.compile(m, x, max_multipliers=64)
    assert [n.op.name for n in pipe.graph.nodes][-1] == "linear"
    # the float model it traced equals the ONNX semantics computed in numpy
    from lepton_hdl.onnx_frontend import to_module
    import torch
    with torch.no_grad():
        y = to_module(m)(torch.as_tensor(x)).numpy()
    c = np.zeros((16, 4, 6, 6))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i in range(3):
        for j in range(3):
            c += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 6, j:j + 6], inits["w"][:, :, i, j])
    c += inits["b"][None, :, None, None]
    n = (c - inits["mu"][None, :, None, None]) / np.sqrt(inits["var"][None, :, None, None] + 1e-5)
    r = np.maximum(n * inits["s"][None, :, None, None] + inits["bb"][None, :, None, None], 0)
    ref = r.mean((2, 3)) @ inits["fw"].T + inits["fb"]
    assert np.allclose(y, ref, atol=1e-4)


def test_cli_onnx_with_samples(tmp_path):
    """`lepton-hdl compile model.onnx --samples x.npy` writes the Verilog; without --samples, or
    with a file that is not a .npy array, one line on stderr and a non-zero exit."""
    from lepton_hdl.examples import zoo
    m, x = zoo.make("lenet")
    path = _export(m, x, tmp_path / "lenet.onnx", dynamo=False)
    np.save(tmp_path / "x.npy", x.numpy())
    cli = [sys.executable, "-m", "lepton_hdl.cli", "compile", str(path)]
    r = subprocess.run(cli + ["--samples", str(tmp_path / "x.npy"), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "lepton_pipeline.v").exists()
    for extra, want in (([], "needs calibration inputs: --samples"), (["--samples", str(path)], "not a .npy array")):
        r = subprocess.run(cli + extra + ["--out", str(tmp_path / "o2")], capture_output=True, text=True)
        assert r.returncode != 0 and "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and want in lines[0], r.stderr


QONNX = "qonnx.custom_op.general"


def qonnx_model(bits=4, rng=None, extra=None, bn=False):
    """A small CNN quantised throughout as Brevitas exports it: Quant nodes (domain
    qonnx.custom_op.general) on the input, every weight (per-channel and per-tensor scales) and
    every activation; written with the onnx helper."""
    from onnx import TensorProto, helper, numpy_helper
    rng = rng or np.random.default_rng(0)
    inits, nodes = {}, []

    def c(name, v):
        inits[name] = np.asarray(v, np.float32)
        return name

    def quant(x, out, scale, signed, narrow=0):
        nodes.append(helper.make_node("Quant", [x, c(out + "_s", scale), c(out + "_z", 0.0), c(out + "_b", bits)], [out],
                                      name=out, domain=QONNX, signed=signed, narrow=narrow, rounding_mode="ROUND"))
        return out
    x = quant("x", "qin", 1 / 15, 0)
    w1 = quant(c("w1", rng.normal(size=(6, 1, 3, 3)) * 0.4), "w1q", rng.uniform(0.05, 0.15, (6, 1, 1, 1)), 1, 1)
    nodes.append(helper.make_node("Conv", [x, w1, c("b1", rng.normal(size=6) * 0.1)], ["c1"], name="conv1",
                                  pads=[1, 1, 1, 1]))
    src = "c1"
    if bn:
        nodes.append(helper.make_node("BatchNormalization", ["c1", c("g", np.ones(6)), c("be", np.zeros(6)),
                                                             c("mu", np.zeros(6)), c("v", np.ones(6))], ["n1"], name="bn1"))
        src = "n1"
    nodes.append(helper.make_node("Relu", [src], ["r1"], name="relu1"))
    a1 = quant("r1", "a1", 0.12, 0)
    nodes.append(helper.make_node("MaxPool", [a1], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]))
    w2 = quant(c("w2", rng.normal(size=(8, 6, 3, 3)) * 0.2), "w2q", 0.05, 1, 1)
    nodes.append(helper.make_node("Conv", ["p1", w2], ["c2"], name="conv2", pads=[1, 1, 1, 1]))
    nodes.append(helper.make_node("Relu", ["c2"], ["r2"], name="relu2"))
    a2 = quant("r2", "a2", 0.2, 0)
    nodes.append(helper.make_node("Flatten", [a2], ["f"], name="flat"))
    w3 = quant(c("w3", rng.normal(size=(10, 8 * 4 * 4)) * 0.1), "w3q", 0.02, 1, 1)
    nodes.append(helper.make_node("Gemm", ["f", w3, c("b3", rng.normal(size=10) * 0.1)], ["g3"], name="fc", transB=1))
    quant("g3", "y", 0.25, 1)
    for n in extra or []:
        nodes.append(n)
    g = helper.make_graph(nodes, "qnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QONNX, 1)]), inits


@pytest.mark.slow
@pytest.mark.verilator
def test_qonnx_4bit_compiles_with_its_own_scales_and_is_exact():
    """A 4-bit QONNX model compiles without calibration samples: every activation has the scale
    and width its Quant gives, every weight the integers its Quant gives; the RTL equals the
    golden model under Verilator at its bound, and the golden model equals the QONNX float
    semantics (fake quantization) to one output step."""
    from conftest import require_tool
    require_tool("verilator")
    import torch
    import lepton_hdl
    from lepton_hdl.onnx_frontend import to_module
    m, inits = qonnx_model()
    p = lepton_hdl.compile(m, max_multipliers=64)
    q = {n.name: n.qtype for n in p.graph.nodes}
    f32 = lambda v: float(np.float32(v))     # noqa: E731  the scales as ONNX stores them
    assert q["x"].scale == f32(1 / 15) and (q["x"].type.bits, q["x"].type.signed) == (4, False)
    assert q["conv1"].scale == f32(0.12) and q["conv2"].scale == f32(0.2) and q["pool1"].scale == f32(0.12)
    assert q["fc"].scale == 0.25 and (q["fc"].type.bits, q["fc"].type.signed) == (4, True)
    conv2 = next(n for n in p.graph.nodes if n.name == "conv2")
    want = np.clip(np.round(inits["w2"] / np.float32(0.05)), -7, 7).astype(np.int64).transpose(0, 2, 3, 1)
    assert np.array_equal(np.asarray(conv2.params.weight).reshape(want.shape), want)
    assert p.graph.meta["w_bits"] == 4 and p.graph.meta["a_bits"] == 4
    xs = np.random.default_rng(2).uniform(0, 1, (32, 1, 8, 8)).astype(np.float32)
    gold = p.golden(xs)
    with torch.no_grad():
        ref = to_module(m)(torch.as_tensor(xs)).numpy()
    steps = np.abs(gold.reshape(32, -1) * q["fc"].scale - ref) / q["fc"].scale
    # bias rounding and 16-bit requant multipliers: one output step at most, on few outputs
    assert steps.max() <= 1 + 1e-6 and np.mean(steps > 0.5) < 0.1
    y, info = p.simulate(xs[:6])
    assert np.array_equal(y, gold[:6])
    assert info["cycles_per_frame"] == p.bound_cycles


def test_qonnx_refusals():
    """What a QONNX model cannot have, each named: Trunc, a non-zero zero point, BatchNorm after
    a quantised convolution; a model quantised only in part needs samples for the rest."""
    import lepton_hdl
    from onnx import helper
    from lepton_hdl.errors import InputError, UnsupportedOpError
    m, _ = qonnx_model(extra=[helper.make_node("Trunc", ["y", "y_s", "y_z", "y_b", "y_b"], ["t"], name="trunc0",
                                               domain=QONNX)])
    with pytest.raises(UnsupportedOpError, match=r"'Trunc' at node 'trunc0'"):
        lepton_hdl.compile(m)
    m, _ = qonnx_model()
    m.graph.initializer.remove(next(t for t in m.graph.initializer if t.name == "a2_z"))
    from onnx import numpy_helper
    m.graph.initializer.append(numpy_helper.from_array(np.asarray(1.0, np.float32), "a2_z"))
    with pytest.raises(UnsupportedOpError, match=r"'Quant' at node 'a2': a non-zero zero point"):
        lepton_hdl.compile(m)
    m, _ = qonnx_model(bn=True)
    with pytest.raises(UnsupportedOpError, match=r"BatchNorm after a layer with given integer weights"):
        lepton_hdl.compile(m)
    # the activation after conv2 not quantised: without samples, named; with samples, it compiles
    m, _ = qonnx_model()
    k = [n.name for n in m.graph.node].index("a2")
    m.graph.node.remove(m.graph.node[k])
    m.graph.node.insert(k, helper.make_node("Identity", ["r2"], ["a2"], name="a2_gone"))
    with pytest.raises(InputError, match=r"'conv2' has no given quantization"):
        lepton_hdl.compile(m)
    xs = np.random.default_rng(3).uniform(0, 1, (8, 1, 8, 8)).astype(np.float32)
    assert lepton_hdl.compile(m, xs, max_multipliers=64).bound_cycles > 0


@pytest.mark.slow
@pytest.mark.verilator
def test_brevitas_qonnx_export_exact(tmp_path):
    """A 4-bit model built with Brevitas (QuantIdentity, QuantConv2d, QuantReLU, QuantLinear),
    exported with brevitas.export.export_qonnx: compiled without samples from its own Quant
    nodes, the golden model is within one output step of Brevitas' own forward, and the RTL
    equals the golden model under Verilator at its bound."""
    from conftest import require_tool
    require_tool("verilator")
    import torch
    import torch.nn as nn
    import brevitas.nn as qnn
    from brevitas.export import export_qonnx
    import lepton_hdl
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = qnn.QuantIdentity(bit_width=4, return_quant_tensor=True)
            self.c1 = qnn.QuantConv2d(1, 6, 3, padding=1, weight_bit_width=4, bias=True)
            self.r1 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.c2 = qnn.QuantConv2d(6, 8, 3, padding=1, weight_bit_width=4, bias=True)
            self.r2 = qnn.QuantReLU(bit_width=4, return_quant_tensor=True)
            self.fc = qnn.QuantLinear(8 * 2 * 2, 10, bias=True, weight_bit_width=4)
            self.out = qnn.QuantIdentity(bit_width=4)

        def forward(self, x):
            x = nn.functional.max_pool2d(self.r1(self.c1(self.inp(x))), 2)
            x = nn.functional.max_pool2d(self.r2(self.c2(x)), 2)
            return self.out(self.fc(torch.flatten(x, 1)))
    m = Net()
    x = torch.rand(32, 1, 8, 8)
    m.train()
    with torch.no_grad():
        for _ in range(3):          # the activation scales see data
            m(x)
    m.eval()
    path = tmp_path / "brevitas.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        export_qonnx(m, x[:1], str(path))
    assert sum(n.op_type == "Quant" for n in onnx.load(str(path)).graph.node) >= 6
    p = lepton_hdl.compile(path, max_multipliers=64)
    assert (p.graph.meta["w_bits"], p.graph.meta["a_bits"]) == (4, 4)
    gold = p.golden(x.numpy())
    with torch.no_grad():
        ref = m(x).numpy()
    s = p.output_node.qtype.scale
    assert np.abs(gold.reshape(32, -1) * s - ref).max() <= s * (1 + 1e-5)
    y, info = p.simulate(x[:6].numpy())
    assert np.array_equal(y, gold[:6]) and info["cycles_per_frame"] == p.bound_cycles

"""ONNX frontend: a float ONNX model (as ``torch.onnx.export`` writes it, either exporter) into
the same IR as a PyTorch module.

Each ONNX node becomes the ``torch.nn`` module or function the torch.fx frontend recognises
(``Conv`` -> ``nn.Conv2d`` with the initialisers as its parameters, ``Gemm`` -> ``nn.Linear``,
``Relu`` -> ``nn.ReLU``, ...), named after the node, in a ``torch.fx.GraphModule``; the fx
frontend then traces that module through the op registry, so one set of ops, passes and
errors serves both frontends. An op type outside the table below, or an attribute the
hardware does not implement (dilation, asymmetric padding, a transposed ``Gemm`` input), is
refused with an ``UnsupportedOpError`` naming the op type and the node, before any hardware.

    >>> pipe = lepton_hdl.compile("model.onnx", samples)        # samples: N x C x H x W floats
"""
from __future__ import annotations

import operator
import re
from pathlib import Path

import numpy as np

from .errors import ModelError, UnsupportedOpError

# ONNX op types this frontend converts, and what they become
SUPPORTED = {
    "Conv": "nn.Conv2d", "Gemm": "nn.Linear", "MatMul": "nn.Linear (with a constant weight)",
    "BatchNormalization": "nn.BatchNorm2d / nn.BatchNorm1d",
    "Relu": "nn.ReLU", "Clip": "nn.Hardtanh / nn.ReLU6", "Sigmoid": "nn.Sigmoid", "Tanh": "nn.Tanh",
    "HardSwish": "nn.Hardswish", "Gelu": "nn.GELU", "HardSigmoid": "nn.Hardsigmoid (alpha 1/6, beta 1/2)", "Abs": "torch.abs",
    "MaxPool": "nn.MaxPool2d", "AveragePool": "nn.AvgPool2d", "GlobalAveragePool": "nn.AdaptiveAvgPool2d(1)",
    "ReduceMean": "nn.AdaptiveAvgPool2d(1) (axes H and W)",
    "Add": "operator.add (two tensors)", "Mul": "operator.mul (two tensors; x * Sigmoid(x) is nn.SiLU)", "Concat": "torch.cat (channels)",
    "Flatten": "nn.Flatten", "Reshape": "flatten to (N, features)", "Resize": "nn.Upsample (nearest, integer scale)",
    "Upsample": "nn.Upsample (nearest, integer scale)", "Identity": "-", "Dropout": "-",
    "Constant": "a constant input of another node",
    "Quant": "QONNX: given scales and bits (weights: their integers; activations: QuantAct)",
    "BipolarQuant": "QONNX: +-1 weights",
}


# QONNX custom ops (as Brevitas and qonnx write them) and their domains
QONNX_OPS = ("Quant", "BipolarQuant", "Trunc")
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "")


def _unsupported(node, why: str = ""):
    raise UnsupportedOpError(
        f"unsupported ONNX op '{node.op_type}' at node '{node.name or '(unnamed)'}'" + (f": {why}" if why else "")
        + f". Supported ONNX op types: {', '.join(sorted(SUPPORTED))}.")


def _attrs(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _ident(name: str, used: set) -> str:
    """A Python identifier for an ONNX node name (module names in the GraphModule), unique."""
    s = re.sub(r"\W", "_", name).strip("_") or "node"
    if s[0].isdigit():
        s = "n_" + s
    base, k = s, 1
    while s in used:
        k += 1
        s = f"{base}_{k}"
    used.add(s)
    return s


def load_model(model):
    """An ``onnx.ModelProto`` from a path, bytes or a ModelProto (``ModelError`` if unreadable)."""
    try:
        import onnx
    except ImportError as e:
        raise ModelError("reading ONNX models needs the onnx package: pip install 'lepton_hdl[onnx]'") from e
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        return onnx.load_from_string(bytes(model))
    path = Path(model)
    if not path.exists():
        raise ModelError(f"ONNX model {path}: no such file")
    try:
        return onnx.load(str(path))
    except Exception as e:
        raise ModelError(f"ONNX model {path}: cannot read it ({type(e).__name__}: {e})") from e


def is_onnx(model) -> bool:
    """Is ``model`` an ONNX model (a ModelProto, or a path ending in .onnx)?"""
    if isinstance(model, (str, Path)):
        return str(model).lower().endswith(".onnx")
    return type(model).__name__ == "ModelProto"


class _Builder:
    """ONNX graph -> torch.fx graph of the frontend's modules and functions."""

    def __init__(self, proto):
        import torch
        import torch.fx
        from onnx import numpy_helper
        self.torch = torch
        self.proto = proto
        g = proto.graph
        self.const = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.root = torch.nn.Module()
        self.fx = torch.fx.Graph()
        self.env = {}
        self.used = set()
        self.wquant = {}        # a quantised weight's tensor name -> (integers, scale, bits)
        self.bits = {"weights": set(), "activations": set()}
        inputs = [i for i in g.input if i.name not in self.const]
        if len(inputs) != 1:
            raise UnsupportedOpError(f"ONNX model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}): "
                                     "one is supported")
        self.input = inputs[0]
        self.env[self.input.name] = self.fx.placeholder(_ident(self.input.name, self.used))
        if len(g.output) != 1:
            raise UnsupportedOpError(f"ONNX model has {len(g.output)} outputs: one is supported")

    # -- helpers -------------------------------------------------------------------------------
    def tensor(self, node, name):
        if name not in self.env:
            if name in self.const:
                _unsupported(node, f"input '{name}' is a constant tensor; only the weights of Conv, Gemm, MatMul "
                                   "and BatchNormalization may be constants")
            raise ModelError(f"ONNX node '{node.name}': input '{name}' is produced by no node before it")
        return self.env[name]

    def constant(self, node, name, what):
        if name not in self.const:
            _unsupported(node, f"its {what} ('{name}') must be a constant (an initialiser)")
        return self.const[name]

    def module(self, node, mod, *args):
        name = _ident(node.name or node.op_type, self.used)
        self.root.add_module(name, mod)
        return self.fx.call_module(name, tuple(args))

    def param(self, mod, attr, value):
        t = self.torch.as_tensor(np.array(value, dtype=np.float32), dtype=self.torch.float32)
        getattr(mod, attr).data.copy_(t.reshape(getattr(mod, attr).shape))

    # -- conversion ----------------------------------------------------------------------------
    def run(self):
        self.producer = {o: n for n in self.proto.graph.node for o in n.output}
        for node in self.proto.graph.node:
            conv = getattr(self, f"op_{node.op_type}", None)
            domains = QONNX_DOMAINS if node.op_type in QONNX_OPS else ("", "ai.onnx")
            if conv is None or node.domain not in domains:
                _unsupported(node)
            out = conv(node, _attrs(node))
            if out is not None:
                self.env[node.output[0]] = out
        out_name = self.proto.graph.output[0].name
        self.fx.output(self.env[out_name])
        import torch.fx
        gm = torch.fx.GraphModule(self.root, self.fx, class_name=_ident(self.proto.graph.name or "OnnxModel", set()))
        for kind, bits in self.bits.items():
            if len(bits) > 1:
                raise UnsupportedOpError(f"the QONNX model quantizes its {kind} to {sorted(bits)} bits: one width "
                                         f"for all {kind} is supported")
        if self.bits["weights"] or self.bits["activations"]:
            gm.lepton_given_bits = tuple(next(iter(self.bits[k]), None) for k in ("weights", "activations"))
        dims = [d.dim_value for d in self.input.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims[1:]):
            gm.lepton_input_shape = tuple(dims)
        return gm

    @staticmethod
    def _pads2d(node, a, kernel):
        pads = list(a.get("pads", [0, 0, 0, 0]))
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto not in ("NOTSET", "VALID"):
            if auto in ("SAME_UPPER", "SAME_LOWER") and all(k % 2 == 1 for k in kernel) and \
                    all(s == 1 for s in a.get("strides", [1, 1])):
                return tuple(k // 2 for k in kernel)
            _unsupported(node, f"auto_pad {auto} with even kernels or strides (give explicit symmetric pads)")
        if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
            _unsupported(node, f"asymmetric padding {pads}: the hardware pads each side alike")
        return (int(pads[0]), int(pads[1]))

    def op_Conv(self, node, a):
        nn = self.torch.nn
        w = self.constant(node, node.input[1], "weight")
        if w.ndim != 4:
            _unsupported(node, f"a {w.ndim - 2}-D convolution; 2-D only")
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            _unsupported(node, f"dilations {list(a['dilations'])}: not implemented")
        kernel = tuple(int(k) for k in w.shape[2:])
        group = int(a.get("group", 1))
        bias = len(node.input) > 2 and node.input[2] != ""
        mod = nn.Conv2d(int(w.shape[1]) * group, int(w.shape[0]), kernel, tuple(int(s) for s in a.get("strides", [1, 1])),
                        self._pads2d(node, a, kernel), groups=group, bias=bias)
        self.param(mod, "weight", w)
        self.given_weights(mod, node.input[1], lambda q: q, lambda sc: sc.reshape(-1) if sc.size > 1 else sc)
        if bias:
            self.param(mod, "bias", self.constant(node, node.input[2], "bias"))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_Gemm(self, node, a):
        nn = self.torch.nn
        if a.get("transA", 0) or float(a.get("alpha", 1.0)) != 1.0 or float(a.get("beta", 1.0)) != 1.0:
            _unsupported(node, "transA, alpha or beta other than the Linear layer's (0, 1, 1)")
        w = self.constant(node, node.input[1], "weight")
        trans = not a.get("transB", 0)
        if trans:
            w = w.T
        bias = len(node.input) > 2 and node.input[2] != ""
        mod = nn.Linear(int(w.shape[1]), int(w.shape[0]), bias=bias)
        self.param(mod, "weight", w)
        self.given_weights(mod, node.input[1], (lambda q: q.T) if trans else (lambda q: q), lambda sc: sc.reshape(-1))
        if bias:
            self.param(mod, "bias", np.broadcast_to(self.constant(node, node.input[2], "bias"), (w.shape[0],)))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_MatMul(self, node, a):
        nn = self.torch.nn
        w = self.constant(node, node.input[1], "weight")      # (in, out)
        if w.ndim != 2:
            _unsupported(node, "a weight of other than 2 dimensions")
        mod = nn.Linear(int(w.shape[0]), int(w.shape[1]), bias=False)
        self.param(mod, "weight", w.T)
        self.given_weights(mod, node.input[1], lambda q: q.T, lambda sc: sc.reshape(-1))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_BatchNormalization(self, node, a):
        nn = self.torch.nn
        scale, b, mean, var = (self.constant(node, n, w) for n, w in
                               zip(node.input[1:5], ("scale", "bias", "mean", "variance")))
        rank = len(self._shape(node.input[0]) or (0, 0, 0, 0))
        mod = (nn.BatchNorm1d if rank == 2 else nn.BatchNorm2d)(int(scale.shape[0]), eps=float(a.get("epsilon", 1e-5)))
        self.param(mod, "weight", scale)
        self.param(mod, "bias", b)
        mod.running_mean.copy_(self.torch.as_tensor(np.array(mean, dtype=np.float32)))
        mod.running_var.copy_(self.torch.as_tensor(np.array(var, dtype=np.float32)))
        mod.eval()
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def _shape(self, name):
        for vi in list(self.proto.graph.value_info) + list(self.proto.graph.input) + list(self.proto.graph.output):
            if vi.name == name:
                return tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        return None

    def op_Relu(self, node, a):
        return self.module(node, self.torch.nn.ReLU(), self.tensor(node, node.input[0]))

    def op_Clip(self, node, a):
        nn = self.torch.nn
        lo, hi = a.get("min"), a.get("max")
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.constant(node, node.input[1], "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.constant(node, node.input[2], "max"))
        if lo is None or hi is None:
            _unsupported(node, "a clip without both bounds")
        mod = nn.ReLU6() if (lo, hi) == (0.0, 6.0) else nn.Hardtanh(float(lo), float(hi))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_Sigmoid(self, node, a):
        return self.module(node, self.torch.nn.Sigmoid(), self.tensor(node, node.input[0]))

    def op_Tanh(self, node, a):
        return self.module(node, self.torch.nn.Tanh(), self.tensor(node, node.input[0]))

    def op_HardSwish(self, node, a):
        return self.module(node, self.torch.nn.Hardswish(), self.tensor(node, node.input[0]))

    def op_HardSigmoid(self, node, a):
        if abs(float(a.get("alpha", 0.2)) - 1 / 6) > 1e-6 or float(a.get("beta", 0.5)) != 0.5:
            _unsupported(node, "alpha/beta other than torch's hardsigmoid (1/6, 1/2)")
        return self.module(node, self.torch.nn.Hardsigmoid(), self.tensor(node, node.input[0]))

    def op_Abs(self, node, a):
        return self.fx.call_function(self.torch.abs, (self.tensor(node, node.input[0]),))

    def op_MaxPool(self, node, a):
        k = tuple(int(v) for v in a["kernel_shape"])
        if any(d != 1 for d in a.get("dilations", [1, 1])) or a.get("ceil_mode", 0):
            _unsupported(node, "dilation or ceil_mode")
        mod = self.torch.nn.MaxPool2d(k, tuple(int(s) for s in a.get("strides", k)), self._pads2d(node, a, k))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_AveragePool(self, node, a):
        k = tuple(int(v) for v in a["kernel_shape"])
        if a.get("ceil_mode", 0):
            _unsupported(node, "ceil_mode")
        mod = self.torch.nn.AvgPool2d(k, tuple(int(s) for s in a.get("strides", k)), self._pads2d(node, a, k),
                                      count_include_pad=bool(a.get("count_include_pad", 0)))
        return self.module(node, mod, self.tensor(node, node.input[0]))

    def op_ReduceMean(self, node, a):
        # the mean over H and W: a global average pool (the dynamo exporter's adaptive_avg_pool2d(1))
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.constant(node, node.input[1], "axes")
        axes = sorted(int(v) % 4 for v in (axes if axes is not None else []))
        if axes != [2, 3]:
            _unsupported(node, f"a mean over axes {axes}; over H and W (2, 3) only")
        y = self.module(node, self.torch.nn.AdaptiveAvgPool2d(1), self.tensor(node, node.input[0]))
        if not a.get("keepdims", 1):
            y = self.fx.call_function(self.torch.flatten, (y, 1))
        return y

    def op_GlobalAveragePool(self, node, a):
        return self.module(node, self.torch.nn.AdaptiveAvgPool2d(1), self.tensor(node, node.input[0]))

    def _binary(self, node, f):
        for n in node.input:
            if n in self.const and n not in self.env:
                _unsupported(node, f"a constant operand ('{n}'); both operands must be feature maps")
        return self.fx.call_function(f, (self.tensor(node, node.input[0]), self.tensor(node, node.input[1])))

    def op_Add(self, node, a):
        return self._binary(node, operator.add)

    def op_Mul(self, node, a):
        # x * sigmoid(x): how exporters write SiLU; it stays one activation (one table in
        # hardware), as nn.SiLU is in the torch frontend
        x0, x1 = node.input[0], node.input[1]
        for x, y in ((x0, x1), (x1, x0)):
            src = self.producer.get(y)
            if src is not None and src.op_type == "Sigmoid" and src.input[0] == x:
                return self.module(node, self.torch.nn.SiLU(), self.tensor(node, x))
        return self._binary(node, operator.mul)

    def op_Concat(self, node, a):
        if int(a.get("axis", 1)) != 1:
            _unsupported(node, f"concatenation on axis {a.get('axis')}; channels (axis 1) only")
        return self.fx.call_function(self.torch.cat, ([self.tensor(node, n) for n in node.input],),
                                     {"dim": 1})

    def op_Flatten(self, node, a):
        if int(a.get("axis", 1)) != 1:
            _unsupported(node, f"flatten from axis {a.get('axis')}; axis 1 only")
        return self.module(node, self.torch.nn.Flatten(), self.tensor(node, node.input[0]))

    def op_Reshape(self, node, a):
        shape = [int(v) for v in self.constant(node, node.input[1], "shape")]
        x = self.tensor(node, node.input[0])
        if len(shape) == 2 and (shape[1] == -1 or shape[0] in (-1, 0, 1)):
            return self.module(node, self.torch.nn.Flatten(), x)       # (N, features)
        if len(shape) == 4 and shape[0] in (-1, 0, 1) and all(v > 0 for v in shape[1:]):
            # (N, C, H, W), e.g. a vector back to a 1x1 map: what Tensor.reshape does in torch
            return self.fx.call_method("reshape", (x, -1, *shape[1:]))
        _unsupported(node, f"reshape to {shape}; to (N, features) or (N, C, H, W) only")

    def op_Gelu(self, node, a):
        approx = a.get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        return self.module(node, self.torch.nn.GELU(approximate=approx), self.tensor(node, node.input[0]))

    def _upsample(self, node, scales):
        mode = _attrs(node).get("mode", b"nearest")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "nearest":
            _unsupported(node, f"mode {mode}; nearest only")
        s = [float(v) for v in scales]
        if len(s) != 4 or s[:2] != [1.0, 1.0] or s[2] != s[3] or s[2] != int(s[2]) or s[2] < 1:
            _unsupported(node, f"scales {s}; an integer scale, the same on H and W")
        return self.module(node, self.torch.nn.Upsample(scale_factor=int(s[2]), mode="nearest"),
                           self.tensor(node, node.input[0]))

    def op_Resize(self, node, a):
        scales = node.input[2] if len(node.input) > 2 else ""
        if not scales or scales not in self.const or self.const[scales].size == 0:
            _unsupported(node, "a resize by output size; give constant scales")
        return self._upsample(node, self.const[scales])

    def op_Upsample(self, node, a):
        return self._upsample(node, self.constant(node, node.input[1], "scales"))

    # -- QONNX ---------------------------------------------------------------------------------
    def given_weights(self, mod, name, layout, per_channel):
        """A layer whose weight tensor came out of a QONNX ``Quant``: its integers and scales."""
        if name in self.wquant:
            q, scale, bits = self.wquant[name]
            mod.weight_quant = dict(int=layout(q), scale=per_channel(np.asarray(scale, np.float64)), bits=bits)

    def _quant_args(self, node):
        scale = np.asarray(self.constant(node, node.input[1], "scale"), np.float64)
        zp = np.asarray(self.constant(node, node.input[2], "zero point"), np.float64)
        bits = np.asarray(self.constant(node, node.input[3], "bit width"), np.float64)
        if np.any(zp != 0):
            _unsupported(node, "a non-zero zero point; the hardware quantizes symmetrically (zero point 0)")
        if bits.size != 1 or bits.item() != int(bits.item()) or not 2 <= int(bits.item()) <= 8:
            _unsupported(node, f"bit width {bits.tolist()}: an integer from 2 to 8")
        if np.any(scale <= 0):
            _unsupported(node, "a scale that is not positive")
        return scale, int(bits.item())

    def op_Quant(self, node, a):
        scale, bits = self._quant_args(node)
        signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
        mode = a.get("rounding_mode", b"ROUND")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode not in ("ROUND", "ROUND_TO_ZERO", "FLOOR") and mode:
            _unsupported(node, f"rounding mode {mode}")
        x = node.input[0]
        if x in self.const and x not in self.env:
            # weights: their integers, as QONNX rounds them (half to even), and the float tensor
            # the layer computes with (integers times scale)
            if not signed:
                _unsupported(node, "unsigned weights; signed only")
            lo, hi = -(1 << (bits - 1)) + int(narrow), (1 << (bits - 1)) - 1
            w = np.asarray(self.const[x], np.float64)
            q = np.clip(np.round(w / scale), lo, hi).astype(np.int64)
            if scale.size not in (1, q.shape[0]) and not (scale.ndim == q.ndim and scale.shape[-1] == q.shape[-1]):
                _unsupported(node, f"scales of shape {scale.shape} for weights {q.shape}: per tensor or per channel")
            self.wquant[node.output[0]] = (q, scale, bits)
            self.const[node.output[0]] = (q * scale).astype(np.float32)
            self.bits["weights"].add(bits)
            return None
        if scale.size != 1:
            _unsupported(node, "per-channel scales on an activation; one scale a tensor")
        if not signed and narrow:
            _unsupported(node, "narrow unsigned activations")
        from .ops.quant import QuantAct
        self.bits["activations"].add(bits)
        return self.module(node, QuantAct(float(scale.item()), bits, signed, narrow), self.tensor(node, x))

    def op_BipolarQuant(self, node, a):
        x = node.input[0]
        if not (x in self.const and x not in self.env):
            _unsupported(node, "a bipolar (sign) activation; the hardware's activations are scaled integers")
        scale = np.asarray(self.constant(node, node.input[1], "scale"), np.float64)
        w = np.asarray(self.const[x], np.float64)
        q = np.where(w >= 0, 1, -1).astype(np.int64)       # +-1 held as 2-bit signed weights
        self.wquant[node.output[0]] = (q, scale, 2)
        self.const[node.output[0]] = (q * scale).astype(np.float32)
        self.bits["weights"].add(2)
        return None

    def op_Trunc(self, node, a):
        _unsupported(node, "truncation (Brevitas' average-pool output): export the pool with a Quant instead")

    def op_Identity(self, node, a):
        return self.tensor(node, node.input[0])

    def op_Dropout(self, node, a):
        return self.tensor(node, node.input[0])

    def op_Constant(self, node, a):
        from onnx import numpy_helper
        v = a.get("value")
        if v is None:
            _unsupported(node, "a constant other than a tensor value")
        self.const[node.output[0]] = numpy_helper.to_array(v)
        return None


def to_module(model):
    """A ``torch.fx.GraphModule`` equivalent to the ONNX ``model`` (path, bytes or ModelProto),
    built from the modules and functions the torch.fx frontend recognises."""
    import onnx
    proto = load_model(model)
    try:
        proto = onnx.shape_inference.infer_shapes(proto)
    except Exception:
        pass
    return _Builder(proto).run()

"""torch.fx frontend: trace an ``nn.Module`` into the IR through one handler table.

Every fx node is looked up in ``MODULE_HANDLERS`` (by module type), ``FUNCTION_HANDLERS`` (by
function) or ``METHOD_HANDLERS`` (by tensor method name). Anything else raises one
``UnsupportedOpError`` before any hardware is generated, naming the op, its module path and what
is supported.
"""
from __future__ import annotations

import copy
import operator

import numpy as np

from .errors import TraceError, UnsupportedOpError
from .ir import Graph, Node


def _np(t):
    return None if t is None else t.detach().cpu().double().numpy()


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def _hwc(shape) -> tuple:
    """torch shape with batch -> (stream shape HWC, flat)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 4:
        return (shape[2], shape[3], shape[1]), False
    if len(shape) == 2:
        return (1, 1, shape[1]), True
    raise TraceError(f"tensor shape {shape}: only (N, C, H, W) feature maps and (N, F) vectors "
                     f"are supported")


class _Ctx:
    def __init__(self, gm):
        self.gm = gm
        self.nodes = []
        self.alias = {}      # fx name -> IR name (for removed nodes)

    def src(self, arg):
        import torch.fx
        if not isinstance(arg, torch.fx.Node):
            return None
        return self.alias.get(arg.name, arg.name)

    def ir(self, name):
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def _fail(op, where, why=None):
    mods = ", ".join(sorted(t.__name__ for t in MODULE_HANDLERS))
    funcs = ", ".join(sorted({_fname(f) for f in FUNCTION_HANDLERS}))
    meths = ", ".join(sorted(METHOD_HANDLERS))
    msg = f"unsupported op {op} at '{where}'"
    if why:
        msg += f": {why}"
    msg += (f".\nSupported modules: {mods}.\nSupported functions: {funcs}.\n"
            f"Supported tensor methods: {meths}.")
    raise UnsupportedOpError(msg)


def _fname(f):
    mod = getattr(f, "__module__", "") or ""
    name = getattr(f, "__name__", str(f))
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    if mod == "_operator" or mod == "operator":
        return f"operator.{name}"
    return f"torch.{name}"


# -- handlers: (ctx, fx node, target-or-module, path) -> Node | str (alias) ---------------

def _conv(ctx, n, m, path):
    if tuple(m.dilation) != (1, 1):
        _fail(f"nn.Conv2d(dilation={tuple(m.dilation)})", path, "only dilation=1 is supported")
    if m.padding_mode != "zeros":
        _fail(f"nn.Conv2d(padding_mode={m.padding_mode!r})", path, "only zero padding is supported")
    k = tuple(m.kernel_size)
    pad = m.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0, 0)
        elif all(x % 2 == 1 for x in k) and tuple(m.stride) == (1, 1):
            pad = (k[0] // 2, k[1] // 2)
        else:
            _fail("nn.Conv2d(padding='same')", path, "'same' needs odd kernels and stride 1")
    w = _np(m.weight).transpose(0, 2, 3, 1)  # (Cout, kh, kw, Cin/g)
    b = _np(m.bias) if m.bias is not None else np.zeros(w.shape[0])
    return dict(op="conv2d", attrs=dict(weight=w, bias=b, stride=_pair(m.stride), padding=_pair(pad),
                                         groups=int(m.groups)))


def _linear_from(ctx, src, w, b, path):
    inp = ctx.ir(src)
    H, W, C = inp.shape
    if not inp.flat:
        _fail("nn.Linear on a feature map", path, "flatten the (C, H, W) map first")
    if w.shape[1] != H * W * C:
        _fail("nn.Linear", path, f"in_features={w.shape[1]} but the input has {H * W * C}")
    # torch flattens (c, h, w); the stream delivers (h, w, c).
    w = w.reshape(w.shape[0], C, H, W).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
    return dict(op="linear", attrs=dict(weight=w, bias=b))


def _linear(ctx, n, m, path):
    b = _np(m.bias) if m.bias is not None else np.zeros(m.out_features)
    return _linear_from(ctx, ctx.src(n.args[0]), _np(m.weight), b, path)


def _bn(ctx, n, m, path):
    if m.running_mean is None:
        _fail(f"nn.{type(m).__name__}(track_running_stats=False)", path, "running statistics are needed")
    C = m.num_features
    g = _np(m.weight) if m.affine else np.ones(C)
    b = _np(m.bias) if m.affine else np.zeros(C)
    return dict(op="batchnorm", attrs=dict(mean=_np(m.running_mean), var=_np(m.running_var),
                                           eps=float(m.eps), gamma=g, beta=b))


def _act(kind, lo, hi):
    return dict(op="act", attrs=dict(kind=kind, lo=float(lo), hi=float(hi)))


def _relu(ctx, n, m, path):
    return _act("relu", 0.0, np.inf)


def _relu6(ctx, n, m, path):
    return _act("relu6", 0.0, 6.0)


def _hardtanh(ctx, n, m, path):
    return _act("hardtanh", m.min_val, m.max_val)


def _pool_checks(name, path, ceil_mode=False, dilation=1, extra=None):
    if ceil_mode:
        _fail(f"{name}(ceil_mode=True)", path, "only ceil_mode=False is supported")
    if _pair(dilation) != (1, 1):
        _fail(f"{name}(dilation={dilation})", path, "only dilation=1 is supported")
    if extra:
        _fail(name, path, extra)


def _maxpool_attrs(path, k, s, p, ceil_mode=False, dilation=1, return_indices=False):
    _pool_checks("nn.MaxPool2d", path, ceil_mode, dilation,
                 "return_indices=True is not supported" if return_indices else None)
    return dict(op="maxpool", attrs=dict(kernel=_pair(k), stride=_pair(s if s else k), padding=_pair(p)))


def _avgpool_attrs(path, k, s, p, ceil_mode=False, count_include_pad=True, divisor_override=None):
    extra = None
    if not count_include_pad:
        extra = "count_include_pad=False is not supported"
    if divisor_override is not None:
        extra = "divisor_override is not supported"
    _pool_checks("nn.AvgPool2d", path, ceil_mode, 1, extra)
    return dict(op="avgpool", attrs=dict(kernel=_pair(k), stride=_pair(s if s else k), padding=_pair(p)))


def _maxpool(ctx, n, m, path):
    return _maxpool_attrs(path, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.dilation, m.return_indices)


def _avgpool(ctx, n, m, path):
    return _avgpool_attrs(path, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                          m.divisor_override)


def _adaptive(ctx, n, m, path, out=None):
    out = m.output_size if m is not None else out
    if _pair(out) != (1, 1):
        _fail(f"nn.AdaptiveAvgPool2d({out})", path, "only output size 1 (global average) is supported")
    return dict(op="global_avgpool", attrs={})


def _flatten_check(path, start, end=-1):
    if start != 1 or end not in (-1, 3):
        _fail(f"flatten(start_dim={start}, end_dim={end})", path, "only flatten from dim 1 to the end")
    return dict(op="flatten", attrs={})


def _flatten(ctx, n, m, path):
    return _flatten_check(path, m.start_dim, m.end_dim)


def _bypass(ctx, n, m, path):
    return ctx.src(n.args[0])


# functional forms
def _f_act(kind):
    def h(ctx, n, f, path):
        if kind == "hardtanh":
            lo = n.kwargs.get("min_val", n.args[1] if len(n.args) > 1 else -1.0)
            hi = n.kwargs.get("max_val", n.args[2] if len(n.args) > 2 else 1.0)
            return _act("hardtanh", lo, hi)
        return _act(kind, 0.0, 6.0 if kind == "relu6" else np.inf)
    return h


def _f_clamp(ctx, n, f, path):
    lo = n.kwargs.get("min", n.args[1] if len(n.args) > 1 else None)
    hi = n.kwargs.get("max", n.args[2] if len(n.args) > 2 else None)
    if not all(isinstance(v, (int, float, type(None))) for v in (lo, hi)):
        _fail("torch.clamp with tensor bounds", path)
    return _act("hardtanh", -np.inf if lo is None else lo, np.inf if hi is None else hi)


def _f_add(ctx, n, f, path):
    import torch.fx
    a, b = n.args[0], n.args[1]
    if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
        _fail(f"{_fname(f) if callable(f) else f} with a constant", path,
              "only the sum of two tensors (a residual add) is supported")
    if n.kwargs.get("alpha", 1) != 1:
        _fail("torch.add(alpha != 1)", path)
    return dict(op="add", attrs={}, inputs=(ctx.src(a), ctx.src(b)))


def _f_flatten(ctx, n, f, path):
    start = n.kwargs.get("start_dim", n.args[1] if len(n.args) > 1 else 0)
    end = n.kwargs.get("end_dim", n.args[2] if len(n.args) > 2 else -1)
    return _flatten_check(path, start, end)


def _pool_args(n):
    """kernel, stride, padding and keyword arguments of F.max_pool2d / F.avg_pool2d."""
    a = list(n.args[1:]) + [None] * 4
    kw = n.kwargs
    return (kw.get("kernel_size", a[0]), kw.get("stride", a[1]),
            kw.get("padding", a[2] if a[2] is not None else 0), kw)


def _f_maxpool(ctx, n, f, path):
    k, s, p, kw = _pool_args(n)
    return _maxpool_attrs(path, k, s, p, kw.get("ceil_mode", False), kw.get("dilation", 1))


def _f_avgpool(ctx, n, f, path):
    k, s, p, kw = _pool_args(n)
    return _avgpool_attrs(path, k, s, p, kw.get("ceil_mode", False), kw.get("count_include_pad", True),
                          kw.get("divisor_override"))


def _f_adaptive(ctx, n, f, path):
    return _adaptive(ctx, n, None, path, n.kwargs.get("output_size", n.args[1] if len(n.args) > 1 else None))


def _m_view(ctx, n, name, path):
    shape = n.meta.get("tensor_meta").shape
    src = n.args[0]
    in_shape = src.meta.get("tensor_meta").shape
    if len(shape) == 2 and shape[0] == in_shape[0]:
        return dict(op="flatten", attrs={})
    _fail(f"Tensor.{name}{tuple(shape)}", path, "only a reshape to (batch, features) is supported")


SKIP = object()   # shape-only nodes (x.size(0)) that produce no tensor


def _m_size(ctx, n, name, path):
    return SKIP


def _f_getitem(ctx, n, f, path):
    src = n.args[0]
    if getattr(src, "op", None) == "call_method" and src.target == "size":
        return SKIP
    _fail("operator.getitem (indexing a tensor)", path)


def _method(kind):
    def h(ctx, n, name, path):
        return {"relu": lambda: _act("relu", 0, np.inf), "add": lambda: _f_add(ctx, n, "Tensor.add", path),
                "flatten": lambda: _f_flatten(ctx, n, None, path)}[kind]()
    return h


def _build_tables():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    mods = {
        nn.Conv2d: _conv, nn.Linear: _linear, nn.BatchNorm1d: _bn, nn.BatchNorm2d: _bn,
        nn.ReLU: _relu, nn.ReLU6: _relu6, nn.Hardtanh: _hardtanh, nn.MaxPool2d: _maxpool,
        nn.AvgPool2d: _avgpool, nn.AdaptiveAvgPool2d: _adaptive, nn.Flatten: _flatten,
        nn.Identity: _bypass, nn.Dropout: _bypass, nn.Dropout2d: _bypass,
    }
    funcs = {
        F.relu: _f_act("relu"), torch.relu: _f_act("relu"), F.relu6: _f_act("relu6"),
        F.hardtanh: _f_act("hardtanh"), torch.clamp: _f_clamp, operator.add: _f_add, torch.add: _f_add,
        torch.flatten: _f_flatten, F.max_pool2d: _f_maxpool, F.avg_pool2d: _f_avgpool,
        F.adaptive_avg_pool2d: _f_adaptive, F.dropout: lambda c, n, f, p: c.src(n.args[0]),
        operator.getitem: _f_getitem,
    }
    meths = {"relu": _method("relu"), "add": _method("add"), "flatten": _method("flatten"),
             "view": _m_view, "reshape": _m_view, "size": _m_size}
    return mods, funcs, meths


MODULE_HANDLERS, FUNCTION_HANDLERS, METHOD_HANDLERS = {}, {}, {}


def _ensure_tables():
    if not MODULE_HANDLERS:
        m, f, me = _build_tables()
        MODULE_HANDLERS.update(m)
        FUNCTION_HANDLERS.update(f)
        METHOD_HANDLERS.update(me)


def trace(model, sample) -> Graph:
    """Trace ``model`` (an ``nn.Module``) on one ``sample`` batch into a float IR graph."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp
    _ensure_tables()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model).eval()
    if type(model) in MODULE_HANDLERS:      # a bare layer: trace it as a one-layer model
        model = torch.nn.Sequential(model)
    sample = torch.as_tensor(sample, dtype=torch.float32)
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # torch.fx raises TraceError, TypeError, ... on dynamic code
        raise TraceError(f"cannot trace {type(model).__name__} to a static graph ({type(e).__name__}: "
                         f"{e}). Data-dependent control flow or shapes are not supported: write "
                         f"forward() as a fixed sequence of supported ops.") from e
    with torch.no_grad():
        try:
            ShapeProp(gm).propagate(sample[:1])
        except Exception as e:
            raise TraceError(f"running {type(model).__name__} on a sample of shape "
                             f"{tuple(sample.shape)} failed: {e}") from e
    ctx = _Ctx(gm)
    modules = dict(gm.named_modules())
    output = None
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            if any(x.op == "input" for x in ctx.nodes):
                raise UnsupportedOpError(f"model has more than one input ('{n.target}'): one is supported")
            shape, flat = _hwc(n.meta["tensor_meta"].shape)
            ctx.nodes.append(Node(n.name, "input", (), shape, target="input", flat=flat))
            continue
        if n.op == "output":
            arg = n.args[0]
            if not isinstance(arg, torch.fx.Node):
                raise UnsupportedOpError("model must return a single tensor")
            output = ctx.src(arg)
            continue
        if n.op == "get_attr":
            _fail(f"parameter access '{n.target}'", n.target, "use modules, not raw parameters")
        if n.op == "call_module":
            m = modules[n.target]
            h = MODULE_HANDLERS.get(type(m))
            if h is None:
                _fail(f"nn.{type(m).__name__}", n.target)
            res = h(ctx, n, m, n.target)
            path = n.target
        elif n.op == "call_function":
            h = FUNCTION_HANDLERS.get(n.target)
            path = n.name
            if h is None:
                _fail(_fname(n.target), path)
            res = h(ctx, n, n.target, path)
        elif n.op == "call_method":
            h = METHOD_HANDLERS.get(n.target)
            path = n.name
            if h is None:
                _fail(f"Tensor.{n.target}", path)
            res = h(ctx, n, n.target, path)
        else:
            _fail(n.op, n.name)
        if res is SKIP:
            continue
        if isinstance(res, str):
            ctx.alias[n.name] = res
            continue
        meta = n.meta.get("tensor_meta")
        if meta is None:
            raise TraceError(f"no static shape for '{path}'")
        shape, flat = _hwc(meta.shape)
        inputs = res.pop("inputs", None) or (ctx.src(n.args[0]),)
        if res["op"] == "flatten":  # the stream is unchanged: keep its (H, W, C), mark it flat
            shape, flat = ctx.ir(inputs[0]).shape, True
        ctx.nodes.append(Node(n.name, res["op"], inputs, shape, res.get("attrs", {}), target=path, flat=flat))
    # Nodes whose output nothing uses (e.g. dropped branches) are removed.
    used = {output}
    for node in reversed(ctx.nodes):
        if node.name in used:
            used.update(node.inputs)
    nodes = [nd for nd in ctx.nodes if nd.name in used]
    return Graph(nodes, output, {"model": type(model).__name__})

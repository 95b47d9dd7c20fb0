"""torch.fx frontend: trace an ``nn.Module`` into the IR through one handler table.

The table is built from the op registry (``lepton_hdl.ops``): every op names the modules,
functions and tensor methods it recognises. Every fx node is looked up by module type, function
or method name; anything else raises one ``UnsupportedOpError`` before any hardware is
generated, naming the op, its module path and what is supported.
"""
from __future__ import annotations

import copy

from .errors import TraceError, UnsupportedOpError
from .ir import Graph, Node
from .ops import REGISTRY, SKIP, INPUT, Match


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
    """What a recogniser may ask about the trace so far."""

    def __init__(self, gm):
        self.gm = gm
        self.nodes = []
        self.alias = {}      # fx name -> IR name (for removed nodes)

    def src(self, arg):
        """The IR name of an fx node argument (None for a constant)."""
        import torch.fx
        if not isinstance(arg, torch.fx.Node):
            return None
        return self.alias.get(arg.name, arg.name)

    def ir(self, name):
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


class _Tables:
    """(op, kind) by module type, by function and by tensor method name, from the registry."""

    def __init__(self):
        self.size = len(REGISTRY)
        self.modules, self.functions, self.methods = {}, {}, {}
        for op in REGISTRY.values():
            for t in op.torch_modules():
                self.modules[t] = op
            for f in op.torch_functions():
                self.functions[f] = op
            for m in op.torch_methods:
                self.methods[m] = op


_TABLES = None


def tables() -> _Tables:
    global _TABLES
    if _TABLES is None or _TABLES.size != len(REGISTRY):
        _TABLES = _Tables()
    return _TABLES


def _fname(f):
    mod = getattr(f, "__module__", "") or ""
    name = getattr(f, "__name__", str(f))
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    if mod in ("_operator", "operator"):
        return f"operator.{name}"
    return f"torch.{name}"


def unsupported_message(op, where, why=None) -> str:
    t = tables()
    mods = ", ".join(sorted({m.__name__ for m in t.modules}))
    funcs = ", ".join(sorted({_fname(f) for f in t.functions}))
    meths = ", ".join(sorted(t.methods))
    msg = f"unsupported op {op} at '{where}'"
    if why:
        msg += f": {why}"
    return msg + (f".\nSupported modules: {mods}.\nSupported functions: {funcs}.\n"
                  f"Supported tensor methods: {meths}.")


def _fail(op, where, why=None):
    raise UnsupportedOpError(unsupported_message(op, where, why))


def _recognise(ctx, n, modules):
    """``(op, result, path)`` for one fx node: result is a Match, an alias (str) or SKIP."""
    t = tables()
    if n.op == "call_module":
        m = modules[n.target]
        op = t.modules.get(type(m))
        if op is None:
            _fail(f"nn.{type(m).__name__}", n.target)
        return op, op.from_module(ctx, n, m, n.target), n.target
    if n.op == "call_function":
        op = t.functions.get(n.target)
        if op is None:
            _fail(_fname(n.target), n.name)
        return op, op.from_function(ctx, n, n.target, n.name), n.name
    if n.op == "call_method":
        op = t.methods.get(n.target)
        if op is None:
            _fail(f"Tensor.{n.target}", n.name)
        return op, op.from_method(ctx, n, n.target, n.name), n.name
    if n.op == "get_attr":
        _fail(f"parameter access '{n.target}'", n.target, "use modules, not raw parameters")
    _fail(n.op, n.name)


def trace(model, sample) -> Graph:
    """Trace ``model`` (an ``nn.Module``) on one ``sample`` batch into a float IR graph."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model).eval()
    if type(model) in tables().modules:      # a bare layer: trace it as a one-layer model
        model = torch.nn.Sequential(model)
    sample = torch.as_tensor(sample, dtype=torch.float32)
    known = tuple(tables().modules)

    class _Tracer(torch.fx.Tracer):
        # every module the op table knows is a leaf (torch.nn's are already; QuantAct is ours)
        def is_leaf_module(self, m, qualname):
            return isinstance(m, known) or super().is_leaf_module(m, qualname)

    try:
        graph = _Tracer().trace(model)
        gm = torch.fx.GraphModule(model, graph, class_name=type(model).__name__)
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
            if any(x.op.arity == 0 for x in ctx.nodes):
                raise UnsupportedOpError(f"model has more than one input ('{n.target}'): one is supported")
            shape, flat = _hwc(n.meta["tensor_meta"].shape)
            ctx.nodes.append(Node(n.name, INPUT, (), shape, target="input", flat=flat))
            continue
        if n.op == "output":
            arg = n.args[0]
            if not isinstance(arg, torch.fx.Node):
                raise UnsupportedOpError("model must return a single tensor")
            output = ctx.src(arg)
            continue
        op, res, path = _recognise(ctx, n, modules)
        if res is SKIP:
            continue
        if isinstance(res, str):
            ctx.alias[n.name] = res
            continue
        if not isinstance(res, Match):
            raise TypeError(f"op {op.name}: recogniser returned {res!r}")
        op = res.op or op
        meta = n.meta.get("tensor_meta")
        if meta is None:
            raise TraceError(f"no static shape for '{path}'")
        shape, flat = _hwc(meta.shape)
        inputs = res.inputs or (ctx.src(n.args[0]),)
        attrs = dict(res.attrs)
        if op.passthrough:  # the stream is unchanged: keep its (H, W, C), set the flag
            shape, flat = ctx.ir(inputs[0]).shape, attrs.pop("flat", True)
        ctx.nodes.append(Node(n.name, op, inputs, shape, attrs, target=path, flat=flat))
    # Nodes whose output nothing uses (e.g. dropped branches) are removed.
    used = {output}
    for node in reversed(ctx.nodes):
        if node.name in used:
            used.update(node.inputs)
    nodes = [nd for nd in ctx.nodes if nd.name in used]
    return Graph(nodes, output, {"model": type(model).__name__})

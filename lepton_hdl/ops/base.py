"""The op protocol: one class per op kind carries everything the flow needs to know about it.

An ``Op`` is a stateless singleton registered under its IR name. The frontend asks it whether
it recognises a torch.fx node; the float reference, quantization, the golden model, FIFO
sizing, the parallelism pass, resources, lowering, the C generator and the report all call its
methods on the node's frozen parameter object. None of them branches on an op's class or name.

Arithmetic (the requant rule, rounding) stays in ``lepton_hdl.arith``; stream blocks shared by
several ops stay in ``lepton_hdl.hw``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from ..arith import IntType, weight_range
from ..errors import ParallelismError, UnsupportedOpError

REGISTRY: dict = {}          # IR name -> Op
_BY_PARAMS: dict = {}        # parameter class -> the Op that runs it


def required_methods(op) -> list:
    """What an op must define for the roles its flags give it (checked at registration, so an
    incomplete op fails when it is registered, not when a model first needs it)."""
    if op.alias_only:
        return []
    if op.arity == 0:
        return ["quantize"]
    need = ["float_exec"]
    if op.folds_into_producer:
        need.append("affine_of")
    if op.absorbs_affine:
        need.append("absorb_affine")
    if op.lowered:
        need.append("quantize")
        if not op.passthrough:
            need += ["golden", "estimate", "hardware", "c_function"]
    if isinstance(op, LaneFolded) and type(op).hardware is LaneFolded.hardware:
        need.append("block")          # the mixin's hardware folds the op's own block
    return need


def register(cls):
    """Class decorator: instantiate the op, check it defines what its role needs, and list it in
    the registry."""
    op = cls()
    if not op.name or op.name in REGISTRY:
        raise ValueError(f"op {cls.__name__}: name {op.name!r} is empty or already registered")
    missing = [m for m in required_methods(op) if not callable(getattr(op, m, None))]
    if missing:
        raise TypeError(f"op {cls.__name__} ({op.name!r}) does not define {', '.join(missing)}")
    REGISTRY[op.name] = op
    if cls.params_type is not None:
        _BY_PARAMS.setdefault(cls.params_type, op)
    return cls


def get(name: str) -> "Op":
    """The registered op called ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None


def of(params) -> "Op":
    """The op that executes a parameter object (for block-level tests and tools). A parameter
    class shared by several ops names its op with an ``op_name`` property."""
    name = getattr(params, "op_name", None)
    if name is not None:
        return get(name)
    try:
        return _BY_PARAMS[type(params)]
    except KeyError:
        raise TypeError(f"no op runs {type(params).__name__}") from None


SKIP = object()   # a shape-only fx node (``x.size(0)``) that produces no tensor


@dataclass(frozen=True)
class Match:
    """What an op's recogniser returns for a torch.fx node: the IR node's float attributes and,
    for multi-input ops, its inputs (IR names). ``op``: another op than the recogniser's own
    (a functional form mapped onto a shared op)."""
    attrs: Mapping = dataclasses.field(default_factory=dict)
    inputs: Optional[tuple] = None
    op: Optional["Op"] = None


@dataclass(frozen=True)
class Clamp:
    """An activation clamp ``[lo, hi]`` in real units (ReLU: ``[0, inf]``); ``name`` says which
    activations it came from (``relu``, ``relu6+hardtanh``) for reports."""
    lo: float
    hi: float
    name: str

    def merge(self, other: "Clamp") -> "Clamp":
        return Clamp(max(self.lo, other.lo), min(self.hi, other.hi), f"{self.name}+{other.name}")

    def apply(self, y: np.ndarray) -> np.ndarray:
        return np.clip(y, self.lo, self.hi)

    def int_bounds(self, q) -> tuple:
        """``(lo, hi)`` in integer units of ``q`` (None: unbounded)."""
        lo = None if not math.isfinite(self.lo) else int(math.floor(self.lo / q.scale + 0.5))
        hi = None if not math.isfinite(self.hi) else int(math.floor(self.hi / q.scale + 0.5))
        return lo, hi


def apply_clamp(y: np.ndarray, attrs: Mapping) -> np.ndarray:
    """A fused activation clamp (attribute ``clamp``) applied to a float result, if any."""
    c = attrs.get("clamp")
    return y if c is None else c.apply(y)


@dataclass(frozen=True)
class QuantContext:
    """What an op's quantization rule may use: bit widths and each node's calibrated float
    range ``(lo, hi)`` over the calibration samples."""
    w_bits: int
    a_bits: int
    ranges: Mapping
    runtime: bool = False            # weights in RAM: parameters sized for any value
    fixed_shifts: Optional[Mapping] = None   # node name -> requant shift (a build's, in RAM)

    def requant_multipliers(self, node, real):
        """``(multipliers, shift)`` of the real requant scales ``real`` of ``node``: the best
        shift; in RAM mode with headroom for a later model's larger scales; for a weight image,
        at the shift the build fixed."""
        from ..arith import MULT_BITS, RAM_HEADROOM_BITS, multipliers_at_shift, quantize_multipliers
        if self.fixed_shifts is not None and node.name in self.fixed_shifts:
            shift = self.fixed_shifts[node.name]
            try:
                return multipliers_at_shift(real, shift), shift
            except ValueError as e:
                from ..errors import WeightsError
                raise WeightsError(f"layer '{node.label}': {e}: rebuild with this model") from None
        if self.runtime:
            return quantize_multipliers(real, MULT_BITS - RAM_HEADROOM_BITS)
        return quantize_multipliers(real)

    def tensor(self, node, clamp: Optional[Clamp] = None):
        """The output quantization of ``node``: the given one (``given_q``: a QONNX ``Quant`` or
        ``QuantAct`` after it), else from its calibrated range (clamped by a fused
        activation): unsigned when never negative, else signed symmetric."""
        from ..ir import QTensor
        given = node.attrs.get("given_q")
        if given is not None:
            scale, bits, signed = given
            if bits != self.a_bits:
                from ..errors import InputError
                raise InputError(f"'{node.label}': its given quantization has {bits} bits, the activations "
                                 f"{self.a_bits} (--a-bits): compile with the model's own bit width")
            return QTensor(float(scale), IntType(int(bits), bool(signed)))
        if node.name not in self.ranges:
            from ..errors import InputError
            raise InputError(f"'{node.label}' has no given quantization (no Quant after it) and there are no "
                             f"calibration samples: give samples")
        lo, hi = self.ranges[node.name]
        return tensor_q(lo, hi, self.a_bits, clamp)

    def weights(self, node, w: np.ndarray):
        """Integer weights and per-output-channel scales of ``node``: the given ones
        (``given_w``: a QONNX ``Quant`` on the weights, ``weight_quant`` on the layer), else
        symmetric per channel at ``w_bits``."""
        given = node.attrs.get("given_w")
        if given is None:
            return quantize_weights(w, self.w_bits)
        q, scale, bits = given
        if bits != self.w_bits:
            from ..errors import InputError
            raise InputError(f"'{node.label}': its given weights have {bits} bits, the compile {self.w_bits} "
                             f"(--w-bits): compile with the model's own bit width")
        return np.asarray(q, dtype=np.int64), np.asarray(scale, dtype=np.float64)


def tensor_q(lo: float, hi: float, bits: int, clamp: Optional[Clamp] = None):
    """Scale and type of a tensor with float range ``[lo, hi]``."""
    from ..ir import QTensor
    if clamp is not None:
        lo, hi = max(lo, clamp.lo), min(hi, clamp.hi)
    signed = lo < 0
    t = IntType(bits, signed)
    amax = max(abs(lo), abs(hi))
    scale = amax / t.qmax if amax > 0 else 1.0
    return QTensor(scale, t)


def quantize_weights(w: np.ndarray, bits: int):
    """Symmetric per-output-channel quantization: integer weights and per-channel scales."""
    wr = weight_range(bits)
    amax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scale = np.where(amax > 0, amax / wr, 1.0)
    q = np.clip(np.floor(w / scale.reshape((-1,) + (1,) * (w.ndim - 1)) + 0.5), -wr, wr).astype(np.int64)
    return q, scale


def params_digest(p) -> bytes:
    """A digest of every field of a frozen parameter object (arrays by content), e.g. for build
    cache keys: two objects with equal digests generate the same gateware."""
    h = hashlib.sha256(type(p).__name__.encode())
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        h.update(f.name.encode())
        h.update(v.tobytes() + str(v.shape).encode() if isinstance(v, np.ndarray) else repr(v).encode())
    return h.digest()


def fail(op: str, where: str, why: Optional[str] = None):
    """Raise the frontend's one error for an op it cannot take: the op, its module path, why,
    and what is supported."""
    from .. import frontend
    raise UnsupportedOpError(frontend.unsupported_message(op, where, why))


def fx_shape(arg) -> tuple:
    """The torch shape of an fx node argument (from shape propagation)."""
    return tuple(int(s) for s in arg.meta["tensor_meta"].shape)


def arg(node, i: int, key: str, default=None):
    """Positional argument ``i`` or keyword ``key`` of an fx node."""
    if key in node.kwargs:
        return node.kwargs[key]
    return node.args[i] if len(node.args) > i else default


def tensor_operands(node, what: str, path: str) -> tuple:
    """The two fx operands of a binary elementwise node (``a + b``, ``torch.mul(a, b)``); a
    constant operand is refused (fold a constant into the layer before it)."""
    import torch.fx
    a, b = node.args[0], node.args[1]
    if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
        fail(f"{what} with a constant", path, "only an elementwise op of two tensors is supported "
             "(fold a constant into the layer before it)")
    return a, b


def pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def to_np(t):
    return None if t is None else t.detach().cpu().double().numpy()


class Op:
    """One op kind. Subclasses set the class attributes and override what applies.

    Frontend: ``torch_modules()`` / ``torch_functions()`` / ``torch_methods`` name what it
    recognises; ``from_module`` / ``from_function`` / ``from_method`` turn a torch.fx node into a
    ``Match`` (or an IR name to alias, or ``SKIP``), raising through ``fail`` for settings it
    cannot take.

    Float graph: ``float_exec(node, args)``; BatchNorm-like ops ``affine_of(node)`` and the ops
    it folds into ``absorb_affine(node, scale, shift)``. Quantized graph: ``quantize(node, ins,
    ctx)`` gives the node's output ``QTensor`` and frozen parameter object (None for the input
    and pass-through ops); everything after works on that object: ``golden(p, *xs)`` (numpy
    integers, exact), ``cycles`` (per frame at the nominal rate, equal to the RTL's),
    ``latency`` (upper bound of a lone frame beyond ``cycles``), ``buffering`` (input pixels it
    absorbs before it must emit), ``estimate(p)``, ``hardware(p, opts)`` (the Migen stream
    block, ``sinks`` in input order and ``source``) and ``c_function(p, name, in_ctypes,
    out_ctype)``, and optionally ``c_tuned`` (the second CPU baseline). Which of these an op
    must define follows from its flags
    (``required_methods``); ``register`` refuses an op that lacks one.
    """
    name: str = ""
    params_type: Any = None
    arity: int = 1                 # inputs; 0: the graph input; None: two or more
    lowered: bool = True           # reaches hardware (BatchNorm does not: it folds away)
    passthrough: bool = False      # the stream passes unchanged (flatten): no block, no params
    fuses_clamp: bool = False      # a following clamp activation folds into its requant
    absorbs_affine: bool = False   # a following BatchNorm folds into its weights
    clamp_activation: bool = False  # a pure clamp (ReLU, ReLU6, Hardtanh, clamp)
    folds_into_producer: bool = False  # BatchNorm
    alias_only: bool = False       # the frontend replaces it by its input (Identity, Dropout)
    torch_methods: tuple = ()
    # weights in RAM: the op's parameters are runtime-writable or depend on no scale
    runtime_params: bool = False

    # -- frontend --------------------------------------------------------------------------
    def torch_modules(self) -> tuple:
        return ()

    def torch_functions(self) -> tuple:
        return ()

    def from_module(self, ctx, node, module, path):
        """The IR node for a module call: by default the op with no attributes."""
        return Match({})

    def from_function(self, ctx, node, fn, path):
        """The IR node for a function call: by default the op with no attributes."""
        return Match({})

    def from_method(self, ctx, node, name, path):
        return self.from_function(ctx, node, name, path)

    # -- float -----------------------------------------------------------------------------
    def clamp_of(self, node) -> Optional[Clamp]:
        """For a clamp activation node: its clamp."""
        return None

    # -- the frozen parameter object ------------------------------------------------------
    def in_specs(self, p) -> list:
        """``[(shape, IntType)]`` of each input stream."""
        return [(tuple(p.in_shape), p.in_type)]

    def out_spec(self, p) -> tuple:
        return tuple(p.out_shape), p.out_type

    def cycles(self, p, opts=None) -> int:
        """Cycles per frame at the nominal rate (every input available, output always ready),
        for the generation options ``opts`` (``hw.options.HwOptions``, default if None)."""
        H, W, _ = self.in_specs(p)[0][0]
        return H * W

    def latency(self, p) -> int:
        return 4

    def buffering(self, p) -> int:
        return 4

    def row_fifo(self, p) -> int:
        """Input FIFO (pixels) this block wants when it runs near the pipeline's rate (bursty
        windowed blocks): 0 for none."""
        return 0

    def macs(self, p) -> int:
        return 0

    def c_tuned(self, p, f, plain, in_ctypes, y) -> Optional[str]:
        """The second CPU baseline: C function ``f`` computing what ``c_function``'s ``plain``
        computes, as a careful user would write it by hand (windowed loops over each pixel's
        in-bounds tap ranges, no bounds check per tap: ``csrc.window_ranges``), reading
        ``plain``'s parameter arrays. None: ``plain`` is already that."""
        return None

    # -- folding (speed against cost) -----------------------------------------------------
    def foldings(self, p) -> list:
        """Every legal parallelism of ``p`` as parameter objects, cheapest first."""
        return [p]

    def folding(self, p) -> Optional[dict]:
        """The chosen parallelism (e.g. ``{'pe': 2, 'simd': 9}``), None if the op has none."""
        return None

    def with_folding(self, p, **fold):
        raise ParallelismError(f"layer '{p.name}' ({self.name}) has no folding to set")

    def __repr__(self):
        return f"<op {self.name}>"

    def __str__(self):
        return self.name


class LaneFolded:
    """Mixin of per-element ops whose constants are the same for every channel (add, multiply,
    clamp, tables, abs): they fold by ``lanes`` (a parameter field; ``None`` means every
    channel), taking ``C / lanes`` cycles a pixel through a ``hw.fold.ChannelFold`` around the
    same block built for ``lanes`` channels. The op supplies ``block(p, opts)`` and
    ``narrow(p)`` (the parameters of that block: ``lanes`` channels, ``W * C / lanes`` pixels a
    row; by default the ``shape_field`` replaced); ``can_fold(p)`` says whether the constants
    allow it."""

    shape_field = "in_shape"          # the parameter field holding the (H, W, C) shape

    def channels(self, p) -> int:
        return self.out_spec(p)[0][2]

    def narrow(self, p):
        """The parameters of the block for ``lanes`` channels: ``W * C / lanes`` pixels a row."""
        H, W, C = getattr(p, self.shape_field)
        return dataclasses.replace(p, **{self.shape_field: (H, W * (C // p.lanes), p.lanes)})

    def can_fold(self, p) -> bool:
        return True

    def row_fifo(self, p) -> int:
        """Folded (``C / lanes`` cycles a pixel, evenly), a block near the pipeline's rate
        stalls a bursty producer that is itself at that rate: two rows of FIFO on every input
        absorb the bursts (fuzzing found a 2x3 convolution at 36 cycles a frame, then an abs at 4
        of 8 lanes, running 39; and a residual add at 2 of 4 lanes after a 3x3 convolution at 42
        cycles a frame running 42.5: its deepest input, which has no join FIFO, had no buffer)."""
        if self.groups(p) <= 1:
            return 0
        return 2 * getattr(p, self.shape_field)[1]

    def groups(self, p) -> int:
        return self.channels(p) // p.lanes

    def foldings(self, p):
        """Every ``lanes`` dividing the channel count, fewest (cheapest) first."""
        if not self.can_fold(p):
            return [p]
        C = self.channels(p)
        return [dataclasses.replace(p, lanes=n) for n in range(1, C + 1) if C % n == 0]

    def folding(self, p):
        return dict(lanes=p.lanes)

    def with_folding(self, p, lanes, *rest):
        C = self.channels(p)
        if rest or not isinstance(lanes, (int, np.integer)) or lanes < 1 or C % lanes or \
                (lanes != C and not self.can_fold(p)):
            raise ParallelismError(f"layer '{p.name}' ({self.name}): lanes={lanes, *rest} is impossible: "
                                   f"give one lane count dividing its {C} channels"
                                   + ("" if self.can_fold(p) else " (its per-channel constants allow only all of them)"))
        return dataclasses.replace(p, lanes=int(lanes))

    def cycles(self, p, opts=None) -> int:
        H, W, _ = self.out_spec(p)[0]
        return H * W * self.groups(p)

    def hardware(self, p, opts):
        if self.groups(p) == 1:
            return self.block(p, opts)
        from ..hw.fold import ChannelFold
        H, W, C = self.out_spec(p)[0]
        return ChannelFold(self.block(self.narrow(p), opts), [t for _, t in self.in_specs(p)],
                           self.out_spec(p)[1], C, p.lanes, H * W)

    def fold_estimate(self, p, full: dict) -> dict:
        """``full`` (the estimate of all channels in parallel) scaled to ``lanes``, plus the
        converters' registers."""
        share = p.lanes / self.channels(p)
        if share == 1:
            return full
        out = {k: int(round(v * share)) for k, v in full.items()}
        out["mult"] = int(full["mult"] * share)
        width = sum(s[2] * t.bits for s, t in self.in_specs(p)) + self.out_spec(p)[0][2] * self.out_spec(p)[1].bits
        out["ff"] += width
        out["lut"] += width
        return out


def lanes_of(p, channels: int):
    """Validate a parameter object's ``lanes`` (None: every channel)."""
    lanes = channels if p.lanes is None else int(p.lanes)
    if lanes < 1 or channels % lanes:
        raise ValueError(f"{p.name}: lanes={p.lanes} must divide its {channels} channels")
    object.__setattr__(p, "lanes", lanes)


def sinks_of(block) -> list:
    """A stream block's input endpoints in input order."""
    return list(getattr(block, "sinks", None) or [block.sink])


class OpParams:
    """Mixin of every op's frozen parameter class: the op that runs it and its figures as
    properties (derived from the op, one source of truth)."""

    @property
    def op(self) -> Op:
        return of(self)

    @property
    def cycles(self) -> int:
        return of(self).cycles(self)

    @property
    def latency(self) -> int:
        return of(self).latency(self)

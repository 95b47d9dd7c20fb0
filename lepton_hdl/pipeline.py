"""``lepton_hdl.compile``: a trained ``nn.Module`` -> one fused streaming ``Pipeline``.

The verbs map onto the reference's compute-object verbs:

| reference | lepton_hdl | what it does here |
|---|---|---|
| ``compile`` | ``lepton_hdl.compile(model, samples)`` | trace, fold, quantize, choose parallelism, size FIFOs |
| ``apply``   | ``Pipeline.golden(x)`` / ``Pipeline.simulate(x)`` | run the integer model / the RTL |
| ``bench``   | ``Pipeline.bench()`` | per-layer cycles, MACs, parallelism, resources; bottleneck; FPS |
| ``freeze``  | ``Pipeline.freeze()`` | the Migen module with every weight baked into ROMs |
| ``test``    | ``Pipeline.evaluate(x, labels)`` | accuracy of float, golden and (optionally) RTL |
| ``train``   | (torch) | training stays in PyTorch; ``lepton_hdl.examples.digits`` shows it |
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from . import golden as _golden
from .ir import Graph
from .resources import total


def _to_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def to_stream_layout(x: np.ndarray, in_shape, flat: bool) -> np.ndarray:
    """A batch in torch layout ((N, C, H, W) or (N, F)) -> (N, H, W, C) stream layout."""
    x = _to_numpy(x)
    H, W, C = in_shape
    per = H * W * C
    if x.size % per:
        raise ValueError(f"input of shape {x.shape} is not a batch of inputs of {per} elements "
                         f"(expected (N, {C}, {H}, {W})" + (f" or (N, {per}))" if flat else ")"))
    if flat:
        return x.reshape(-1, H, W, C)
    return x.reshape(-1, C, H, W).transpose(0, 2, 3, 1)


DEFAULT_MAX_MULTIPLIERS = 1024


@dataclass
class LayerRow:
    name: str
    op: str
    in_shape: tuple
    out_shape: tuple
    macs: int
    pe: Optional[int]
    simd: Optional[int]
    lanes: Optional[int]
    cycles: int
    mult: int
    lut: int
    mem_bits: int


class Pipeline:
    """A compiled model: a quantized IR graph and the hardware it lowers to."""

    def __init__(self, graph: Graph, float_graph: Graph, name="model", compile_s=0.0):
        self.graph = graph
        self.float_graph = float_graph
        self.name = name
        self.compile_s = compile_s
        self._verilator = None
        self.fit = None                  # the board test that chose the folding (compile(board=...))
        self.source_model = None         # the module compiled (weights in RAM: a state dict's home)

    def estimate(self, family=None, dsp_tiles=None):
        """The resource estimate (``resources.Estimate``) generated for ``family`` with
        ``dsp_tiles`` DSP tiles; by default for the board the folding was chosen for (its
        family, the DSP tiles it leaves the accelerator), else ECP5 with every tile wanted."""
        from .resources import estimate_graph
        if self.fit is not None and family in (None, self.fit.family.value) and dsp_tiles is None:
            return self.fit.estimate(self.graph)
        return estimate_graph(self.graph, family or "ecp5", dsp_tiles)

    # -- data ----------------------------------------------------------------------------
    @property
    def input_node(self):
        return self.graph.input

    @property
    def output_node(self):
        return self.graph[self.graph.output]

    def quantize_input(self, x) -> np.ndarray:
        """Float batch in torch layout -> integer batch in stream layout (N, H, W, C)."""
        n = self.input_node
        xs = to_stream_layout(x, n.shape, n.flat)
        t = n.qtype.type
        return np.clip(np.floor(xs / n.qtype.scale + 0.5), t.qmin, t.qmax).astype(np.int64)

    def _out(self, ys):
        o = self.output_node
        ys = np.stack(ys)
        return ys.reshape(len(ys), -1) if o.flat else ys

    def dequantize(self, y) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * self.output_node.qtype.scale

    def golden(self, x) -> np.ndarray:
        """Integer outputs of the bit-exact golden model for a float batch (torch layout)."""
        return self.golden_int(self.quantize_input(x))

    def golden_int(self, q) -> np.ndarray:
        """Integer outputs for an integer batch in stream layout (N, H, W, C)."""
        return self._out([_golden.execute(self.graph, xi) for xi in np.asarray(q)])

    def float_reference(self, x) -> np.ndarray:
        """The float graph (BN folded, activations fused) in numpy float64."""
        from . import floatref
        n = self.input_node
        xs = to_stream_layout(x, n.shape, n.flat)
        return self._out([floatref.execute(self.float_graph, xi) for xi in xs])

    # -- weights in RAM -----------------------------------------------------------------
    @property
    def weights(self) -> str:
        """``"rom"`` (parameters frozen into the gateware) or ``"ram"`` (written at run time)."""
        return self.graph.meta.get("weights", "rom")

    @property
    def param_layout(self) -> list:
        """Weights in RAM: ``[(node, memory, width, depth)]`` of every parameter memory, in the
        order the loader writes them (empty with weights in ROM)."""
        from .hw.mac import runtime_memories
        return [(n.name, name, width, len(words)) for n in self.graph.nodes
                if n.params is not None and getattr(n.params, "runtime", False)
                for name, width, words in runtime_memories(n.params)]

    @property
    def param_words(self) -> int:
        """32-bit words of a weight image's payload for this build."""
        return sum(-(-width // 32) * depth for _, _, width, depth in self.param_layout)

    def compatible(self, model, samples, name=None) -> "Pipeline":
        """Weights in RAM: ``model`` (a module, or a state dict for the model this pipeline was
        compiled from) as it runs on this build's gateware: quantised with its own calibration
        (``samples``, a float batch) at the build's requant shifts and folded as the build.
        ``WeightsError`` naming the first difference when its topology, bit widths, clamps or
        parameter ranges do not suit the build."""
        import copy
        from collections.abc import Mapping
        from . import weights as W
        from .errors import WeightsError
        from .frontend import trace
        from .passes import default_passes, run_passes
        if self.weights != "ram":
            raise WeightsError(f"'{self.name}' was compiled with weights in ROM: compile it with weights='ram' "
                               f"(--weights ram) to load other weights at run time")
        if isinstance(model, Mapping):
            if self.source_model is None:
                raise WeightsError("a state dict needs the module it belongs to: pass the model instead")
            m = copy.deepcopy(self.source_model)
            try:
                m.load_state_dict(model)
            except Exception as e:
                raise WeightsError(f"the state dict does not fit '{self.name}': {str(e).splitlines()[0]}") from None
            model = m
        meta = self.graph.meta
        check_inputs(model, samples, w_bits=meta["w_bits"], a_bits=meta["a_bits"])
        import torch
        xs = torch.as_tensor(_to_numpy(samples), dtype=torch.float32)
        try:
            g = trace(model, xs)
        except Exception as e:
            raise WeightsError(f"the model does not trace like '{self.name}': {e}") from None
        n = g.input
        if tuple(n.shape) != tuple(self.input_node.shape):
            raise WeightsError(f"the model's input is {tuple(n.shape)}, the build's {tuple(self.input_node.shape)}")
        fold = {nd.name: tuple(nd.op.folding(nd.params).values()) for nd in self.graph.nodes
                if nd.params is not None and nd.op.folding(nd.params) is not None}
        shifts = {nd.name: nd.params.requant.shift for nd in self.graph.nodes
                  if nd.params is not None and getattr(nd.params, "runtime", False)}
        passes = default_passes(list(to_stream_layout(xs.numpy(), n.shape, n.flat)), meta["w_bits"], meta["a_bits"],
                                weights="ram", fixed_shifts=shifts)
        try:
            fg = run_passes(g, passes[:2])
            qg = run_passes(fg, passes[2:3])
        except WeightsError:
            raise
        except ValueError as e:
            raise WeightsError(f"the model does not suit the build: {e}") from None
        built = W.signature(self.graph)
        # the build's folding and buffers, then the same signature or the first difference
        nodes = []
        names = {nd.name: nd for nd in self.graph.nodes}
        for nd in qg.nodes:
            b = names.get(nd.name)
            if b is not None and nd.params is not None and nd.name in fold:
                try:
                    nd = nd.with_(params=nd.op.with_folding(nd.params, *fold[nd.name]))
                except ValueError as e:
                    raise WeightsError(f"layer '{nd.label}': {e}") from None
            if b is not None:
                nd = nd.with_(attrs={**nd.attrs, **{k: v for k, v in b.attrs.items() if "fifo" in k}})
            nodes.append(nd)
        qg = qg.with_nodes(nodes)
        diff = W.first_difference(built, W.signature(qg))
        if diff:
            raise WeightsError(f"the model does not suit the build '{self.name}': {diff}")
        return Pipeline(qg, fg, name=name or g.meta.get("model", "model"))

    def weight_image(self, model, samples) -> bytes:
        """Weights in RAM: the binary parameter image of ``model`` (a compatible module or a
        state dict, calibrated on ``samples``) for this build (``weights`` module docstring)."""
        from . import weights as W
        return W.image(self.compatible(model, samples).graph, self.param_layout)

    # -- hardware ------------------------------------------------------------------------
    def freeze(self, opts=None, weights=None):
        """The whole model as one Migen module. ``opts``: a ``hw.options.HwOptions`` (logic /
        DSP / Fmax trade-offs, bit-identical results), by default the ECP5 and simulator choice;
        ``hw.options.FAMILY`` has one per FPGA family. ``weights``: ``"rom"`` freezes every
        parameter into the gateware; ``"ram"`` (a pipeline compiled with ``weights="ram"``)
        keeps convolution and linear parameters in memories the ``params`` loader writes;
        default: as compiled. Same results and cycles either way."""
        from .hw.lower import LoweredPipeline
        from .hw.options import HwOptions
        return LoweredPipeline(self._graph_for(weights), opts or HwOptions())

    def _graph_for(self, weights):
        """The graph frozen for ``weights`` (None: as compiled)."""
        from dataclasses import replace
        from .errors import WeightsError
        if weights in (None, self.weights):
            return self.graph
        if weights == "ram":
            raise WeightsError(f"'{self.name}' was compiled with weights in ROM: compile with weights='ram' "
                               f"(--weights ram) for writable weights (accumulators sized for any weights)")
        if weights != "rom":
            raise WeightsError(f"weights={weights!r}: 'rom' or 'ram'")
        return self.graph.with_nodes([n.with_(params=replace(n.params, runtime=False))
                                      if getattr(n.params, "runtime", False) else n for n in self.graph.nodes],
                                     weights="rom")

    def to_verilog(self, path) -> Path:
        """Write the pipeline as Verilog (module ``lepton_pipeline``; its ports:
        ``lepton_hdl.testbench``): ``sys_clk``, ``sys_rst``, the input stream ``s0_valid``,
        ``s0_ready``, ``s0_data``, ``s0_first``, ``s0_last`` and the output stream ``m_*``."""
        from .sim.verilator import StreamTop, to_verilog
        core = self.freeze()
        top = StreamTop(core, [core.sink], core.source)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        to_verilog(top, top.ios, name="lepton_pipeline").write(str(path))
        return path

    def verilator(self, log=None, opts=None, reload=False):
        """The Verilator model of ``freeze(opts)`` (built once per options); ``reload``
        (weights in RAM): with a second input stream, a weight image's payload, loaded before
        the first pixel enters (``sim.reload.LoadThenRun``)."""
        if self._verilator is None:
            self._verilator = {}
        key = (opts, reload)
        if key not in self._verilator:
            from .sim.verilator import VerilatorModel
            if reload:
                from .sim.reload import LoadThenRun
                top = LoadThenRun(self.freeze(opts), self.param_words)
                self._verilator[key] = VerilatorModel(top, sinks=[top.params, top.sink], source=top.source,
                                                      name=f"pipeline-{self.name}-reload", log=log)
            else:
                self._verilator[key] = VerilatorModel(self.freeze(opts), name=f"pipeline-{self.name}", log=log)
        return self._verilator[key]

    def simulate(self, x, seed=0, valid_prob=1.0, ready_prob=1.0, integer=False, log=None, opts=None,
                 weight_image: Optional[bytes] = None):
        """Run a batch through the RTL under Verilator (back-to-back frames); ``opts``: the
        ``HwOptions`` to generate it with (default: the simulator's). ``weight_image`` (weights
        in RAM): loaded through the parameter loader before the first frame.

        Returns ``(outputs, info)``: integer outputs shaped as ``golden``'s, and a dict with the
        cycles of each frame's last output beat, the steady-state cycles per frame and the
        wall time."""
        from .sim.frames import pack_frame, unpack_frame
        q = np.asarray(x, dtype=np.int64) if integer else self.quantize_input(x)
        it = self.input_node.qtype.type
        beats = []
        for xi in q:
            beats += pack_frame(xi, it)
        o = self.output_node
        n_px = o.shape[0] * o.shape[1]
        if weight_image is not None:
            from .weights import parse, topology_hash
            words = parse(weight_image, topology_hash(self.graph), self.param_words)
            model = self.verilator(log=log, opts=opts, reload=True)
            res = model.run([words, beats], n_px * len(q), seed=seed, valid_prob=valid_prob, ready_prob=ready_prob)
        else:
            model = self.verilator(log=log, opts=opts)
            res = model.run([beats], n_px * len(q), seed=seed, valid_prob=valid_prob, ready_prob=ready_prob)
        ys = [unpack_frame(res.beats[i * n_px:(i + 1) * n_px], o.shape, o.qtype.type) for i in range(len(q))]
        ends = res.frame_ends(n_px)
        info = dict(frame_end_cycles=ends, first_frame_cycles=ends[0] if ends else None,
                    cycles_per_frame=res.steady_period(n_px) if len(ends) > 1 else None,
                    wall_s=res.wall_s, build_s=model.build_s, sim_cycles=res.sim_cycles)
        return self._out(ys), info

    # -- reports -------------------------------------------------------------------------
    def layers(self) -> list:
        rows = []
        for n in self.graph.nodes:
            p = n.params
            if p is None:
                continue
            op = n.op
            e = op.estimate(p)
            fold = op.folding(p) or {}
            rows.append(LayerRow(n.label, op.name, tuple(op.in_specs(p)[0][0]), tuple(op.out_spec(p)[0]),
                                 op.macs(p), fold.get("pe"), fold.get("simd"), fold.get("lanes"), op.cycles(p),
                                 e["mult"], e["lut"],
                                 e["mem_bits"]))
        return rows

    @property
    def bound_cycles(self) -> int:
        """Analytic cycles per frame: the slowest block (all blocks run concurrently)."""
        return max(r.cycles for r in self.layers())

    @property
    def bottleneck(self) -> str:
        rows = self.layers()
        return max(rows, key=lambda r: r.cycles).name

    def bench(self, clock_mhz: float = 100.0) -> dict:
        """Per-layer table and the pipeline's figures (analytic; ``simulate`` measures)."""
        rows = self.layers()
        res = total(self.graph)
        macs = sum(r.macs for r in rows)
        lanes = sum(r.pe * r.simd for r in rows if r.pe)
        bound = self.bound_cycles
        return dict(model=self.name, layers=[r.__dict__ for r in rows], cycles_per_frame=bound,
                    bound_cycles=bound, bottleneck=self.bottleneck, macs=macs, mac_lanes=lanes,
                    mac_utilisation=macs / (lanes * bound) if lanes else 0.0,
                    fps=clock_mhz * 1e6 / bound, clock_mhz=clock_mhz, resources=res,
                    w_bits=self.graph.meta.get("w_bits"), a_bits=self.graph.meta.get("a_bits"))

    def report(self, clock_mhz: float = 100.0) -> str:
        b = self.bench(clock_mhz)
        head = f"{'layer':22s} {'op':14s} {'in':>12s} {'out':>12s} {'MACs':>8s} {'pe':>4s} {'simd':>5s} {'lanes':>5s} {'cycles':>7s} {'mult':>5s} {'LUT~':>6s} {'mem bits':>9s}"
        lines = [head, "-" * len(head)]
        for r in self.layers():
            mark = " <- bottleneck" if r.name == b["bottleneck"] else ""
            lines.append(f"{r.name[:22]:22s} {r.op:14s} {'x'.join(map(str, r.in_shape)):>12s} "
                         f"{'x'.join(map(str, r.out_shape)):>12s} {r.macs:8d} {r.pe or '-':>4} {r.simd or '-':>5} {r.lanes or '-':>5} "
                         f"{r.cycles:7d} {r.mult:5d} {r.lut:6d} {r.mem_bits:9d}{mark}")
        rs = b["resources"]
        lines += ["-" * len(head),
                  f"cycles/frame {b['cycles_per_frame']} (slowest block: {b['bottleneck']}); "
                  f"{b['fps']:,.0f} frames/s at {clock_mhz:g} MHz; {b['macs']} MACs/frame on {b['mac_lanes']} "
                  f"MAC lanes ({100 * b['mac_utilisation']:.0f}% busy)",
                  f"estimated: {rs['mult']} multipliers, ~{rs['lut']} LUT, ~{rs['ff']} FF, {rs['mem_bits']} memory bits "
                  f"(w{b['w_bits']}/a{b['a_bits']})"]
        return "\n".join(lines)


def _bad_values(a: np.ndarray) -> str:
    """'' if ``a`` is all finite, else what is wrong and where (the first bad element)."""
    bad = ~np.isfinite(a)
    if not bad.any():
        return ""
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    kinds = [k for k, n in (("NaN", np.isnan(a).sum()), ("Inf", np.isinf(a).sum())) if n]
    return f"{int(bad.sum())} {'/'.join(kinds)} value(s), the first at index {first}"


def check_inputs(model, sample_inputs, target_cycles=None, max_multipliers=None, bits=8, w_bits=None,
                 a_bits=None) -> None:
    """What ``compile`` refuses before it traces anything (``InputError``, ``ModelError``):
    NaN/Inf or an empty batch in the calibration samples, NaN/Inf in a parameter or buffer
    (named by its module path), a non-positive cycle target or multiplier budget, bit widths out
    of range. A model in training mode is compiled as in eval mode (BatchNorm's running
    statistics, no dropout): the hardware is an inference engine."""
    import torch
    from .arith import check_bits
    from .errors import InputError, ModelError
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"expected a torch.nn.Module as the model, got {type(model).__name__}")
    for name, v in (("target_cycles", target_cycles), ("max_multipliers", max_multipliers)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0):
            raise InputError(f"{name}={v!r}: must be a positive integer (or None)")
    for name, v in (("bits", bits), ("w_bits", w_bits), ("a_bits", a_bits)):
        if v is not None:
            check_bits(name, v)
    try:
        x = _to_numpy(sample_inputs)
    except Exception as e:
        raise InputError(f"calibration samples: cannot read them as a float array ({type(e).__name__}: {e})") from e
    if x.ndim == 0 or x.shape[0] == 0 or x.size == 0:
        raise InputError(f"calibration samples: an empty batch (shape {x.shape}); give at least one input")
    why = _bad_values(x)
    if why:
        raise InputError(f"calibration samples contain {why}: clean the data (every sample must be finite)")
    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for pname, t in items:
            if t.is_floating_point():
                why = _bad_values(t.detach().cpu().numpy())
                if why:
                    raise InputError(f"model {kind} '{pname}' has {why}: the model is broken (diverged training "
                                     f"or a bad checkpoint); fix the weights before compiling")


def given_bit_widths(g) -> tuple:
    """``(weight bits, activation bits)`` a traced graph's given quantization fixes (None where it
    gives none); one width each (``UnsupportedOpError`` for a mix)."""
    from .errors import UnsupportedOpError
    a = {int(n.attrs["bits"]) for n in g.nodes if n.op.name == "quant"}
    w = {int(n.attrs["given_w"][2]) for n in g.nodes if "given_w" in n.attrs}
    for kind, bits in (("weights", w), ("activations", a)):
        if len(bits) > 1:
            raise UnsupportedOpError(f"the model's given quantization has {kind} of {sorted(bits)} bits: one width "
                                     f"for all {kind} is supported")
    return next(iter(w), None), next(iter(a), None)


def compile(model, sample_inputs=None, bits: int = 8, w_bits: Optional[int] = None, a_bits: Optional[int] = None,
            fold=None, target_cycles: Optional[int] = None, max_multipliers: Optional[int] = DEFAULT_MAX_MULTIPLIERS,
            name: Optional[str] = None, log=None, fps: Optional[float] = None, clock_mhz: float = 100.0,
            board=None, soc: bool = False, weights: str = "rom") -> Pipeline:
    """Trace ``model`` (a ``torch.nn.Module``, or an ONNX model: a ``.onnx`` path or an
    ``onnx.ModelProto``, ``lepton_hdl.onnx_frontend``), fold BatchNorm, fuse activations,
    quantize (calibrated on ``sample_inputs``, a float batch in the model's own layout), choose
    per-layer parallelism and size FIFOs. Raises a clear error for anything unsupported, before any hardware.

    Parallelism: the fastest balanced pipeline (every layer just fast enough for the slowest)
    whose multipliers fit ``max_multipliers`` (default 1024; a board sets its own; ``None``
    means unlimited); ``target_cycles`` caps the speed; ``fps`` asks for the cheapest pipeline that
    makes that many frames a second at ``clock_mhz`` (``FitError`` if even the fastest within the
    budget cannot); ``fold`` fixes layers by name.

    ``board`` (a ``platforms.boards.Board`` or its name): the board decides instead of a
    multiplier count: the fastest pipeline whose resource estimate (LUT, FF, block-RAM and DSP
    tiles for the board's family) fits the chip, minus the SoC's own share if ``soc``
    (``FitError`` naming what does not fit when even the most folded one does not).

    ``weights="ram"``: convolution and linear parameters live in memories written at run time
    (``Pipeline.weight_image``, the driver's ``lepton_load_weights``), so a retrained model of
    the same topology runs without a new bitstream; widths are sized for any weights of the
    declared bits and requant shifts leave headroom for other scales. Same cycles as ROM."""
    from .errors import FitError
    from .frontend import trace
    from .onnx_frontend import is_onnx, to_module
    from .passes import default_passes, run_passes
    t0 = time.perf_counter()
    if is_onnx(model):
        # an ONNX model (path or ModelProto): the same ops, passes and errors, through a module
        if name is None and isinstance(model, (str, Path)):
            name = Path(model).stem
        model = to_module(model)
    # a model quantised before compilation (QONNX Quant nodes): its own bit widths, and
    # calibration samples only where a tensor's quantization is not given
    given_bits = getattr(model, "lepton_given_bits", None)
    if sample_inputs is None:
        shape = getattr(model, "lepton_input_shape", None)
        if given_bits is None or shape is None:
            from .errors import InputError
            raise InputError("no calibration samples: give sample_inputs (a float batch in the model's input "
                             "layout); only a model quantised throughout (QONNX) compiles without them")
        sample_inputs, calibrate = np.zeros((1,) + tuple(shape[1:]), np.float32), False
    else:
        calibrate = True
    check_inputs(model, sample_inputs, target_cycles=target_cycles, max_multipliers=max_multipliers,
                 bits=bits, w_bits=w_bits, a_bits=a_bits)
    need = None
    if fps is not None:
        if not (fps > 0 and clock_mhz > 0):
            raise FitError(f"fps={fps} at clock_mhz={clock_mhz}: both must be positive")
        need = int(clock_mhz * 1e6 // fps)       # cycles a frame may take
        if need < 1:
            raise FitError(f"{fps:g} frames/s at {clock_mhz:g} MHz leaves less than one cycle a frame")
        target_cycles = need if target_cycles is None else min(target_cycles, need)
    import torch
    samples = torch.as_tensor(_to_numpy(sample_inputs), dtype=torch.float32)
    g = trace(model, samples)
    # given quantization (QuantAct, QONNX Quant, a layer's weight_quant): its bit widths
    gw, ga = given_bit_widths(g)
    w_bits, a_bits = w_bits or gw, a_bits or ga
    n = g.input
    stream_samples = list(to_stream_layout(samples.numpy(), n.shape, n.flat))
    fits = None
    if board is not None:
        from .platforms import boards
        from .resources import BoardFit
        board = boards.get(board) if isinstance(board, str) else board
        fits = BoardFit(board, soc)
        max_multipliers = None
    if weights not in ("rom", "ram"):
        from .errors import InputError
        raise InputError(f"weights={weights!r}: 'rom' (frozen into the gateware) or 'ram' (written at run time)")
    passes = default_passes(stream_samples if calibrate else None, w_bits or bits, a_bits or bits, fold, target_cycles,
                            max_multipliers, fits, weights=weights)
    float_graph = run_passes(g, passes[:2], log)
    qg = run_passes(float_graph, passes[2:], log)
    pipe = Pipeline(qg, float_graph, name=name or g.meta.get("model", "model"), compile_s=time.perf_counter() - t0)
    pipe.fit = fits
    pipe.source_model = model
    if need is not None and pipe.bound_cycles > need:
        best = clock_mhz * 1e6 / pipe.bound_cycles
        raise FitError(f"{fps:g} frames/s at {clock_mhz:g} MHz needs <= {need} cycles a frame; the fastest "
                       f"pipeline within {'what ' + board.name + ' holds' if board else str(max_multipliers or 'no') + ' multipliers'} takes {pipe.bound_cycles} "
                       f"({best:,.0f} frames/s, slowest block '{pipe.bottleneck}'): ask for fewer frames/s, "
                       f"a faster clock or a larger budget (--max-multipliers)")
    return pipe

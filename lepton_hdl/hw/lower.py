"""Lowering: a quantized IR graph -> one Migen module, one input stream, one output stream,
every layer its own block, all running concurrently."""
from __future__ import annotations

from functools import reduce
from operator import and_

from migen import Array, Cat, Constant, If, Module, Signal
from litex.soc.interconnect import stream

from ..ops import sinks_of
from .common import DspBudget, DspTile, dsp_budget, endpoint
from .options import HwOptions


class Broadcast(Module):
    """One stream to ``n`` consumers; each takes the beat when it is ready (eager fork), and the
    sink advances once all have taken it."""

    def __init__(self, layout, n: int):
        self.sink = stream.Endpoint(layout)
        self.sources = [stream.Endpoint(layout) for _ in range(n)]
        # # #
        done = [Signal(name=f"done{i}") for i in range(n)]
        all_taken = reduce(and_, [d | s.ready for d, s in zip(done, self.sources)])
        self.comb += self.sink.ready.eq(all_taken)
        for d, s in zip(done, self.sources):
            self.comb += [s.valid.eq(self.sink.valid & ~d), s.data.eq(self.sink.data),
                          s.first.eq(self.sink.first), s.last.eq(self.sink.last)]
            self.sync += If(self.sink.valid, If(all_taken, d.eq(0)).Elif(s.ready, d.eq(1)))


class ParamLoader(Module):
    """Weights in RAM: writes a stream of 32-bit words into the pipeline's parameter memories,
    memory after memory in ``ports`` order, each memory word from ``ceil(width / 32)`` stream
    words, LSB-first (the layout of ``Pipeline.weight_image``). Takes a word every cycle;
    ``restart`` (a pulse) begins again at the first memory. ``words``: the image's length."""

    def __init__(self, ports):
        self.sink = stream.Endpoint([("data", 32)])
        self.restart = Signal()
        chunks = [-(-width // 32) for _, _, width, _ in ports]
        depths = [depth for _, _, _, depth in ports]
        self.words = sum(c * d for c, d in zip(chunks, depths))
        # # #
        n = len(ports)
        mem = Signal(max=max(n + 1, 2))
        adr = Signal(max=max(max(depths), 2))
        chunk = Signal(max=max(max(chunks), 2))
        buf = Signal(32 * max(max(chunks) - 1, 1))
        last_chunk = Signal()
        last_adr = Signal()
        take = Signal()
        self.comb += [
            self.sink.ready.eq(1),
            take.eq(self.sink.valid & (mem < n)),
            last_chunk.eq(chunk == Array(Constant(c - 1, len(chunk)) for c in chunks)[mem]),
            last_adr.eq(adr == Array(Constant(d - 1, len(adr)) for d in depths)[mem]),
        ]
        self.sync += [
            If(self.restart, mem.eq(0), adr.eq(0), chunk.eq(0)
            ).Elif(take,
                If(~last_chunk, chunk.eq(chunk + 1),
                    *[If(chunk == k, buf[32 * k:32 * (k + 1)].eq(self.sink.data)) for k in range(max(chunks) - 1)]
                ).Else(chunk.eq(0),
                    If(last_adr, adr.eq(0), mem.eq(mem + 1)).Else(adr.eq(adr + 1))))
        ]
        for k, (_, port, width, _) in enumerate(ports):
            c = chunks[k]
            word = Cat(buf[:32 * (c - 1)], self.sink.data) if c > 1 else self.sink.data
            self.comb += [port.adr.eq(adr), port.dat_w.eq(word[:width]),
                          port.we.eq(take & (mem == k) & last_chunk)]


class LoweredPipeline(Module):
    """The whole model as one streaming circuit: ``sink`` takes input pixels, ``source``
    gives output pixels (a flat output is one beat of all features)."""

    def __init__(self, g, opts: HwOptions = HwOptions()):
        inp = g.input
        self.sink = endpoint(inp.shape[2], inp.qtype.type)
        out = g[g.output]
        self.source = endpoint(out.shape[2], out.qtype.type)
        self.blocks = {}
        # the DSP tiles this build may fill, handed to products in graph order
        self.dsp = DspBudget(opts.dsp_tiles, opts.dsp or DspTile(18)) if opts.dsp_tiles is not None else None
        # # #
        lanes = {}

        def publish(name, ep):
            k = len(g.consumers(name)) + (name == g.output)
            if k <= 1:
                lanes[name] = [ep]
                return
            fork = Broadcast(ep.description, k)
            setattr(self.submodules, f"fork_{_ident(name)}", fork)
            self.comb += ep.connect(fork.sink)
            lanes[name] = list(fork.sources)

        def take(name):
            return lanes[name].pop(0)

        for n in g.nodes:
            if n.op.arity == 0:
                publish(n.name, self.sink)
            elif n.op.passthrough:                  # flatten
                publish(n.name, take(n.inputs[0]))
            else:
                with dsp_budget(self.dsp):
                    if self.dsp is not None:
                        self.dsp.block = n.name
                    blk = n.op.hardware(n.params, opts)
                setattr(self.submodules, _ident(n.name), blk)
                self.blocks[n.name] = blk
                sinks = [self._input_buffer(n, k, snk, opts) for k, snk in enumerate(sinks_of(blk))]
                for src, snk in zip(n.inputs, sinks):
                    self.comb += take(src).connect(snk)
                publish(n.name, blk.source)
        self.comb += take(g.output).connect(self.source)
        # weights in RAM: one loader for every parameter memory, in graph order
        self.param_layout = []
        ports = []
        for name, blk in self.blocks.items():
            for mem_name, port, width, depth in getattr(blk, "param_ports", []):
                self.param_layout.append((name, mem_name, width, depth))
                ports.append((mem_name, port, width, depth))
        self.params = None
        if ports:
            self.submodules.params = self.params = ParamLoader(ports)
        if self.dsp is not None:
            self.specials += self.dsp.instances          # the logic multipliers (hw.common)
            self.comb += self.dsp.statements


    def _input_buffer(self, n, k: int, sink, opts):
        """Put ``input_buffers(n, opts)[k]`` in front of input ``k`` of node ``n``'s block;
        returns the new sink."""
        kind = input_buffers(n, opts)[k]
        if kind is None:
            return sink
        name = _ident(n.name) + (f"_{k}" if len(n.inputs) > 1 else "")
        if kind[0] == "fifo":
            buf = stream.SyncFIFO(sink.description, kind[1], buffered=kind[2])
        else:
            buf = stream.PipeReady(sink.description)
        setattr(self.submodules, f"{kind[0]}_{name}", buf)
        self.comb += buf.source.connect(sink)
        return buf.sink


def input_buffers(n, opts: HwOptions) -> list:
    """What the lowering puts in front of each input of node ``n``'s block (the resource
    estimate reads the same list): ``("fifo", depth, buffered)`` as deep as its row FIFO
    (every input) or its join FIFO, whichever is deeper; else, for a single-input block,
    ``("skid",)`` (a skid buffer still registers ready, so no combinational ready path runs
    through several blocks: it was the critical path on ECP5); else None. A row FIFO, and a
    join FIFO of at least ``BUFFERED_FIFO`` pixels, is buffered (its memory is read
    synchronously), so a deep one goes to block RAM: read asynchronously, a join FIFO of
    hundreds of pixels took distributed RAM on ECP5 and flip-flops on iCE40."""
    row = n.attrs.get("row_fifo", 0)
    join = n.attrs.get("join_fifos", ())
    out = []
    for k in range(len(n.inputs)):
        depth = max(row, join[k] if k < len(join) else 0)
        if depth:
            out.append(("fifo", depth, bool(row) or depth >= BUFFERED_FIFO))
        elif opts.skid and len(n.inputs) == 1:
            out.append(("skid",))
        else:
            out.append(None)
    return out


# join FIFOs this deep or deeper read their memory synchronously (an output register): block
# RAM needs it (ECP5 maps 50 words and more there, iCE40 8 and more); shallower ones keep the
# asynchronous read, a cycle less latency
BUFFERED_FIFO = 16


def _ident(name: str) -> str:
    s = "".join(c if c.isalnum() else "_" for c in name)
    return s if s[:1].isalpha() else "n_" + s

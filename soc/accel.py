"""The compiled pipeline as a LiteX peripheral: DMA in, DMA out, CSRs, an IRQ on done; or, on a
SoC too small for two bus masters (the iCEBreaker), a CPU-fed stream port (``port="csr"``).

Memory layout (what the firmware writes and reads):

* input: each frame is ``in_words`` bus words (32 bits, or the SoC's wider bus); its pixels
  are packed LSB-first, ``in_pixel_bits`` each (the pixel's channels packed LSB-first at the
  activation width, padded to a power of two from 8 bits up to the bus width, or a multiple of
  it); unused chunks at a frame's end are skipped.
* output: each pixel is padded to a multiple of 32 bits; a frame is ``out_words`` bus words
  (a wide bus packs several pixels a word: a frame's pixels fill whole words).

CSRs (one line per register, as the firmware sees them):

========  =====  ==========================================================
src       RW 32  byte address of the first input frame in main RAM
dst       RW 32  byte address for the first output frame
frames    RW 32  number of frames to stream back to back
start     W      write 1: start (ignored and ``error`` set while busy or frames == 0)
abort     W      write 1: stop the job: no new bus cycle starts, and once none is in flight the
                 pipeline, its converters and both DMA engines are reset (weights stay) and
                 busy drops; the next start runs exact
status    R      bit 0 busy, bit 1 done (since the last start), bit 2 error
cycles    R 32   clock cycles from start to the last output word written
pause     RW 1   1: the input DMA starts no new read (the CPU keeps the bus; a job then waits,
                 and its wait times out if the pause outlasts it); 0: it resumes
load      W      weights in RAM only: write 1: load a weight image's payload (``PARAM_WORDS``
                 words at ``src``) into the parameter memories (ignored and ``error`` set while
                 busy); busy until every word is written, then done; a start meanwhile is
                 refused (``error``), and the next frame runs on the new weights
========  =====  ==========================================================

``status`` bit 3 (``loading``) is set while a load runs.

The CPU-fed stream port (``port="csr"``) has no DMA engine and no bus master: ``src``, ``dst``
and ``pause`` are gone, and the CPU moves the words itself, in the same memory layout:

========  =====  ==========================================================
push      W 32   one input word (a frame's words in order; a job's, or a load's payload) into
                 the input FIFO (``PORT_FIFO_WORDS``); words pushed before ``start`` wait there,
                 so a frame that fits the FIFO runs at the pipeline's own pace; a push into a
                 full FIFO is dropped and sets ``error``
pop       R 32   reading it takes the oldest output word from the output FIFO
========  =====  ==========================================================

``status`` bit 4 (``in_ready``): the input FIFO has room; bit 5 (``out_valid``): an output word
waits. ``cycles`` counts from start to the last output word produced (in the output FIFO);
done (busy drops, the event fires) once the CPU has popped every word of the job.
"""
from __future__ import annotations

from functools import reduce
from operator import add

from migen import ClockDomainsRenamer, If, ResetInserter, Signal
from migen.fhdl.bitcontainer import log2_int
from migen.genlib.cdc import MultiReg

from litex.gen import LiteXModule
from litex.soc.cores.dma import WishboneDMAReader, WishboneDMAWriter
from litex.soc.interconnect import stream
from litex.soc.interconnect.csr import CSR, CSRField, CSRStatus, CSRStorage
from litex.soc.interconnect.csr_eventmanager import EventManager, EventSourcePulse


def padded_bits(bits: int, sub_word: bool = True, word: int = 32) -> int:
    """Pixel width in memory: a power of two from 8 to ``word`` bits (several pixels a bus
    word), else a multiple of ``word``; without ``sub_word``, a multiple of 32 that divides the
    word or is a multiple of it."""
    if sub_word:
        w = 8
        while w <= word:
            if bits <= w:
                return w
            w *= 2
        return -(-bits // word) * word
    b = -(-bits // 32) * 32
    while word % b and b % word:
        b += 32
    return b


# bus words the output side buffers between the pipeline and the DMA writer
OUT_FIFO_WORDS = 16
# entries of each asynchronous FIFO when the pipeline has its own clock (``clock_domain``)
CDC_DEPTH = 16
# words of each FIFO of the CPU-fed stream port (``port="csr"``): a digits frame and its
# output fit, so a one-frame job runs at the pipeline's pace once the CPU has pushed the frame
PORT_FIFO_WORDS = 16
# system cycles an abort holds the system side in reset before it waits for the pipeline's side
ABORT_FLUSH_CYCLES = 8


def _times(x, k: int):
    """``x * k`` for a constant ``k >= 0`` as shifted adds: a ``*`` here would take a DSP tile
    (Yosys maps it to an SB_MAC16 or MULT18X18D) from under the accelerator's exact budget."""
    terms = [x << i for i in range(int(k).bit_length()) if int(k) >> i & 1]
    return reduce(add, terms) if terms else 0


class StreamLayout:
    """Sizes of the pipeline's input and output in memory, shared with the firmware header."""

    def __init__(self, in_shape, in_bits, out_shape, out_bits, word_bits: int = 32):
        W = self.word_bits = word_bits
        self.word_bytes = W // 8
        self.in_px = in_shape[0] * in_shape[1]
        self.in_pixel_bits = in_shape[2] * in_bits
        self.in_pad = padded_bits(self.in_pixel_bits, sub_word=True, word=W)
        self.in_chunks_per_word = max(1, W // self.in_pad)
        self.in_words_per_px = max(1, self.in_pad // W)
        if self.in_pad < W:
            self.in_words = -(-self.in_px // self.in_chunks_per_word)
        else:
            self.in_words = self.in_px * self.in_words_per_px
        self.out_px = out_shape[0] * out_shape[1]
        self.out_pixel_bits = out_shape[2] * out_bits
        self.out_pad = padded_bits(self.out_pixel_bits, sub_word=False, word=W)
        self.out_words_per_px = self.out_pad // 32          # 32-bit words (the firmware's view)
        self.out_px_per_word = max(1, W // self.out_pad)
        if (self.out_px * self.out_pad) % W:
            raise ValueError(f"an output frame of {self.out_px} pixels of {self.out_pad} bits does not fill whole "
                             f"{W}-bit bus words: use a 32-bit bus")
        self.out_words = self.out_px * self.out_pad // W


class _Sink:
    """Stands for the pipeline's input where a clock-domain crossing comes in front of it."""
    def __init__(self, sink):
        self.sink = sink


class _Source:
    """Stands for the pipeline's output where a clock-domain crossing comes after it."""
    def __init__(self, source):
        self.source = source


class LeptonAccelerator(LiteXModule):
    """The pipeline as a SoC peripheral: a DMA reader feeds input frames from memory, a DMA
    writer stores the outputs, CSRs start a job of N frames and report busy/done/error and the
    cycles it took, a done event raises the IRQ. Without buses (``rd_bus``, ``wr_bus`` None) it
    is the CPU-fed stream port instead: the CPU pushes input words and pops output words through
    two CSRs (module docstring); no bus master, so it fits beside a CPU on the smallest chips.

    ``clock_domain``: the clock domain the pipeline runs in. ``"sys"`` (the default) is the
    CPU's; any other name puts the pipeline in that domain (the SoC's CRG must provide it),
    with an asynchronous FIFO on its input and on its output, so that a board can clock the
    accelerator faster than the CPU and its bus. CSRs, DMA and the cycle counter stay in
    ``sys`` (``cycles`` counts system cycles)."""

    def __init__(self, core, layout: StreamLayout, rd_bus=None, wr_bus=None, clock_domain: str = "sys"):
        self.cd = clock_domain
        self.cdc = clock_domain != "sys"
        self.csr_port = rd_bus is None
        if self.csr_port and (wr_bus is not None or self.cdc):
            raise ValueError("the CPU-fed stream port has neither bus: pass no wr_bus, and run it in sys")
        if self.cdc and getattr(core, "params", None) is not None:
            raise ValueError("weights in RAM are loaded in the system clock domain: build the pipeline in it "
                             "(no separate accelerator clock)")
        # every stateful part of the datapath can be reset by the abort CSR
        core = ResetInserter()(core)
        self.core = ClockDomainsRenamer(clock_domain)(core) if self.cdc else core
        self.core_reset = core.reset
        self.layout = layout
        if self.csr_port:
            # the input FIFO stands where the DMA reader's output was
            self.reader = ResetInserter()(stream.SyncFIFO([("data", layout.word_bits)], PORT_FIFO_WORDS,
                                                          buffered=True))
            self.writer = None
        else:
            self.reader = ResetInserter()(WishboneDMAReader(rd_bus, endianness="big", fifo_depth=16))
            self.writer = ResetInserter()(WishboneDMAWriter(wr_bus, endianness="big"))
        self.irq = Signal()
        self.add_csr()
        # # #
        self.busy, self.finish = Signal(), Signal()
        self.error = Signal()
        self.produced = Signal()           # CSR port: every output word of the job produced
        self.total_in, self.total_out = Signal(32), Signal(32)
        self.rd_count, self.wr_count = Signal(32), Signal(32)
        self.start = self._start.re & self._start.r[0]
        # weights in RAM: a load streams the image's payload through the reader into the
        # pipeline's parameter loader
        self.param_words = core.params.words if getattr(core, "params", None) is not None else 0
        self.loading = Signal()
        self.ld_count = Signal(32)
        self.load = (self._load.re & self._load.r[0]) if self.param_words else 0
        # abort: no new bus cycle is started; once neither DMA engine has one in flight (a
        # dropped cycle could leave its slave's late ack to the next master), the datapath is
        # reset for a cycle and busy drops
        self.abort_req = Signal()
        self.abort = Signal()
        idle = self.abort_req if self.csr_port else self.abort_req & ~rd_bus.cyc & ~wr_bus.cyc
        self.sync += If(self._abort.re & self._abort.r[0], self.abort_req.eq(1)).Elif(self.abort, self.abort_req.eq(0))
        self.add_ctrl()
        self.add_input()
        self.add_output()
        if not self.cdc:
            self.comb += self.abort.eq(idle)
            self.comb += [self.core_reset.eq(self.abort)]
            self.comb += [m.reset.eq(self.abort) for m in (self.reader, self.writer, self.in_conv, self.out_conv,
                                                            self.out_fifo) if m is not None]
        else:
            self.add_cdc_abort(idle)

    def add_cdc_abort(self, idle):
        """An abort across two clocks: both sides of the asynchronous FIFOs and the pipeline are
        held in reset together (the system side for ``ABORT_FLUSH_CYCLES`` and until the pipeline's
        side is seen in reset), then the system side waits until the pipeline's side has left
        reset before ``abort`` drops busy, so a start right after it finds both sides empty."""
        flush = Signal()                       # system side in reset
        count = Signal(max=ABORT_FLUSH_CYCLES + 1)
        waiting = Signal()                     # system side out of reset, the pipeline's not yet
        in_reset = Signal()                    # the pipeline's side, seen from sys
        rst_core = Signal()
        self.specials += MultiReg(flush, rst_core, odomain=self.cd)
        self.specials += MultiReg(rst_core, in_reset, odomain="sys")
        self.comb += self.abort.eq(waiting & ~in_reset)
        self.sync += [
            If(idle & ~flush & ~waiting, flush.eq(1), count.eq(ABORT_FLUSH_CYCLES)
            ).Elif(flush,
                If(count != 0, count.eq(count - 1)),
                If((count == 0) & in_reset, flush.eq(0), waiting.eq(1))
            ).Elif(self.abort, waiting.eq(0))
        ]
        self.comb += [m.reset.eq(flush) for m in (self.reader, self.writer, self.in_conv, self.out_conv,
                                                  self.out_fifo)]
        self.comb += [self.core_reset.eq(rst_core), self.in_cdc.reset_read.eq(rst_core),
                      self.in_cdc.reset_write.eq(flush), self.out_cdc.reset_write.eq(rst_core),
                      self.out_cdc.reset_read.eq(flush)]

    def _crossing(self, width: int, to_core: bool):
        """An asynchronous FIFO of ``width``-bit words from sys to the pipeline's domain
        (``to_core``) or back; each side with its own reset (``reset_write``, ``reset_read``)."""
        fifo = ResetInserter(["write", "read"])(stream.AsyncFIFO([("data", width)], CDC_DEPTH, buffered=True))
        w, r = ("sys", self.cd) if to_core else (self.cd, "sys")
        return ClockDomainsRenamer({"write": w, "read": r})(fifo)

    def add_csr(self):
        """The firmware interface (``firmware/lepton.c``), one register a line."""
        if not self.csr_port:
            self._src = CSRStorage(32, description="Byte address of the input frames.")
            self._dst = CSRStorage(32, description="Byte address for the output frames.")
        self._frames = CSRStorage(32, description="Frames to process.")
        self._start = CSR()
        self._abort = CSR()
        fields = [CSRField("busy", size=1), CSRField("done", size=1), CSRField("error", size=1),
                  CSRField("loading", size=1)]
        if self.csr_port:
            fields += [CSRField("in_ready", size=1), CSRField("out_valid", size=1)]
        self._status = CSRStatus(fields=fields)
        self._cycles = CSRStatus(32, description="Cycles from start to the last output word.")
        if self.csr_port:
            self._push = CSR(32)
            self._pop = CSR(32)
        else:
            self._pause = CSRStorage(1, description="1: the input DMA starts no new read; 0: it resumes.")
        if getattr(self.core, "params", None) is not None:
            self._load = CSR()
        self.ev = EventManager()
        self.ev.done = EventSourcePulse(description="All frames written.")
        self.ev.finalize()

    def add_ctrl(self):
        """Start (refused while busy or for zero frames: error), count cycles, finish."""
        L = self.layout
        busy = self.busy
        done, error = Signal(), self.error
        cycles = Signal(32)
        self.comb += [
            self._status.fields.busy.eq(busy),
            self._status.fields.done.eq(done),
            self._status.fields.error.eq(error),
            self._status.fields.loading.eq(self.loading),
            self._cycles.status.eq(cycles),
            self.ev.done.trigger.eq(self.finish),
            self.irq.eq(self.ev.irq),
        ]
        self.sync += [
            If(self.abort, busy.eq(0), done.eq(0), self.loading.eq(0)
            ).Elif(self.start,
                If(busy | (self._frames.storage == 0), error.eq(1)).Else(
                    busy.eq(1), done.eq(0), error.eq(0), cycles.eq(0), self.rd_count.eq(0), self.wr_count.eq(0),
                    self.total_in.eq(_times(self._frames.storage, L.in_words)),
                    self.total_out.eq(_times(self._frames.storage, L.out_words)))
            ).Elif(self.load,
                If(busy, error.eq(1)).Else(
                    busy.eq(1), self.loading.eq(1), done.eq(0), error.eq(0), cycles.eq(0), self.rd_count.eq(0),
                    self.wr_count.eq(0), self.ld_count.eq(0), self.total_in.eq(self.param_words), self.total_out.eq(0))
            ).Elif(busy,
                If(~self.produced, cycles.eq(cycles + 1)),
                If(self.finish, busy.eq(0), done.eq(1), self.loading.eq(0)))
        ]

        if self.param_words:
            self.comb += self.core.params.restart.eq(self.load & ~busy)

    def add_input(self):
        """Addresses -> DMA reader -> 32-bit words -> pixels -> pipeline."""
        L, core, reader = self.layout, self.core, self.reader
        rd_count, total_in = self.rd_count, self.total_in
        if self.csr_port:
            # pushed words wait in the FIFO; a job (or load) takes its own count of them
            fifo, reader = reader, stream.Endpoint([("data", L.word_bits)])
            take = self.busy & ~self.abort_req & (rd_count < total_in)
            self.comb += [
                fifo.sink.valid.eq(self._push.re & ~self.abort_req), fifo.sink.data.eq(self._push.r),
                self._status.fields.in_ready.eq(fifo.sink.ready),
                reader.valid.eq(fifo.source.valid & take), reader.data.eq(fifo.source.data),
                fifo.source.ready.eq(reader.ready & take),
            ]
            self.sync += If(reader.valid & reader.ready, rd_count.eq(rd_count + 1))
            # a push into a full input FIFO is lost: say so
            self.sync += If(self._push.re & ~fifo.sink.ready & ~self.abort, self.error.eq(1))
            reader = _Source(reader)
        else:
            self.comb += [
                reader.sink.valid.eq(self.busy & ~self.abort_req & ~self._pause.storage & (rd_count < total_in)),
                reader.sink.address.eq(self._src.storage[log2_int(L.word_bytes):] + rd_count),
                reader.sink.last.eq(rd_count == total_in - 1),
            ]
            self.sync += If(reader.sink.valid & reader.sink.ready, rd_count.eq(rd_count + 1))
        in_w = len(core.sink.data)
        if self.cdc:
            # pixels cross into the pipeline's clock domain
            self.in_cdc = self._crossing(in_w, to_core=True)
            self.comb += self.in_cdc.source.connect(core.sink, omit={"last", "first"})
            core = _Sink(self.in_cdc.sink)
        self.in_conv = in_conv = ResetInserter()(stream.Converter(L.word_bits, L.in_pad))
        if self.param_words:
            # a load's words go to the parameter loader, a job's to the pixel converter
            ps = core.params.sink
            self.comb += If(self.loading,
                ps.valid.eq(reader.source.valid), ps.data.eq(reader.source.data),
                reader.source.ready.eq(ps.ready)
            ).Else(*reader.source.connect(in_conv.sink, omit={"last", "first"}))
            self.sync += If(ps.valid & ps.ready, self.ld_count.eq(self.ld_count + 1))
        else:
            self.comb += [reader.source.connect(in_conv.sink, omit={"last", "first"})]
        if L.in_pad < L.word_bits:
            # skip the padding chunks after a frame's last pixel
            chunks = L.in_words * L.in_chunks_per_word
            chunk = Signal(max=max(chunks, 2))
            keep = chunk < L.in_px
            self.comb += [
                core.sink.valid.eq(in_conv.source.valid & keep),
                core.sink.data.eq(in_conv.source.data[:in_w]),
                in_conv.source.ready.eq(core.sink.ready | ~keep),
            ]
            self.sync += [
                If(in_conv.source.valid & in_conv.source.ready,
                    If(chunk == chunks - 1, chunk.eq(0)).Else(chunk.eq(chunk + 1))),
                If((self.start & ~self.busy) | self.abort, chunk.eq(0)),
            ]
        else:
            self.comb += [
                core.sink.valid.eq(in_conv.source.valid),
                core.sink.data.eq(in_conv.source.data[:in_w]),
                in_conv.source.ready.eq(core.sink.ready),
            ]

    def add_output(self):
        """Pipeline -> padded pixels -> 32-bit words -> DMA writer; finish when every word of
        the job is written."""
        L, core, writer = self.layout, self.core, self.writer
        if self.cdc:
            # outputs cross back into the system clock domain
            self.out_cdc = self._crossing(len(core.source.data), to_core=False)
            self.comb += core.source.connect(self.out_cdc.sink, omit={"last", "first"})
            core = _Source(self.out_cdc.source)
        self.out_conv = out_conv = ResetInserter()(stream.Converter(L.out_pad, L.word_bits))
        # words wait here for the bus (the reader may hold it for a cycle or two) instead of
        # in the converter, which would stall the pipeline meanwhile
        self.out_fifo = out_fifo = ResetInserter()(stream.SyncFIFO([("data", L.word_bits)], OUT_FIFO_WORDS,
                                                                   buffered=True))
        self.comb += [
            out_conv.sink.valid.eq(core.source.valid),
            out_conv.sink.data.eq(core.source.data),
            core.source.ready.eq(out_conv.sink.ready),
            out_conv.source.connect(out_fifo.sink, omit={"last", "first"}),
        ]
        loaded = ~self.loading | (self.ld_count == self.param_words)     # a load's words all written
        if self.csr_port:
            # the CPU pops the words; wr_count counts them into the FIFO (the pipeline's side)
            produced = (self.wr_count == self.total_out) & (self.rd_count == self.total_in)
            self.comb += [
                self._pop.w.eq(out_fifo.source.data),
                out_fifo.source.ready.eq(self._pop.we),
                self._status.fields.out_valid.eq(out_fifo.source.valid),
                self.produced.eq(produced),
                self.finish.eq(self.busy & produced & ~out_fifo.source.valid & loaded),
            ]
            self.sync += If(out_fifo.sink.valid & out_fifo.sink.ready, self.wr_count.eq(self.wr_count + 1))
            return
        self.comb += [
            writer.sink.valid.eq(out_fifo.source.valid & ~self.abort_req),
            writer.sink.data.eq(out_fifo.source.data),
            writer.sink.address.eq(self._dst.storage[log2_int(L.word_bytes):] + self.wr_count),
            out_fifo.source.ready.eq(writer.sink.ready),
            self.finish.eq(self.busy & (self.wr_count == self.total_out) & (self.rd_count == self.total_in)
                           & loaded),
        ]
        self.sync += If(writer.sink.valid & writer.sink.ready, self.wr_count.eq(self.wr_count + 1))

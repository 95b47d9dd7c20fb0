"""Test top for weights in RAM: a weight image's payload is loaded, then pixels flow."""
from __future__ import annotations

from migen import If, Module, Signal
from litex.soc.interconnect import stream


class LoadThenRun(Module):
    """``core`` (a ``LoweredPipeline`` with weights in RAM) behind two streams: ``params`` takes
    the ``words`` payload words of a weight image into the parameter loader; ``sink`` takes
    pixels only once all of them are in (what the SoC's busy interlock does)."""

    def __init__(self, core, words: int):
        if core.params is None:
            raise ValueError("the pipeline has no parameter memories: compile it with weights='ram'")
        self.submodules.core = core
        self.params = stream.Endpoint([("data", 32)])
        self.sink = stream.Endpoint(core.sink.description)
        self.source = core.source
        # # #
        count = Signal(max=words + 1)
        loaded = Signal()
        self.comb += [
            loaded.eq(count == words),
            core.params.sink.valid.eq(self.params.valid & ~loaded),
            core.params.sink.data.eq(self.params.data),
            self.params.ready.eq(core.params.sink.ready & ~loaded),
            self.sink.connect(core.sink, omit={"valid", "ready"}),
            core.sink.valid.eq(self.sink.valid & loaded),
            self.sink.ready.eq(core.sink.ready & loaded),
        ]
        self.sync += If(self.params.valid & self.params.ready, count.eq(count + 1))

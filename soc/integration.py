"""``add_lepton``: attach a compiled pipeline to a LiteX SoC, in the idiom of ``SoC.add_sdcard``."""
from __future__ import annotations

from litex.soc.interconnect import wishbone

from .accel import LeptonAccelerator, StreamLayout

# CSR locations every lepton SoC reserves, board builds and simulation alike (LiteX ``csr_map``):
# the simulator's own CSRs (sim_finish, sim_marker, sim_trace) come after them, so a firmware image
# built against a board's headers runs unchanged in a simulated SoC with the board's memory map
CSR_MAP = {"ctrl": 0, "identifier_mem": 1, "lepton": 2, "timer0": 3, "uart": 4}


# the clock domain a board's (or the simulation's) CRG provides when the accelerator has its own clock
ACCEL_CLOCK_DOMAIN = "accel"

# how the stream reaches the pipeline: two DMA masters, or the CPU through two CSRs
PORTS = ("dma", "csr")


def soc_core_options(options) -> tuple:
    """A board's SoC options (``Board.soc_options``) as ``SoCCore`` arguments, and whether the
    ctrl block is to be its reset and bus error count alone (``("ctrl", "reset")``: no scratch
    register; ``add_reset_ctrl`` after ``SoCCore.__init__``)."""
    kw = dict(options)
    small = kw.pop("ctrl", None)
    if small not in (None, "reset"):
        raise ValueError(f"ctrl option {small!r}: only 'reset'")
    if small:
        kw["with_ctrl"] = False
    return kw, bool(small)


def add_reset_ctrl(soc):
    """The ctrl block without its scratch register, wired as ``SoCCore`` wires the whole one
    (the CPU's reset; the CRG's and the bus error count's, at finalization). LiteX's memtest
    reads the bus error count: it stays (constant, so no logic, where there is no bus timeout)."""
    soc.add_controller("ctrl", with_reset=True, with_scratch=False, with_errors=True)
    soc.comb += soc.cpu.reset.eq(soc.ctrl.soc_rst | soc.ctrl.cpu_rst)


def add_lepton(soc, pipeline, name="lepton", with_irq=True, opts=None, clock_domain="sys", port="dma"):
    """Add ``pipeline`` (a ``lepton_hdl.Pipeline``) as a DMA peripheral of ``soc``.

    Two Wishbone DMA masters (reader, writer) on the SoC's DMA bus, CSRs under ``name``, an
    IRQ on done, and ``<NAME>_*`` constants for every figure the firmware needs. ``opts``: the
    ``HwOptions`` to generate the pipeline with (a board build's family and DSP tiles).
    ``clock_domain``: the pipeline's clock domain (``"sys"``, or one the SoC's CRG provides,
    ``ACCEL_CLOCK_DOMAIN``: the pipeline then runs at its own clock behind asynchronous FIFOs).
    ``port``: ``"dma"``, or ``"csr"``: no bus master, the CPU pushes and pops the stream's words
    through two CSRs (``soc.accel``; the firmware driver handles both).
    """
    if port not in PORTS:
        raise ValueError(f"port {port!r}: one of {', '.join(PORTS)}")
    inp, out = pipeline.input_node, pipeline.output_node
    layout = StreamLayout(inp.shape, inp.qtype.type.bits, out.shape, out.qtype.type.bits,
                          word_bits=soc.bus.data_width)
    if port == "csr" and layout.word_bits != 32:
        raise ValueError(f"the CPU-fed stream port moves 32-bit words: this SoC's bus is {layout.word_bits} bits")
    dma_bus = getattr(soc, "dma_bus", soc.bus)
    buses = []
    for kind in ("reader", "writer") if port == "dma" else ():
        bus = wishbone.Interface(data_width=soc.bus.data_width, address_width=soc.bus.address_width,
                                 addressing="word")
        dma_bus.add_master(name=f"{name}_dma_{kind}", master=bus)
        buses.append(bus)
    accel = LeptonAccelerator(pipeline.freeze(opts), layout, *buses, clock_domain=clock_domain)
    soc.add_module(name=name, module=accel)
    if with_irq and soc.irq.enabled:
        soc.irq.add(name, use_loc_if_exists=True)
    N = name.upper()
    consts = {
        "IN_H": inp.shape[0], "IN_W": inp.shape[1], "IN_C": inp.shape[2],
        "IN_BITS": inp.qtype.type.bits, "IN_SIGNED": int(inp.qtype.type.signed),
        "IN_PIXEL_BITS": layout.in_pad, "IN_WORDS": layout.in_words,
        "OUT_H": out.shape[0], "OUT_W": out.shape[1], "OUT_C": out.shape[2],
        "OUT_BITS": out.qtype.type.bits, "OUT_SIGNED": int(out.qtype.type.signed),
        "OUT_WORDS_PER_PIXEL": layout.out_words_per_px, "OUT_WORDS": layout.out_words,
        "BOUND_CYCLES": pipeline.bound_cycles, "WORD_BYTES": layout.word_bytes,
        "OWN_CLOCK": int(clock_domain != "sys"),
    }
    if accel.param_words:
        # weights in RAM: what lepton_load_weights checks an image against
        from lepton_hdl.weights import topology_hash
        h = topology_hash(pipeline.graph)
        assert accel.param_words == pipeline.param_words
        consts.update(PARAM_WORDS=pipeline.param_words, TOPOLOGY_LO=h & 0xFFFFFFFF, TOPOLOGY_HI=h >> 32)
    for k, v in consts.items():
        soc.add_constant(f"{N}_{k}", int(v))
    return accel

"""Resource estimates before any synthesis: per block and per FPGA family, in the units a board
has (LUTs, flip-flops, block-RAM tiles, DSP tiles).

Two parts:

* **What the gateware holds**, read from the block itself: each block is generated once (cached
  by its parameters and the generation options, no Verilog written) and its multipliers
  (``hw.common.multiply`` records every product) and memories (every Migen ``Memory``, FIFOs
  included) are listed. DSP tiles follow exactly: the lowering hands the budget out in graph
  order, a tile to each product that fits one (``hw.common.DspTile``), and this module replays
  the same walk. Block-RAM tiles follow from each memory's shape by the rule Yosys'
  ``memory_libmap`` applies (``in_bram``, ``bram_tiles``), fitted to Yosys' decisions by
  ``bench/resources.py``.
* **What logic costs**: LUTs and flip-flops from a linear model per family on figures read
  from the elaborated gateware itself (``gateware_figures``: register bits, adder bits,
  comparator bits, multiplexer bits, ...), the logic multipliers' partial-product bits and the
  memories left out of block RAM. The glue the lowering adds around each block (input FIFOs,
  skid buffers, forks) is elaborated and counted with it. The coefficients are fitted to Yosys
  on a sweep of blocks and on whole models by ``bench/resources.py``
  (``lepton_hdl/data/calibration.json``; the script prints estimate vs Yosys per block and per
  whole model, and each whole model's error when it is left out of the fit).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from .hw.common import DspBudget, DspTile, Product, dsp_budget
from .hw.options import FAMILY, Family, HwOptions

CALIBRATION = Path(__file__).parent / "data" / "calibration.json"
KINDS = ("LUT", "FF", "BRAM", "DSP")


@dataclass(frozen=True)
class Mem:
    """One memory of the gateware: ``depth`` words of ``width`` bits; ``rom``: no write port;
    ``async_read``: a read port without a clock (block RAM has none: such a memory stays in
    distributed RAM or flip-flops); ``spare``: bits a word also stores that nothing reads (a
    FIFO's first/last flags, the top bits of its word): synthesis maps them, then drops every tile
    that holds nothing else."""
    depth: int
    width: int
    rom: bool
    async_read: bool = False
    spare: int = 0

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass(frozen=True)
class Structure:
    """What one block's gateware holds: its products in generation order, its memories and
    its logic figures (``gateware_figures``)."""
    products: tuple
    memories: tuple
    gates: tuple = ()


def _memories(frag) -> tuple:
    from migen import Memory
    out = []
    for sp in frag.specials:
        if isinstance(sp, Memory):
            rom = all(getattr(port, "we", None) is None for port in sp.ports)
            asy = any(getattr(port, "async_read", False) for port in sp.ports)
            out.append(Mem(int(sp.depth), int(sp.width), rom, asy))
    return tuple(sorted(out, key=lambda m: (m.depth, m.width, m.rom, m.async_read)))


# -- logic figures read from the gateware -----------------------------------------------------

GATE_FIGURES = ("ff", "add", "cmp", "mux", "logic", "cond")


def gateware_figures(frag) -> dict:
    """What a Migen fragment asks of the logic, counted on its statements before synthesis:
    ``ff`` the bits of every register (sync targets); ``add`` the result bits of adders and
    subtractors (carry chains); ``cmp`` the operand bits of comparisons; ``mux`` the data bits
    through multiplexers (``Mux``, ``Array`` indexing, variable shifts and part-selects);
    ``logic`` the bits of multi-input bitwise operators; ``cond`` the bits assigned under an
    ``If``/``Case`` (each is one more input to the target's multiplexer). Products are counted
    apart (``multiply``)."""
    from migen.fhdl.bitcontainer import value_bits_sign
    from migen.fhdl.structure import (Case, Cat, Constant, If, Replicate, _ArrayProxy, _Assign,
                                      _Operator, _Part, _Slice)
    from migen.fhdl.tools import list_targets
    acc = dict.fromkeys(GATE_FIGURES, 0)

    def width(e):
        return value_bits_sign(e)[0]

    def expr(e):
        if isinstance(e, _Operator):
            for o in e.operands:
                expr(o)
            op = e.op
            if op in ("+", "-"):
                acc["add"] += width(e)
            elif op in ("==", "!=", "<", "<=", ">", ">="):
                acc["cmp"] += max(width(o) for o in e.operands)
            elif op == "m":
                acc["mux"] += width(e)
            elif op in ("&", "|", "^") and len(e.operands) > 1:
                acc["logic"] += width(e)
            elif op in ("<<<", ">>>") and not isinstance(e.operands[1], Constant):
                acc["mux"] += width(e) * max(width(e.operands[1]), 1)
        elif isinstance(e, _Slice):
            expr(e.value)
        elif isinstance(e, _Part):
            expr(e.value)
            expr(e.offset)
            acc["mux"] += e.width * max(width(e.offset), 1)
        elif isinstance(e, Cat):
            for o in e.l:
                expr(o)
        elif isinstance(e, Replicate):
            expr(e.v)
        elif isinstance(e, _ArrayProxy):
            expr(e.key)
            for c in e.choices:
                expr(c)
            acc["mux"] += width(e) * (len(e.choices) - 1)

    def stmts(ss, depth):
        if isinstance(ss, (list, tuple)):
            for s in ss:
                stmts(s, depth)
        elif isinstance(ss, _Assign):
            expr(ss.r)
            if isinstance(ss.l, _ArrayProxy):
                expr(ss.l.key)
            if depth:
                acc["cond"] += width(ss.l)
        elif isinstance(ss, If):
            expr(ss.cond)
            stmts(ss.t, depth + 1)
            stmts(ss.f, depth + 1)
        elif isinstance(ss, Case):
            expr(ss.test)
            for v in ss.cases.values():
                stmts(v, depth + 1)

    for ss in frag.sync.values():
        acc["ff"] += sum(len(t) for t in list_targets(ss))
        stmts(ss, 0)
    stmts(frag.comb, 0)
    return acc


def _elaborated(module) -> tuple:
    """``(memories, figures)`` of a module (finalizes it)."""
    frag = module.get_fragment()
    return _memories(frag), tuple(sorted(gateware_figures(frag).items()))


@lru_cache(maxsize=4096)
def _structure(key, p, opts: HwOptions) -> Structure:
    rec = DspBudget(0, opts.dsp or DspTile(18))
    with dsp_budget(rec):
        blk = p.op.hardware(p, opts)
    mems, gates = _elaborated(blk)
    return Structure(tuple(pr for _, pr in rec.log), mems, gates)


def structure(p, opts: Optional[HwOptions] = None) -> Structure:
    """The products, memories and logic figures of block ``p`` as generated with ``opts``."""
    from .ops.base import params_digest
    opts = opts or HwOptions()
    return _structure((params_digest(p), opts), p, opts)


@lru_cache(maxsize=1024)
def fifo_structure(width: int, depth: int, buffered: bool) -> Structure:
    """A LiteX ``stream.SyncFIFO`` of ``depth`` beats of ``width`` data bits. Its memory also
    stores each beat's first/last flags, which no block reads (blocks count their own frame
    ends): the memory counts ``width`` bits a word and the flags as ``spare`` (iCE40 tiles are 16
    bits wide: 64 data bits take 4, the flags' fifth tile is dropped, unless Yosys packs several
    words side by side in one tile row, ``bram_tiles``)."""
    from dataclasses import replace
    from litex.soc.interconnect import stream
    mems, gates = _elaborated(stream.SyncFIFO([("data", width)], depth, buffered=buffered))
    return Structure((), tuple(replace(m, width=min(m.width, width), spare=m.width - min(m.width, width))
                               for m in mems), gates)


@lru_cache(maxsize=1024)
def skid_structure(width: int) -> Structure:
    """The skid buffer (LiteX ``stream.PipeReady``) the lowering puts in front of a block."""
    from litex.soc.interconnect import stream
    return Structure((), *_elaborated(stream.PipeReady([("data", width)])))


@lru_cache(maxsize=1024)
def fork_structure(width: int, n: int) -> Structure:
    """The fork (``hw.lower.Broadcast``) of a stream to ``n`` consumers."""
    from .hw.lower import Broadcast
    return Structure((), *_elaborated(Broadcast([("data", width)], n)))


# -- memories to tiles ----------------------------------------------------------------------------

# block-RAM configurations (depth, width) Yosys maps to: ECP5 DP16KD (pseudo-dual-port up to 36
# wide), iCE40 SB_RAM40_4K
BRAM_SHAPES = {
    Family.ECP5: ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
    Family.ICE40: ((2048, 2), (1024, 4), (512, 8), (256, 16)),
}
BRAM_BITS = {Family.ECP5: 18432, Family.ICE40: 4096}


def bram_tiles(m: Mem, family) -> int:
    """Block-RAM tiles of memory ``m`` if it goes to block RAM, as Yosys' ``memory_libmap``
    maps it: the cheapest tiling of the whole word (``spare`` bits included), then less the
    tiles left with nothing but spare bits (dropped as unused). A tiling either splits the depth
    in rows of one tile shape, or, on iCE40, whose 256 x 16 tile has a per-bit write mask, packs
    the rows side by side across tiles (row ``r`` at bits ``r * word`` on): 560 words of 128
    data bits and 2 flags take 25 tiles packed against 27 in rows, and the flags share tiles with
    data, so all 25 stay."""
    fam = Family(family)
    word = m.width + m.spare
    options = []
    for d, w in BRAM_SHAPES[fam]:
        rows = math.ceil(m.depth / d)
        options.append((rows * math.ceil(word / w), rows * math.ceil(m.width / w)))
    if fam is Family.ICE40:
        rows = math.ceil(m.depth / 256)
        used = {b // 16 for r in range(rows) for b in (r * word, r * word + m.width - 1)}
        used |= {t for r in range(rows) for t in range((r * word) // 16, (r * word + m.width - 1) // 16 + 1)}
        options.append((math.ceil(rows * word / 16), len(used)))
    return min(options)[1]


def lutram_cells(m: Mem) -> int:
    """ECP5 distributed-RAM cells (TRELLIS_DPR16X4, 16 x 4) of memory ``m``."""
    return math.ceil(m.depth / 16) * math.ceil(m.width / 4)


def in_bram(m: Mem, family, rule: dict) -> bool:
    """Whether Yosys (``memory_libmap``) puts memory ``m`` in block RAM. ``rule``: the family's
    rule, fitted by ``bench/resources.py`` to Yosys' own decision on every memory of its
    syntheses: RAMs with synchronous reads only of at least ``min_depth`` words and
    ``min_bits`` bits; ROMs of at least ``rom_min_depth`` words and ``rom_min_bits`` bits. A RAM
    read asynchronously (a LiteX FIFO without an output buffer) never goes to block RAM."""
    if m.rom:
        return m.bits >= rule["rom_min_bits"] and m.depth >= rule.get("rom_min_depth", rule["min_depth"])
    return not m.async_read and m.bits >= rule["min_bits"] and m.depth >= rule["min_depth"]


# -- the per-family model -------------------------------------------------------------------------

DEFAULT_CALIBRATION = {
    # used until bench/resources.py has written lepton_hdl/data/calibration.json
    fam: {"lut_terms": {"ff": 0.4, "add": 0.5, "cmp": 0.2, "mux": 0.7, "logic": 0.3, "cond": 0.2,
                        "soft_var": 2.5, "soft_chain": 1.0, "lutram": 4.7, "logic_mem": 0.1, "const": 20},
          "ff_terms": {"ff": 1.0, "ff_mem": 1.0, "const": 10},
          "mem_rule": {"min_bits": 0, "min_depth": 50, "rom_min_bits": 4096, "rom_min_depth": 64}}
    for fam in ("ecp5", "ice40")
}


@lru_cache(maxsize=1)
def calibration() -> dict:
    if CALIBRATION.exists():
        return json.loads(CALIBRATION.read_text())
    return DEFAULT_CALIBRATION


def chain_places(products) -> int:
    """LUT places (two per carry cell, one per LUT4) of variable products built as ECP5
    carry-chain arrays (``hw.common.ccu2c_multiplier_verilog``)."""
    from .hw.common import ccu2c_cells
    out = 0
    for pr in products:
        ccu, lut = ccu2c_cells(pr.a_bits, pr.a_signed, pr.b_bits, pr.b_signed)
        out += 2 * ccu + lut
    return out


def chain_product(pr: Product, tile: DspTile) -> bool:
    """Whether logic product ``pr`` is a carry-chain array (``hw.common.logic_multiply``)."""
    from .hw.common import is_chain_product
    return pr.const is None and is_chain_product(tile, pr.a_bits, pr.a_signed, pr.b_bits, pr.b_signed)


def soft_bits(products) -> tuple:
    """Partial-product bits of products built in logic: ``(variable, constant)``: a variable
    product costs one ``a``-wide term per bit of ``b``, a constant one per set bit."""
    var = sum(pr.operand_bits[0] * pr.operand_bits[1] for pr in products if pr.const is None)
    const = sum(pr.operand_bits[0] * bin(abs(pr.const)).count("1") for pr in products
                if pr.const is not None)
    return var, const


@lru_cache(maxsize=4096)
def const_product_adds(pr: Product) -> int:
    """The adder bits (``gateware_figures``' ``add``) of constant product ``pr`` built in logic
    (``hw.common.soft_multiply``)."""
    from migen import Signal
    from migen.fhdl.structure import _Fragment
    from .hw.common import soft_multiply
    a = Signal((pr.a_bits, pr.a_signed))
    with dsp_budget(DspBudget(0, DspTile(18))):
        y = soft_multiply(a, pr.const)
    return gateware_figures(_Fragment(comb=[Signal((64, True)).eq(y)]))["add"]


def tiles_taken(products, tile: DspTile, left) -> int:
    """How many of ``products`` (in generation order) take a tile while ``left`` remain: the
    walk ``hw.common.DspBudget`` makes in the gateware."""
    take = 0
    for pr in products:
        if take < left and tile.fits(pr):
            take += 1
    return take


@dataclass
class BlockCost:
    """The estimate of one block (FIFOs in front of it included)."""
    name: str
    op: str
    LUT: int = 0
    FF: int = 0
    BRAM: int = 0
    DSP: int = 0
    mult: int = 0
    mem_bits: int = 0
    features: dict = field(default_factory=dict)


def glue(n, opts: HwOptions, consumers: int = 1) -> list:
    """The structures the lowering (``hw.lower.LoweredPipeline``) adds around node ``n``'s
    block: the FIFO or skid buffer in front of each input (``hw.lower.input_buffers``), and
    the fork of its output when ``consumers`` blocks take it."""
    from .hw.lower import input_buffers
    out = []
    for (shape, typ), kind in zip(n.op.in_specs(n.params), input_buffers(n, opts)):
        if kind is None:
            continue
        width = shape[2] * typ.bits
        out.append(fifo_structure(width, *kind[1:]) if kind[0] == "fifo" else skid_structure(width))
    if consumers > 1:
        shape, typ = n.op.out_spec(n.params)
        out.append(fork_structure(shape[2] * typ.bits, consumers))
    return out


def features(n, opts: HwOptions, consumers: int = 1) -> dict:
    """The model's inputs for node ``n``: its products, memories and logic figures, the FIFOs,
    skid buffers and fork the lowering adds around it included."""
    st = structure(n.params, opts)
    mems, gates = list(st.memories), dict(st.gates)
    for gl in glue(n, opts, consumers):
        mems += gl.memories
        for k, v in gl.gates:
            gates[k] += v
    return dict(mult=n.op.estimate(n.params)["mult"], products=st.products, memories=tuple(mems), gates=gates)


def block_cost(name: str, op: str, feats: dict, family, dsp_products, cal: Optional[dict] = None) -> BlockCost:
    """The estimate of one block from its features; ``dsp_products``: how many of its products
    took a DSP tile (the rest are logic)."""
    fam = Family(family)
    c = (cal or calibration())[fam.value]
    # the products that took tiles are the first ones that fit, in generation order
    tile = FAMILY[fam].dsp
    taken, soft = 0, []
    gates = dict(feats["gates"])
    for pr in feats["products"]:
        if taken < dsp_products and tile.fits(pr):
            taken += 1
            if pr.const is not None:
                # the block's figures were read with every product in logic: a constant one
                # that takes a tile has no shifted adds
                gates["add"] -= const_product_adds(pr)
        else:
            soft.append(pr)
    chain = [pr for pr in soft if chain_product(pr, tile)]
    sv, _ = soft_bits([pr for pr in soft if not chain_product(pr, tile)])
    sc = chain_places(chain)
    rule = c["mem_rule"]
    mems = feats["memories"]
    bram = sum(bram_tiles(m, fam) for m in mems if in_bram(m, fam, rule))
    small = [m for m in mems if not in_bram(m, fam, rule)]
    # ECP5 puts small RAMs in distributed RAM (TRELLIS_DPR16X4); iCE40 has none: flip-flops.
    # ROMs not in block RAM are logic on both.
    lutram = sum(lutram_cells(m) for m in small if not m.rom) if fam is Family.ECP5 else 0
    logic_mem = sum(m.bits for m in small if m.rom or fam is not Family.ECP5)
    ff_mem = sum(m.bits for m in small if not m.rom) if fam is not Family.ECP5 else 0
    f = dict(gates, soft_var=sv, soft_chain=sc, lutram=lutram, logic_mem=logic_mem, ff_mem=ff_mem)
    lt, ft = c["lut_terms"], c["ff_terms"]
    lut = sum(lt.get(k, 0.0) * f[k] for k in LUT_TERMS) + lt["const"]
    ff = sum(ft.get(k, 0.0) * f[k] for k in FF_TERMS) + ft["const"]
    return BlockCost(name, op, LUT=int(round(lut)), FF=int(round(ff)), BRAM=bram, DSP=dsp_products,
                     mult=feats["mult"], mem_bits=sum(m.bits for m in mems), features=f)


# the terms of the models: the gateware's logic figures, logic products and small memories
LUT_TERMS = GATE_FIGURES + ("soft_var", "soft_chain", "lutram", "logic_mem")
FF_TERMS = ("ff", "ff_mem")


# nextpnr's TRELLIS_COMB against the estimate's LUTs (Yosys units) and flip-flops, measured on
# the Colorlight i5, accelerator alone, seed 1: DS-CNN at 160,000 cycles, w8/a8: 25,242 placed
# for 21,822 LUTs and 13,528 flip-flops estimated (0.25 a flip-flop); w6/a6: 20,329 for 16,880
# and 10,998 (0.31). Without it the fit check accepted the w8 folding, which placed at 103%.
ECP5_FF_COMB = 0.25

# how ``Estimate.placed`` counts, for tables, plots and messages
PLACED_RULE = {Family.ICE40.value: "logic cells, 1.1 x (LUT + FF)",
               Family.ECP5.value: f"LUTs as nextpnr places them, LUT + {ECP5_FF_COMB:g} x FF"}


@dataclass
class Estimate:
    """A whole pipeline's estimate for one family and DSP budget: per block and in total."""
    family: str
    dsp_tiles: Optional[int]
    blocks: list

    @property
    def total(self) -> dict:
        out = {k: sum(getattr(b, k) for b in self.blocks) for k in KINDS + ("mult", "mem_bits")}
        return out

    @property
    def placed(self) -> int:
        """The LUT figure the fit check compares with the chip's: iCE40 logic cells, ECP5 LUTs
        as nextpnr places them."""
        t = self.total
        if self.family == Family.ICE40.value:
            # an iCE40 logic cell holds one LUT and one flip-flop, and nextpnr pairs few of
            # them: the cells used are about 1.1 x (LUTs + FFs) (digits, measured: 6,078 cells
            # for 5,496 and 4,064 for 3,792 by this estimate: 1.11 and 1.07)
            return int(1.1 * (t["LUT"] + t["FF"]))
        if self.family == Family.ECP5.value:
            # the LUTs nextpnr places (TRELLIS_COMB, what the chip's count limits) exceed the
            # Yosys figure the estimate is calibrated on by about a quarter of the flip-flops
            return int(t["LUT"] + ECP5_FF_COMB * t["FF"])
        return t["LUT"]

    def fits(self, available: dict, utilisation: float = 1.0) -> list:
        """What does not fit ``available`` (``{'LUT', 'FF', 'BRAM', 'DSP'}``): a list of
        ``(kind, need, have)``; LUTs as ``placed``."""
        t = dict(self.total, LUT=self.placed)
        out = []
        for k in KINDS:
            have = int(available.get(k, 0) * (utilisation if k == "LUT" else 1.0))
            if t[k] > have:
                out.append(("LC" if k == "LUT" and self.family == Family.ICE40.value else k, t[k], have))
        return out


def estimate_graph(g, family=Family.ECP5, dsp_tiles: Optional[int] = None, opts: Optional[HwOptions] = None,
                   cal: Optional[dict] = None) -> Estimate:
    """Per-block estimate of graph ``g`` generated for ``family`` with ``dsp_tiles`` DSP tiles
    (None: every product that fits a tile gets one)."""
    fam = Family(family)
    opts = opts or FAMILY[fam]
    tile = opts.dsp or DspTile(18)
    left = math.inf if dsp_tiles is None else int(dsp_tiles)
    blocks = []
    for n in g.nodes:
        if n.params is None or not n.op.lowered or n.op.passthrough:
            continue
        f = features(n, opts, len(g.consumers(n.name)) + (n.name == g.output))
        take = tiles_taken(f["products"], tile, left)
        left -= take
        blocks.append(block_cost(n.name, n.op.name, f, fam, take, cal))
    return Estimate(fam.value, dsp_tiles, blocks)


# -- the figures the report and the parallelism pass have used since the start --------------------

def estimate(p) -> dict:
    """``{'mult', 'lut', 'ff', 'mem_bits'}`` of one block (its op's datapath figures)."""
    return p.op.estimate(p)


def fifo_bits(n) -> int:
    """Memory bits of the row and join FIFOs in front of node ``n``'s block."""
    if n.params is None:
        return 0
    from .hw.lower import input_buffers
    return sum(shape[2] * typ.bits * kind[1] for (shape, typ), kind in
               zip(n.op.in_specs(n.params), input_buffers(n, HwOptions())) if kind and kind[0] == "fifo")


def total(g) -> dict:
    """The sum of the op figures over every block of graph ``g``, FIFO memory included."""
    out = dict(mult=0, lut=0, ff=0, mem_bits=0)
    for n in g.nodes:
        if n.params is None:
            continue
        for k, v in n.op.estimate(n.params).items():
            out[k] += v
        out["mem_bits"] += fifo_bits(n)
    return out


class BoardFit:
    """The parallelism pass's test for a board: does a candidate graph's estimate, generated
    for the board's family with the DSP tiles left to the accelerator, fit what the board has
    left (its device minus the SoC's own share for SoC builds; LUTs to the most that places)?
    Call it on a graph; ``refuse`` raises the ``FitError`` naming what does not fit."""

    def __init__(self, board, soc: bool = False):
        from .platforms.boards import accel_limits, max_utilisation
        self.board, self.soc = board, soc
        self.family = Family(board.family)
        # LUTs: the most of the chip that places, less the SoC's share (boards.accel_limits)
        self.available = accel_limits(board, soc)
        self.utilisation = 1.0
        self.max_fraction = max_utilisation(board, soc)
        self.last = None

    def estimate(self, g) -> Estimate:
        from .passes.fifos import size_fifos
        return estimate_graph(size_fifos(g), self.family, self.available["DSP"])

    def __call__(self, g) -> bool:
        self.last = self.estimate(g)
        return not self.last.fits(self.available, self.utilisation)

    def over(self, est: Estimate) -> str:
        """What of ``est`` does not fit, as ``'LUT 90,000 > 79,458; ...'`` ('' if it fits)."""
        return "; ".join(f"{k} {need:,} > {have:,}" for k, need, have in est.fits(self.available, self.utilisation))

    @property
    def where(self) -> str:
        return f"{self.board.name} ({'beside the SoC' if self.soc else 'accelerator alone'})"

    def check(self, g) -> Estimate:
        """The estimate of ``g`` if it fits; a ``FitError`` naming what does not, and what to
        change, if not (a pipeline folded by hand, or for another board)."""
        from .errors import FitError
        est = self.estimate(g)
        what = self.over(est)
        if what:
            cells = PLACED_RULE.get(self.family.value, "LUTs")
            raise FitError(f"model does not fit {self.where}: {what} (estimate; {cells}; to "
                           f"{100 * self.max_fraction:.0f}% of the chip, the most that places). Compile it for the board "
                           f"(--board picks the folding), fold it more (--target-cycles), use fewer bits (--bits, "
                           f"--a-bits), or a larger board.")
        return est

    def refuse(self, g):
        """The ``FitError`` of the parallelism pass when even the most folded ``g`` does not fit."""
        from .errors import FitError
        cycles = max(n.op.cycles(n.params) for n in g.nodes if n.params is not None)
        raise FitError(f"even folded the most ({cycles:,} cycles/frame) the model does not fit {self.where}: "
                       f"{self.over(self.estimate(g))} (estimate). Use fewer bits (--bits, --a-bits), a "
                       f"smaller model or a larger board (`lepton-hdl explore` shows the trade-off)")

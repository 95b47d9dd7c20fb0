"""Resource estimates before any synthesis: per block and per FPGA family, in the units a board
has (LUTs, flip-flops, block-RAM tiles, DSP tiles).

Two parts:

* **What the gateware holds**, read from the block itself: each block is generated once (cached
  by its parameters and the generation options, no Verilog written) and its multipliers
  (``hw.common.multiply`` records every product) and memories (every Migen ``Memory``, FIFOs
  included) are listed. DSP tiles follow exactly: the lowering hands the budget out in graph
  order, a tile to each product that fits one (``hw.common.DspTile``), and this module replays
  the same walk. Block-RAM tiles follow from each memory's shape by the rule Yosys'
  ``memory_libmap`` applies (``mem_tiles``), checked against Yosys by ``bench/resources.py``.
* **What logic costs**: LUTs and flip-flops from a linear model per family on each op's
  datapath figures (``Op.estimate``: ``lut``, ``ff``), the logic multipliers' partial-product
  bits and the distributed RAM, with coefficients fitted to Yosys on a sweep of blocks by
  ``bench/resources.py`` (``lepton_hdl/data/calibration.json``; the script prints estimate vs
  Yosys per block and per whole model).
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
    """One memory of the gateware: ``depth`` words of ``width`` bits; ``rom``: no write port."""
    depth: int
    width: int
    rom: bool

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass(frozen=True)
class Structure:
    """What one block's gateware holds: its products in generation order and its memories."""
    products: tuple
    memories: tuple


def _memories(module) -> tuple:
    from migen import Memory
    frag = module.get_fragment()
    out = []
    for sp in frag.specials:
        if isinstance(sp, Memory):
            rom = all(getattr(port, "we", None) is None for port in sp.ports)
            out.append(Mem(int(sp.depth), int(sp.width), rom))
    return tuple(sorted(out, key=lambda m: (m.depth, m.width, m.rom)))


@lru_cache(maxsize=4096)
def _structure(key, p, opts: HwOptions) -> Structure:
    rec = DspBudget(0, opts.dsp or DspTile(18))
    with dsp_budget(rec):
        blk = p.op.hardware(p, opts)
    return Structure(tuple(pr for _, pr in rec.log), _memories(blk))


def structure(p, opts: Optional[HwOptions] = None) -> Structure:
    """The products and memories of block ``p`` as generated with ``opts``."""
    from .ops.base import params_digest
    opts = opts or HwOptions()
    return _structure((params_digest(p), opts), p, opts)


@lru_cache(maxsize=1024)
def fifo_memories(width: int, depth: int, buffered: bool) -> tuple:
    """The memories of a LiteX ``stream.SyncFIFO`` of ``depth`` beats of ``width`` data bits."""
    from litex.soc.interconnect import stream
    return _memories(stream.SyncFIFO([("data", width)], depth, buffered=buffered))


# -- memories to tiles ----------------------------------------------------------------------------

# block-RAM configurations (depth, width) Yosys maps to: ECP5 DP16KD (pseudo-dual-port up to 36
# wide), iCE40 SB_RAM40_4K
BRAM_SHAPES = {
    Family.ECP5: ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
    Family.ICE40: ((2048, 2), (1024, 4), (512, 8), (256, 16)),
}
BRAM_BITS = {Family.ECP5: 18432, Family.ICE40: 4096}


def bram_tiles(m: Mem, family) -> int:
    """Block-RAM tiles of memory ``m`` if it goes to block RAM."""
    return min(math.ceil(m.depth / d) * math.ceil(m.width / w) for d, w in BRAM_SHAPES[Family(family)])


def lutram_cells(m: Mem) -> int:
    """ECP5 distributed-RAM cells (TRELLIS_DPR16X4, 16 x 4) of memory ``m``."""
    return math.ceil(m.depth / 16) * math.ceil(m.width / 4)


def in_bram(m: Mem, family, rule: dict) -> bool:
    """Whether Yosys puts memory ``m`` in block RAM (``rule``: the family's calibrated rule:
    memories of at least ``min_bits`` bits and ``min_depth`` words; ROMs of at least
    ``rom_min_bits``)."""
    if m.rom:
        return m.bits >= rule["rom_min_bits"] and m.depth >= rule["min_depth"]
    return m.bits >= rule["min_bits"] and m.depth >= rule["min_depth"]


# -- the per-family model -------------------------------------------------------------------------

DEFAULT_CALIBRATION = {
    # used until bench/resources.py has written lepton_hdl/data/calibration.json
    fam: {"lut": {"*": 2.0}, "ff": {"*": 1.0},
          "lut_terms": {"ff": 0.3, "soft_var": 2.5, "soft_const": 1.0, "lutram": 3.0, "logic_mem": 0.1, "const": 20},
          "ff_terms": {"ff_mem": 1.0, "const": 10},
          "mem_rule": {"min_bits": 0, "min_depth": 64, "rom_min_bits": 4096}}
    for fam in ("ecp5", "ice40")
}


@lru_cache(maxsize=1)
def calibration() -> dict:
    if CALIBRATION.exists():
        return json.loads(CALIBRATION.read_text())
    return DEFAULT_CALIBRATION


def _coef(table: dict, op: str):
    return table.get(op, table["*"])


def soft_bits(products) -> tuple:
    """Partial-product bits of products built in logic: ``(variable, constant)``: a variable
    product costs one ``a``-wide term per bit of ``b``, a constant one per set bit."""
    var = sum(pr.operand_bits[0] * pr.operand_bits[1] for pr in products if pr.const is None)
    const = sum(pr.operand_bits[0] * bin(abs(pr.const)).count("1") for pr in products
                if pr.const is not None)
    return var, const


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


def _input_fifos(n) -> list:
    """``(width, depth, buffered)`` of the FIFOs the lowering puts in front of node ``n``."""
    specs = n.op.in_specs(n.params)
    join = n.attrs.get("join_fifos", ())
    row = n.attrs.get("row_fifo", 0)
    out = []
    for k, (shape, typ) in enumerate(specs):
        d = max(row, join[k] if k < len(join) else 0)
        if d:
            out.append((shape[2] * typ.bits, d, bool(row)))
    return out


def features(n, opts: HwOptions) -> dict:
    """The model's inputs for node ``n``: its op's datapath figures, its products and memories
    (FIFOs in front of it included)."""
    p = n.params
    est = n.op.estimate(p)
    st = structure(p, opts)
    mems = list(st.memories)
    for w, d, buffered in _input_fifos(n):
        mems += fifo_memories(w, d, buffered)
    return dict(lut=est["lut"], ff=est["ff"], mult=est["mult"], products=st.products, memories=tuple(mems))


def block_cost(name: str, op: str, feats: dict, family, dsp_products, cal: Optional[dict] = None) -> BlockCost:
    """The estimate of one block from its features; ``dsp_products``: how many of its products
    took a DSP tile (the rest are logic)."""
    fam = Family(family)
    c = (cal or calibration())[fam.value]
    # the products that took tiles are the first ones that fit, in generation order
    tile = FAMILY[fam].dsp
    taken, soft = 0, []
    for pr in feats["products"]:
        if taken < dsp_products and tile.fits(pr):
            taken += 1
        else:
            soft.append(pr)
    sv, sc = soft_bits(soft)
    rule = c["mem_rule"]
    mems = feats["memories"]
    bram = sum(bram_tiles(m, fam) for m in mems if in_bram(m, fam, rule))
    small = [m for m in mems if not in_bram(m, fam, rule)]
    # ECP5 puts small RAMs in distributed RAM (TRELLIS_DPR16X4); iCE40 has none: flip-flops.
    # ROMs not in block RAM are logic on both.
    lutram = sum(lutram_cells(m) for m in small if not m.rom) if fam is Family.ECP5 else 0
    logic_mem = sum(m.bits for m in small if m.rom or fam is not Family.ECP5)
    ff_mem = sum(m.bits for m in small if not m.rom) if fam is not Family.ECP5 else 0
    f = dict(lut=feats["lut"], ff=feats["ff"], soft_var=sv, soft_const=sc, lutram=lutram, logic_mem=logic_mem,
             ff_mem=ff_mem)
    lut = _coef(c["lut"], op) * f["lut"] + sum(c["lut_terms"][k] * f[k] for k in LUT_TERMS) + c["lut_terms"]["const"]
    ff = _coef(c["ff"], op) * f["ff"] + c["ff_terms"]["ff_mem"] * ff_mem + c["ff_terms"]["const"]
    return BlockCost(name, op, LUT=int(round(lut)), FF=int(round(ff)), BRAM=bram, DSP=dsp_products,
                     mult=feats["mult"], mem_bits=sum(m.bits for m in mems), features=f)


# the terms of the LUT model shared by every op (the op's own datapath figure has its own factor)
LUT_TERMS = ("ff", "soft_var", "soft_const", "lutram", "logic_mem")


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

    def fits(self, available: dict, utilisation: float = 1.0) -> list:
        """What does not fit ``available`` (``{'LUT', 'FF', 'BRAM', 'DSP'}``): a list of
        ``(kind, need, have)``."""
        t = dict(self.total)
        if self.family == Family.ICE40.value:
            # an iCE40 logic cell holds one LUT and one flip-flop, and nextpnr pairs few of
            # them: the cells used are about 1.1 x (LUTs + FFs) (digits, measured: 6,078 cells
            # for 5,496 and 4,064 for 3,792 by this estimate: 1.11 and 1.07)
            t["LUT"] = int(1.1 * (t["LUT"] + t["FF"]))
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
        f = features(n, opts)
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
    return sum(w * d for w, d, _ in _input_fifos(n))


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
        from .platforms.boards import MAX_UTILISATION, accel_resources
        self.board, self.soc = board, soc
        self.family = Family(board.family)
        self.available = accel_resources(board, soc)
        self.utilisation = MAX_UTILISATION[self.family.value]
        self.last = None

    def estimate(self, g) -> Estimate:
        from .passes.fifos import size_fifos
        return estimate_graph(size_fifos(g), self.family, self.available["DSP"])

    def __call__(self, g) -> bool:
        self.last = self.estimate(g)
        return not self.last.fits(self.available, self.utilisation)

    def refuse(self, g):
        from .errors import FitError
        est = self.estimate(g)
        over = est.fits(self.available, self.utilisation)
        what = "; ".join(f"{k} {need:,} > {have:,}" for k, need, have in over)
        where = f"{self.board.name} ({'beside the SoC' if self.soc else 'accelerator alone'})"
        cycles = max(n.op.cycles(n.params) for n in g.nodes if n.params is not None)
        raise FitError(f"even folded the most ({cycles:,} cycles/frame) the model "
                       f"does not fit {where}: {what} (estimate). Use fewer bits (--bits, --a-bits), a "
                       f"smaller model or a larger board (`lepton-hdl explore` shows the trade-off)")

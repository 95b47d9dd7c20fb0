"""Shared gateware helpers: pixel streams, element packing, the requant datapath."""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import numpy as np
from migen import Array, Cat, Constant, If, Module, Mux, Signal
from migen.fhdl.bitcontainer import bits_for, value_bits_sign

from litex.soc.interconnect import stream

from ..arith import IntType, signed_bits_for


def pixel_layout(channels: int, typ: IntType):
    """A stream beat is one pixel: ``channels`` elements of ``typ.bits`` packed LSB-first."""
    return [("data", channels * typ.bits)]


def elem_signal(typ: IntType, name=None) -> Signal:
    return Signal((typ.bits, typ.signed), name=name)


def unpack(m: Module, data, n: int, typ: IntType, name="e") -> list:
    """Split ``data`` into ``n`` typed element signals (combinational)."""
    elems = []
    for i in range(n):
        s = elem_signal(typ, name=f"{name}{i}")
        m.comb += s.eq(data[i * typ.bits:(i + 1) * typ.bits])
        elems.append(s)
    return elems


def pack(elems, bits: int):
    """Concatenate elements, each truncated to its ``bits`` two's-complement bits."""
    return Cat(*[e[:bits] for e in elems])


def const_signal(m: Module, value: int, name="k") -> Signal:
    """A signed constant as a wire. Expressions never carry negative literals: LiteX's Verilog
    printer writes them as unsigned (``-8'd128``), which turns a signed comparison or sum into
    an unsigned one. An assignment to a wire of the right width is exact."""
    value = int(value)
    s = Signal((signed_bits_for(min(value, 0), max(value, 0)), True), name=name)
    m.comb += s.eq(value)
    s.lepton_const = value             # known to multiply(): a constant operand
    return s


def const_table(m: Module, values, index, name="tab"):
    """``values[index]`` for a Python list of ints and a Signal index (a signed wire)."""
    values = [int(v) for v in values]
    if len(set(values)) == 1:
        return const_signal(m, values[0], name)
    bits = signed_bits_for(min(values + [0]), max(values + [0]))
    s = Signal((bits, True), name=name)
    m.comb += s.eq(Array([Constant(v, (bits, True)) for v in values])[index])
    return s


def adder_tree(terms):
    """Balanced sum of a list of expressions (Migen widens each add by one bit)."""
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def round_clamp(m: Module, value, value_bits: int, shift: int, lo: int, hi: int,
                out: IntType, name="rq") -> Signal:
    """Combinational ``clamp((value + R) >> shift, lo, hi)`` with ``R = 2**(shift-1)``.

    ``value`` is a signed expression of at most ``value_bits`` bits; the result is an element
    of type ``out``.
    """
    t = Signal((value_bits + 1, True), name=f"{name}_t")
    m.comb += t.eq(value + (1 << (shift - 1) if shift else 0))
    q = Signal((max(value_bits + 1 - shift, 2), True), name=f"{name}_q")
    if shift:
        m.comb += q.eq(t[shift:])          # raw bits, re-read as signed: arithmetic shift
    else:
        m.comb += q.eq(t)
    y = Signal((out.bits + 1, True), name=f"{name}_y")  # one spare bit: lo..hi fits signed
    lo_s, hi_s = const_signal(m, lo, f"{name}_lo"), const_signal(m, hi, f"{name}_hi")
    m.comb += If(q < lo_s, y.eq(lo)).Elif(q > hi_s, y.eq(hi)).Else(y.eq(q))
    return y


class PixelCounter(Module):
    """Counts beats of a frame of ``n`` beats; ``first``/``last`` flag the frame ends."""

    def __init__(self, n: int, advance):
        self.count = Signal(max=max(n, 2))
        self.first = Signal()
        self.last = Signal()
        # # #
        self.comb += [self.first.eq(self.count == 0), self.last.eq(self.count == n - 1)]
        self.sync += If(advance, If(self.last, self.count.eq(0)).Else(self.count.eq(self.count + 1)))


def endpoint(channels: int, typ: IntType) -> stream.Endpoint:
    return stream.Endpoint(pixel_layout(channels, typ))



def delay(m: Module, ce, bundle: dict, stages: int, name: str = "d") -> list:
    """``stages`` registered copies of a bundle of signals (or expressions), each one stage
    later than the one before, all advancing on ``ce`` (a pipeline's valid, flags and indices
    travelling beside its data). Returns one dict per stage, the last is the latest."""
    out, cur = [], bundle
    for i in range(stages):
        nxt = {k: Signal(value_bits_sign(v), name=f"{k}_{name}{'' if stages == 1 else i}") for k, v in cur.items()}
        m.sync += If(ce, *[nxt[k].eq(v) for k, v in cur.items()])
        out.append(nxt)
        cur = nxt
    return out


def drive_source(m: Module, out, valid, n_px: int, ot: IntType):
    """Drive ``m.source`` for frames of ``n_px`` pixels: ``out`` elements packed to ``ot.bits``
    each, ``valid``, and first/last from a beat counter."""
    m.submodules.count = count = PixelCounter(n_px, m.source.valid & m.source.ready)
    m.comb += [
        m.source.valid.eq(valid),
        m.source.data.eq(pack(out, ot.bits)),
        m.source.first.eq(count.first),
        m.source.last.eq(count.last),
    ]


# -- multipliers: DSP tiles up to a budget, logic beyond it -----------------------------------

@dataclass(frozen=True)
class Product:
    """One multiplier as synthesis sees it: operand widths and signedness, and the second
    operand's value when it is a constant."""
    a_bits: int
    a_signed: bool
    b_bits: int
    b_signed: bool
    const: Optional[int] = None

    @classmethod
    def of(cls, a_bits: int, a_signed: bool, b) -> "Product":
        """``b``: ``(bits, signed)`` of a variable operand, or an int constant."""
        if isinstance(b, (int, np.integer)):
            v = int(b)
            return cls(a_bits, a_signed, bits_for(v), v < 0, v)
        return cls(a_bits, a_signed, int(b[0]), bool(b[1]))

    @property
    def operand_bits(self) -> tuple:
        """The widths the multiply has in Verilog: a mixed-sign product widens its unsigned
        operand by a zero bit (``$signed({1'b0, x})``)."""
        mixed = self.a_signed != self.b_signed
        return (self.a_bits + (mixed and not self.a_signed), self.b_bits + (mixed and not self.b_signed))

    @property
    def trivial(self) -> bool:
        """A constant 0 or +-2^k: synthesis turns it into a shift, never a multiplier."""
        return self.const is not None and (self.const == 0 or abs(self.const) & (abs(self.const) - 1) == 0)


@dataclass(frozen=True)
class DspTile:
    """A family's hard multiplier: operands up to ``width`` bits each (ECP5 MULT18X18D: 18,
    iCE40 SB_MAC16: 16), products of at least ``min_product`` bits (Yosys leaves narrower
    ones to logic on iCE40). ``logic``: how the family builds a product in logic (see
    ``logic_multiply``): ``"booth"`` (Yosys' radix-4 Booth pass) or ``"ccu2c"`` (an array of
    ECP5 carry-chain cells, ``ccu2c_multiplier_verilog``)."""
    width: int
    min_product: int = 4
    logic: str = "booth"       # how products beyond the tiles are built: "booth" or "ccu2c"

    def fits(self, pr: Product) -> bool:
        a, b = pr.operand_bits
        return not pr.trivial and 2 <= min(a, b) and max(a, b) <= self.width and a + b >= self.min_product


class DspBudget:
    """The DSP tiles one build may fill, handed out in generation order: a product that fits one
    tile takes one while any are left, every other product is built from adders in logic (so
    synthesis can never infer more tiles than the budget, nor split one product over several).
    ``used`` counts the tiles per block."""

    def __init__(self, tiles: int, tile: DspTile):
        self.left, self.tile = int(tiles), tile
        self.used = {}
        self.block = None
        self.log = []                      # every product generated, for the estimate's check
        self.instances = []                # logic multiplier instances, added to the top module
        self.statements = []               # and the wires feeding constant products

    def take(self, pr: Product) -> bool:
        if self.left <= 0 or not self.tile.fits(pr):
            return False
        self.left -= 1
        self.used[self.block] = self.used.get(self.block, 0) + 1
        return True


_BUDGET = contextvars.ContextVar("lepton_dsp_budget", default=None)


@contextmanager
def dsp_budget(budget: Optional[DspBudget]):
    """Products generated inside take DSP tiles from ``budget`` (None: every product is written
    ``a * b`` and synthesis decides, as in simulation)."""
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def multiply(a, b):
    """``a * b`` (``a`` a signal; ``b`` a signal, a ``const_signal`` or a non-negative int
    constant: LiteX prints negative literals as unsigned): a DSP tile from the current budget,
    or logic."""
    budget = _BUDGET.get()
    if budget is None:
        return a * b
    const = int(b) if isinstance(b, (int, np.integer)) else getattr(b, "lepton_const", None)
    pr = Product.of(*value_bits_sign(a), const if const is not None else value_bits_sign(b))
    budget.log.append((budget.block, pr))
    if budget.take(pr):
        return a * b
    if const is not None:
        return soft_multiply(a, const)      # a constant: one shifted add per set bit
    return logic_multiply(a, b)


# Logic multipliers are instances of small Verilog modules (``LOGIC_MULTIPLIERS``) holding one
# ``*``: the build scripts run Yosys' ``booth`` pass on them (radix-4 Booth with carry-save
# adders, measured 42% fewer ECP5 LUTs than the shift-and-add array for 8x8: 186 against 319
# LUT4 + carry) before synthesis, so no DSP inference ever sees them; the top-level products
# are the budgeted tiles.
LOGIC_MULTIPLIERS = {}
BOOTH_YOSYS = "booth lepton_mul_*"


def _verilog_operand(name, bits, signed, mixed):
    if signed:
        return f"$signed({name})"
    return f"$signed({{1'b0, {name}}})" if mixed else name


def logic_multiply(a, b):
    """``a * b`` of two signals as a logic multiplier module (see ``LOGIC_MULTIPLIERS``): a
    ``*`` that Yosys' ``booth`` pass rewrites, or (``DspTile.logic == "ccu2c"``, ECP5) an array
    of carry-chain cells (``ccu2c_multiplier_verilog``)."""
    from migen import Instance
    (na, sa), (nb, sb) = value_bits_sign(a), value_bits_sign(b)
    mixed = sa != sb
    signed = sa or sb
    ny = na + nb + (1 if mixed else 0)
    budget = _BUDGET.get()
    chain = is_chain_product(budget.tile, na, sa, nb, sb)
    name = f"lepton_{'cmul' if chain else 'mul'}_{na}{'s' if sa else 'u'}_{nb}{'s' if sb else 'u'}"
    if name not in LOGIC_MULTIPLIERS:
        if chain:
            LOGIC_MULTIPLIERS[name] = ccu2c_multiplier_verilog(name, na, sa, nb, sb)
        else:
            sgn = " signed" if signed else ""
            LOGIC_MULTIPLIERS[name] = (
                f"module {name} (input wire [{na - 1}:0] a, input wire [{nb - 1}:0] b, output wire{sgn} [{ny - 1}:0] y);\n"
                f"  assign y = {_verilog_operand('a', na, sa, mixed)} * {_verilog_operand('b', nb, sb, mixed)};\n"
                f"endmodule\n")
    y = Signal((ny, signed), name="lmul")
    budget.instances.append(Instance(name, i_a=a, i_b=b, o_y=y))
    return y


def logic_multiplier_sources(verilog: str) -> str:
    """The Verilog of every logic multiplier module ``verilog`` instantiates, with a simulation
    model of the ECP5 carry cell when any of them uses it (left out by Yosys, which defines
    ``SYNTHESIS`` and has the real cell)."""
    used = [name for name in sorted(LOGIC_MULTIPLIERS) if name + " " in verilog]
    text = "".join(LOGIC_MULTIPLIERS[name] for name in used)
    if any(name.startswith("lepton_cmul_") for name in used):
        text += CCU2C_SIM_MODEL
    return text


# -- ECP5 multipliers on the carry chain --------------------------------------------------------
#
# An ECP5 slice's carry cell (CCU2C) adds two bits with a LUT4 in front of each: the LUT4's output
# P is the carry's propagate and the sum is P ^ carry-in; the generate is a LUT2 of the A and B
# inputs read from INIT[3:0] (Yosys techlibs/ecp5/ccu2c_sim.vh). Yosys' own adders tie D to 1 and
# use C to invert B for a subtraction; here C is a bit of the multiplier, so that one cell adds a
# partial-product bit ``A + (B & C)``: a row of the array multiplier is one carry chain, with no
# LUT for the AND. An 8x8 signed product in two groups of four rows (``CCU2C_GROUP``): 36 CCU2C +
# 16 LUT4 (88 LUT4 places), against 170 LUT4 + 8 CCU2C (186) for Yosys' radix-4 Booth (Yosys 0.70,
# tests/test_ccu2c.py).

# INIT with D = 1: P = A ^ (B & C) (add) or ~(A ^ (B & C)) (subtract); INIT[3:0] = 0xA: the
# generate (used when P = 0, i.e. when both addends' bits are equal) is A.
CCU2C_ADD, CCU2C_SUB = 0x6A0A, 0x950A

CCU2C_SIM_MODEL = """`ifndef SYNTHESIS
// ECP5 CCU2C for simulation, as Yosys' techlibs/ecp5/ccu2c_sim.vh (INJECT1 = "NO")
module CCU2C (input CIN, input A0, B0, C0, D0, A1, B1, C1, D1, output S0, S1, output COUT);
  parameter [15:0] INIT0 = 16'h0000;
  parameter [15:0] INIT1 = 16'h0000;
  parameter INJECT1_0 = "YES";
  parameter INJECT1_1 = "YES";
  wire p0 = INIT0[{D0, C0, B0, A0}];
  wire g0 = INIT0[{B0, A0}];
  wire c0 = p0 ? CIN : g0;
  wire p1 = INIT1[{D1, C1, B1, A1}];
  wire g1 = INIT1[{B1, A1}];
  assign S0 = p0 ^ CIN;
  assign S1 = p1 ^ c0;
  assign COUT = p1 ? c0 : g1;
endmodule
`endif
"""


# rows of one carry-chain array: a row adds a LUT, a carry cell and a route (about 2 ns on an
# ECP5-25F at speed 6) to the longest path, so a product's rows are split into groups of at most
# this many, each group an array, the groups' sums added by a tree of carry-chain adders
CCU2C_GROUP = 4


def ccu2c_rows(na: int, sa: bool, nb: int, sb: bool):
    """How ``ccu2c_multiplier_verilog`` lays out an ``na`` x ``nb`` product: ``(swap, rows,
    width)``: the operand whose bits pick the rows (``b``, or ``a`` when ``swap``), the rows
    (its bits) and the bits of the other, the row operand, made signed. None when an operand has
    a single bit (no array to build)."""
    if na < 2 or nb < 2:
        return None
    cost = lambda nz, zs, nx: ccu2c_count(nx, nz + (not zs))
    swap = cost(nb, sb, na) < cost(na, sa, nb)
    nz, zs, nx = (nb, sb, na) if swap else (na, sa, nb)
    return swap, nx, nz + (not zs)


def is_chain_product(tile: DspTile, na: int, sa: bool, nb: int, sb: bool) -> bool:
    """Whether a variable logic product of these operands is built as carry-chain arrays
    (``logic_multiply``; the resource model asks the same)."""
    return tile.logic == "ccu2c" and ccu2c_rows(na, sa, nb, sb) is not None


def ccu2c_groups(nx: int) -> list:
    """The row groups ``[(first, end), ...]``: as even as possible, at most ``CCU2C_GROUP`` rows
    each, none of a single row (a one-row group of the sign row would need a negation)."""
    g = max(1, min(-(-nx // CCU2C_GROUP), nx // 2))
    bounds = [round(k * nx / g) for k in range(g + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def ccu2c_count(nx: int, nz: int) -> tuple:
    """``(CCU2C, LUT4)`` of an ``nz``-bit (signed) row operand times ``nx`` rows: each group's
    chains and first-row ANDs, and the tree adding the groups (one chain per add, as wide as
    the bits it changes: Yosys trims the shifted operand's zero bits)."""
    groups = ccu2c_groups(nx)
    ccu = sum((e - f - 1) * ((nz + 2) // 2) for f, e in groups)
    lut = len(groups) * nz
    terms = [(f, nz + e - f) for f, e in groups]          # (shift, width) of each group's sum
    while len(terms) > 1:
        nxt = []
        for k in range(0, len(terms) - 1, 2):
            (s0, w0), (s1, w1) = terms[k], terms[k + 1]
            top = min(max(s0 + w0, s1 + w1) + 1, nx + nz)      # the product's width caps it
            ccu += (top - s1 + 1) // 2
            nxt.append((s0, top - s0))
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return ccu, lut


def ccu2c_cells(na: int, sa: bool, nb: int, sb: bool) -> tuple:
    """``(CCU2C, LUT4)`` of ``ccu2c_multiplier_verilog``'s product."""
    _, nx, nz = ccu2c_rows(na, sa, nb, sb)
    return ccu2c_count(nx, nz)


def _ccu2c_array(L: list, tag: str, nz: int, xbits: list, sub_last: bool) -> tuple:
    """Lines of one array: ``z`` (``nz`` bits, signed) times the bits ``xbits`` (LSB first; the
    last one subtracts when ``sub_last``). Returns the wire of the product and its width
    (``nz + len(xbits)`` bits, signed)."""
    nx = len(xbits)
    L += [f"  wire [{nz - 1}:0] {tag}t0 = z & {{{nz}{{{xbits[0]}}}}};",
          f"  wire [{nz - 1}:0] {tag}h0 = {{{tag}t0[{nz - 1}], {tag}t0[{nz - 1}:1]}};"]
    cells = (nz + 2) // 2
    out_bits = [f"{tag}t0[0]"]
    for i in range(1, nx):
        sub = sub_last and i == nx - 1
        init = CCU2C_SUB if sub else CCU2C_ADD
        s, c, h = f"{tag}s{i}", f"{tag}c{i}", f"{tag}h{i - 1}"
        L += [f"  wire [{2 * cells - 1}:0] {s};", f"  wire [{cells}:0] {c};", f"  assign {c}[0] = 1'b{1 if sub else 0};"]
        for k in range(cells):
            halves = []
            for j in (2 * k, 2 * k + 1):
                if j <= nz:
                    q = min(j, nz - 1)
                    halves.append((f"{h}[{q}]", f"z[{q}]", xbits[i]))
                else:
                    halves.append(("1'b0", "1'b0", "1'b0"))
            (a0, b0, c0), (a1, b1, c1) = halves
            L.append(f"  CCU2C #(.INIT0(16'h{init:04X}), .INIT1(16'h{init:04X}), .INJECT1_0(\"NO\"), "
                     f".INJECT1_1(\"NO\")) {tag}r{i}_{k} (.CIN({c}[{k}]), .A0({a0}), .B0({b0}), .C0({c0}), "
                     f".D0(1'b1), .A1({a1}), .B1({b1}), .C1({c1}), .D1(1'b1), .S0({s}[{2 * k}]), "
                     f".S1({s}[{2 * k + 1}]), .COUT({c}[{k + 1}]));")
        L.append(f"  wire [{nz - 1}:0] {tag}h{i} = {s}[{nz}:1];")
        out_bits.append(f"{s}[0]")
    w = nx + nz
    top = f"{tag}s{nx - 1}[{nz}:1]" if nx > 1 else f"{{{tag}t0[{nz - 1}], {tag}t0[{nz - 1}:1]}}"
    L.append(f"  wire signed [{w - 1}:0] {tag}p = {{{top}, {', '.join(reversed(out_bits))}}};")
    return f"{tag}p", w


def ccu2c_multiplier_verilog(name: str, na: int, sa: bool, nb: int, sb: bool) -> str:
    """Verilog module ``name`` computing ``y = a * b`` (widths and signs as ``logic_multiply``'s)
    from ECP5 carry chains. The row operand ``z`` (made signed by a zero bit if it is unsigned)
    times bit ``i`` of the other operand ``x`` is added to the running sum's bits ``i`` and up,
    one chain per row; the sign row of a signed ``x`` subtracts (``~`` in the LUT, carry-in 1).
    Row ``i`` keeps the running sum (shifted right by ``i``) within ``nz`` signed bits, so each
    chain is ``nz + 1`` bits long. The rows are split into groups of at most ``CCU2C_GROUP``
    (``ccu2c_groups``), each an array, and the groups' sums are added in a tree."""
    swap, nx, nz = ccu2c_rows(na, sa, nb, sb)
    (xn, xs), (zn, zs) = ((("a", sa), ("b", sb)) if swap else (("b", sb), ("a", sa)))
    mixed = sa != sb
    ny = na + nb + (1 if mixed else 0)
    sgn = " signed" if (sa or sb) else ""
    groups = ccu2c_groups(nx)
    L = [f"module {name} (input wire [{na - 1}:0] a, input wire [{nb - 1}:0] b, output wire{sgn} [{ny - 1}:0] y);",
         f"  // {na}{'s' if sa else 'u'} x {nb}{'s' if sb else 'u'}: rows {groups} of {nz + 1}-bit carry "
         f"chains (hw.common.ccu2c_multiplier_verilog)",
         f"  wire [{nz - 1}:0] z = {zn if zs else '{1' + chr(39) + 'b0, ' + zn + '}'};",
         f"  wire [{nx - 1}:0] x = {xn};"]
    terms = []
    for g, (f, e) in enumerate(groups):
        tag = f"g{g}_" if len(groups) > 1 else ""
        wire, width = _ccu2c_array(L, tag, nz, [f"x[{i}]" for i in range(f, e)], xs and e == nx)
        terms.append((wire, f))
    w = nx + nz
    if len(groups) == 1:
        L.append(f"  wire [{w - 1}:0] p = {terms[0][0]};")
    else:
        # the groups' sums, shifted into place, added pairwise (signed, nx + nz bits)
        level = 0
        while len(terms) > 1:
            nxt = []
            for k in range(0, len(terms) - 1, 2):
                (w0, s0), (w1, s1) = terms[k], terms[k + 1]
                t = f"sum{level}_{k // 2}"
                L.append(f"  (* keep *) wire signed [{w - 1}:0] {t} = {w0} + ({w1} <<< {s1 - s0});")
                nxt.append((t, s0))
            if len(terms) % 2:
                nxt.append(terms[-1])
            terms, level = nxt, level + 1
        L.append(f"  wire [{w - 1}:0] p = {terms[0][0]};")
    if ny <= w:
        L.append(f"  assign y = p[{ny - 1}:0];")
    else:
        L.append(f"  assign y = {{{{{ny - w}{{p[{w - 1}]}}}}, p}};")
    L.append("endmodule")
    return "\n".join(L) + "\n"


def soft_multiply(a, b):
    """``a * b`` as a sum of shifted partial products (no ``*`` for synthesis to map to a DSP
    tile). A constant ``b`` adds one shifted ``a`` per set bit; a signal ``b`` one ``a``-wide
    term per bit, the sign bit's subtracted."""
    if isinstance(b, (int, np.integer)):
        v = int(b)
        if v == 0:
            return Constant(0)
        # the shifted terms come from a signed wire wide enough for the largest one: a shift
        # printed inside a concatenation ($signed({1'd0, a <<< i})) keeps a's own width
        na, sa = value_bits_sign(a)
        aw = Signal((na + 2 + abs(v).bit_length(), True), name="kmul_a")
        _BUDGET.get().statements.append(aw.eq(a))
        terms = [aw << i for i in range(abs(v).bit_length()) if abs(v) >> i & 1]
        s = adder_tree(terms)
        return -s if v < 0 else s
    nb, signed = value_bits_sign(b)
    top = nb - 1 if signed else nb
    pos = [Mux(b[i], a << i, 0) for i in range(top)]
    s = adder_tree(pos) if pos else Constant(0)
    if signed:
        s = s - Mux(b[nb - 1], a << (nb - 1), 0)
    return s

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
    ones to logic on iCE40)."""
    width: int
    min_product: int = 4

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
    """``a * b`` of two signals as a logic multiplier module (see ``LOGIC_MULTIPLIERS``)."""
    from migen import Instance
    (na, sa), (nb, sb) = value_bits_sign(a), value_bits_sign(b)
    mixed = sa != sb
    signed = sa or sb
    ny = na + nb + (1 if mixed else 0)
    name = f"lepton_mul_{na}{'s' if sa else 'u'}_{nb}{'s' if sb else 'u'}"
    if name not in LOGIC_MULTIPLIERS:
        sgn = " signed" if signed else ""
        LOGIC_MULTIPLIERS[name] = (
            f"module {name} (input wire [{na - 1}:0] a, input wire [{nb - 1}:0] b, output wire{sgn} [{ny - 1}:0] y);\n"
            f"  assign y = {_verilog_operand('a', na, sa, mixed)} * {_verilog_operand('b', nb, sb, mixed)};\n"
            f"endmodule\n")
    y = Signal((ny, signed), name="lmul")
    budget = _BUDGET.get()
    budget.instances.append(Instance(name, i_a=a, i_b=b, o_y=y))
    return y


def logic_multiplier_sources(verilog: str) -> str:
    """The Verilog of every logic multiplier module ``verilog`` instantiates."""
    return "".join(text for name, text in sorted(LOGIC_MULTIPLIERS.items()) if name + " " in verilog)


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

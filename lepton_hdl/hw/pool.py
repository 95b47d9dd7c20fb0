"""Max, average and global average pooling."""
from __future__ import annotations

from migen import Cat, If, Module, Mux, Signal
from litex.soc.interconnect import stream

from ..arith import IntType, MULT_BITS
from ..params import Requant
from .common import PixelCounter, adder_tree, drive_source, endpoint, multiply, pack, round_clamp, unpack
from .window import Pad, window_generator


def reduce_latency(p) -> int:
    """Registers between a pooling block's window (or accumulator) and its source."""
    if p.is_global:
        return 3
    return 2 if p.takes_max else 4


def _max_tree(items):
    items = list(items)
    while len(items) > 1:
        items = [Mux(items[i] > items[i + 1], items[i], items[i + 1]) if i + 1 < len(items) else items[i]
                 for i in range(0, len(items), 2)]
    return items[0]


class WindowReduce(Module):
    """Per-channel max, or sum then requant, of each ``kh x kw`` window (all channels at once)."""

    def __init__(self, p):
        kh, kw = p.kernel
        C = p.in_shape[2]
        it, ot = p.in_type, p.out_type
        Ho, Wo, _ = p.out_shape
        n = kh * kw
        self.sink = endpoint(n * C, it)
        self.source = endpoint(C, ot)
        # # #
        ce = Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        x = unpack(self, self.sink.data, n * C, it, name="x")
        per_ch = [[x[k * C + c] for k in range(n)] for c in range(C)]
        valid = self.sink.valid
        if p.takes_max:
            out = [Signal((it.bits, it.signed), name=f"max{c}") for c in range(C)]
            v1 = Signal()
            self.sync += If(ce, v1.eq(valid), *[out[c].eq(_max_tree(per_ch[c])) for c in range(C)])
            valid = v1
        else:
            sb = p.sum_bits
            sums = [Signal((sb, True), name=f"sum{c}") for c in range(C)]
            v1 = Signal()
            self.sync += If(ce, v1.eq(valid), *[sums[c].eq(adder_tree(per_ch[c])) for c in range(C)])
            out, valid = requant_stages(self, ce, sums, sb, v1, p)
        drive_source(self, out, valid, Ho * Wo, ot)


def requant_stages(m, ce, values, value_bits, valid, p):
    """Two stages: multiply by the channel's multiplier, then round/shift/clamp (registered)."""
    rq, ot = p.requant, p.out_type
    mults = rq.channel_mult(len(values))
    mbits = value_bits + MULT_BITS
    prod = [Signal((mbits, True), name=f"prod{c}") for c in range(len(values))]
    v2, v3 = Signal(), Signal()
    m.sync += If(ce, v2.eq(valid), *[prod[c].eq(multiply(values[c], mults[c])) for c in range(len(values))])
    ys = [round_clamp(m, prod[c], mbits, rq.shift, rq.lo, rq.hi, ot, name=f"rq{c}") for c in range(len(values))]
    out = [Signal((ot.bits + 1, True), name=f"o{c}") for c in range(len(values))]
    m.sync += If(ce, v3.eq(v2), *[out[c].eq(ys[c]) for c in range(len(values))])
    return out, v3


class RowPool(Module):
    """Non-overlapping pooling (stride == kernel, no padding) without a line buffer.

    One partial result per output column (``Wo`` pixels, a rotating register) is updated with
    each input pixel as it streams past: the running max or sum of the window it belongs to.
    A window's last pixel sends the finished result on. One input pixel a cycle; rows and
    columns beyond the last whole window are consumed and dropped (floor semantics).
    """

    def __init__(self, p):
        H, W, C = p.in_shape
        kh, kw = p.kernel
        Ho, Wo, _ = p.out_shape
        it, ot = p.in_type, p.out_type
        self.sink = endpoint(C, it)
        self.source = endpoint(C, ot)
        # # #
        # a max keeps the input's type; a sum its own signed width
        ab, signed = (it.bits, it.signed) if p.takes_max else (p.sum_bits, True)
        ce, accept = Signal(), Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce),
                      accept.eq(self.sink.valid & ce)]
        x = unpack(self, self.sink.data, C, it, name="x")
        xx, kx = Signal(max=max(W, 2)), Signal(max=max(kw, 2))
        yy, ky = Signal(max=max(H, 2)), Signal(max=max(kh, 2))
        self.sync += If(accept,
            If(xx == W - 1,
                xx.eq(0), kx.eq(0),
                If(yy == H - 1, yy.eq(0), ky.eq(0)).Else(
                    yy.eq(yy + 1), If(ky == kh - 1, ky.eq(0)).Else(ky.eq(ky + 1))),
            ).Else(xx.eq(xx + 1), If(kx == kw - 1, kx.eq(0)).Else(kx.eq(kx + 1))))
        inside = Signal()
        self.comb += inside.eq(((xx < Wo * kw) if W != Wo * kw else 1) & ((yy < Ho * kh) if H != Ho * kh else 1))
        # Partial results of the current window row, output column ox at position 0.
        part = [Signal(C * ab, name=f"part{i}", reset_less=True) for i in range(Wo)]
        cur = [Signal((ab, signed), name=f"cur{c}") for c in range(C)]
        self.comb += [cur[c].eq(part[0][c * ab:(c + 1) * ab]) for c in range(C)]
        start = Signal()
        self.comb += start.eq((kx == 0) & (ky == 0))
        new = [Signal((ab, signed), name=f"new{c}") for c in range(C)]
        for c in range(C):
            if p.takes_max:
                self.comb += If(start | (x[c] > cur[c]), new[c].eq(x[c])).Else(new[c].eq(cur[c]))
            else:
                self.comb += If(start, new[c].eq(x[c])).Else(new[c].eq(cur[c] + x[c]))
        new_word = Cat(*[n[:ab] for n in new])
        end_col = Signal()
        self.comb += end_col.eq(kx == kw - 1)
        self.sync += If(accept & inside,
            If(end_col, *[part[i].eq(part[i + 1]) for i in range(Wo - 1)], part[Wo - 1].eq(new_word)
            ).Else(part[0].eq(new_word)))
        res = [Signal((ab, signed), name=f"res{c}", reset_less=True) for c in range(C)]
        v1 = Signal()
        self.sync += If(ce, v1.eq(accept & inside & end_col & (ky == kh - 1)), *[res[c].eq(new[c]) for c in range(C)])
        if p.takes_max:
            out, valid = res, v1
        else:
            out, valid = requant_stages(self, ce, res, ab, v1, p)
        drive_source(self, out, valid, Ho * Wo, ot)


def frame_sums(m, p, ce):
    """Per-channel sums of a frame's pixels arriving on ``m.sink`` (advancing on ``ce``): the
    accumulators and a valid that is set the cycle after the frame's last pixel."""
    H, W, C = p.in_shape
    x = unpack(m, m.sink.data, C, p.in_type, name="x")
    acc = [Signal((p.sum_bits, True), name=f"acc{c}") for c in range(C)]
    m.submodules.inc = inc = PixelCounter(H * W, m.sink.valid & m.sink.ready)
    v1 = Signal()
    m.sync += If(ce,
        v1.eq(m.sink.valid & inc.last),
        *[If(m.sink.valid, If(inc.first, acc[c].eq(x[c])).Else(acc[c].eq(acc[c] + x[c]))) for c in range(C)])
    return acc, v1


class GlobalAvgPool(Module):
    """Accumulates every pixel of a frame per channel, then requantizes the sums."""

    def __init__(self, p):
        H, W, C = p.in_shape
        it, ot = p.in_type, p.out_type
        self.sink = endpoint(C, it)
        self.source = endpoint(C, ot)
        # # #
        ce = Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        acc, v1 = frame_sums(self, p, ce)
        out, valid = requant_stages(self, ce, acc, p.sum_bits, v1, p)
        self.comb += [
            self.source.valid.eq(valid),
            self.source.data.eq(pack(out, ot.bits)),
            self.source.first.eq(1),
            self.source.last.eq(1),
        ]


class GlobalSum(Module):
    """Sums every pixel of a frame per channel; one beat of ``C`` sums (``sum_bits`` each) per
    frame. The next frame's first pixel is taken as soon as the sums are."""

    def __init__(self, p):
        H, W, C = p.in_shape
        sb = p.sum_bits
        self.sink = endpoint(C, p.in_type)
        self.source = endpoint(C, IntType(sb, True))
        # # #
        ce = Signal()
        self.comb += [ce.eq(self.source.ready | ~self.source.valid), self.sink.ready.eq(ce)]
        acc, v1 = frame_sums(self, p, ce)
        self.comb += [self.source.valid.eq(v1), self.source.data.eq(pack(acc, sb)),
                      self.source.first.eq(1), self.source.last.eq(1)]


class FoldedGlobalAvgPool(Module):
    """Global average with its requant folded: the frame's sums go to ``lanes`` requant lanes,
    ``C / lanes`` beats a frame (``hw.fold.ChannelFold``, whose input register takes them at
    once)."""

    def __init__(self, p):
        from types import SimpleNamespace
        from .add import RequantBlock
        from .fold import ChannelFold
        C, L = p.in_shape[2], p.lanes
        st = IntType(p.sum_bits, True)
        narrow = SimpleNamespace(in_shape=(1, C // L, L), in_type=st, out_type=p.out_type,
                                 requant=Requant(p.requant.channel_mult(C)[:1], p.requant.shift, p.requant.out,
                                                 p.requant.lo, p.requant.hi))
        self.submodules.sums = sums = GlobalSum(p)
        self.submodules.fold = fold = ChannelFold(RequantBlock(narrow), [st], p.out_type, C, L, 1)
        self.comb += sums.source.connect(fold.sink)
        self.sink, self.source = sums.sink, fold.source


class Pool(Module):
    """Pooling block for ``PoolParams``: the global accumulator, the row accumulator for
    non-overlapping windows, else pad -> window -> reduce."""

    def __init__(self, p):
        if p.is_global or p.row_accumulate:
            if p.is_global and p.lanes < p.in_shape[2]:
                core = FoldedGlobalAvgPool(p)
            else:
                core = (GlobalAvgPool if p.is_global else RowPool)(p)
            self.submodules.core = core
            self.sink, self.source = core.sink, core.source
            return
        pad_value = p.in_type.qmin if p.takes_max else 0
        self.submodules.pad = pad = Pad(p.in_shape, p.in_type, p.padding, pad_value)
        self.submodules.window = win = window_generator(p.padded_shape, p.in_type, p.kernel, p.stride)
        self.submodules.reduce = red = WindowReduce(p)
        self.submodules.pipeline = pipe = stream.Pipeline(pad, win, red)
        self.sink, self.source = pipe.sink, pipe.source

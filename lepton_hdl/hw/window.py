"""Padding and the sliding-window generator (line buffers + window registers)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from migen import Array, Cat, Constant, If, Memory, Module, Mux, READ_FIRST, Signal
from migen.fhdl.bitcontainer import bits_for

from ..arith import IntType
from .common import PixelCounter, endpoint


class Pad(Module):
    """Surrounds an ``(H, W, C)`` frame with ``padding`` rows/columns of ``pad_value``.

    Emits ``(H+2ph) x (W+2pw)`` pixels per frame, one per cycle when the sink keeps up.
    """

    def __init__(self, in_shape, typ: IntType, padding, pad_value=0):
        H, W, C = in_shape
        ph, pw = padding
        self.sink = endpoint(C, typ)
        self.source = endpoint(C, typ)
        # # #
        if ph == 0 and pw == 0:
            self.comb += self.sink.connect(self.source)
            return
        Hp, Wp = H + 2 * ph, W + 2 * pw
        y, x = Signal(max=max(Hp, 2)), Signal(max=max(Wp, 2))
        inside = (y >= ph) & (y < ph + H) & (x >= pw) & (x < pw + W)
        raw = int(pad_value) & ((1 << typ.bits) - 1)     # two's complement bits, no negative literal
        word = Cat(*[Constant(raw, typ.bits) for _ in range(C)])
        self.comb += [
            If(inside,
                self.source.valid.eq(self.sink.valid),
                self.source.data.eq(self.sink.data),
                self.sink.ready.eq(self.source.ready),
            ).Else(
                self.source.valid.eq(1),
                self.source.data.eq(word),
            ),
            self.source.first.eq((y == 0) & (x == 0)),
            self.source.last.eq((y == Hp - 1) & (x == Wp - 1)),
        ]
        self.sync += If(self.source.valid & self.source.ready,
            If(x == Wp - 1,
                x.eq(0),
                If(y == Hp - 1, y.eq(0)).Else(y.eq(y + 1)),
            ).Else(x.eq(x + 1)))


class SlidingWindow(Module):
    """Turns a padded ``(Hp, Wp, C)`` pixel stream into ``kh x kw`` windows at ``stride``.

    A writer stores incoming rows in a ring of ``R = 2*kh + sh - 1`` rows at one pixel a
    cycle. A reader, once the ``kh`` rows of an output row are complete, shifts one column
    (``kh`` pixels read in parallel) a cycle into a ``kh x kw`` window register and hands each
    finished window to the consumer. The ring lets the writer run a whole output row (and the
    next frame's first rows) ahead of the reader, so a slow consumer never starves for lack of
    input buffering. A window beat carries elements in ``(ky, kx, c)`` order.

    The ring is ``kh`` banks (row slot ``s`` lives in bank ``s % kh``), so the ``kh`` rows of a
    window column are always in different banks and each bank is a plain one-write one-read
    memory. Reads are synchronous (the address is the reader's *next* column), so the banks map
    to block RAM (ECP5 EBR, iCE40 EBR) instead of flip-flops. A one-pixel-wide frame keeps an
    asynchronous read: its reader may need a pixel in the cycle after it is written.
    """

    @staticmethod
    def frame_cycles(padded_shape, kernel, stride, per_window: int, skid: bool = True) -> int:
        """Cycles per frame of this generator feeding a consumer that takes a window every
        ``per_window`` cycles (a MAC array: it accepts the next window in the cycle its last
        step issues), through a one-window skid buffer (``PipeReady``) when ``skid``. The block
        tests check this model with ``==``.

        The writer stores one padded pixel a cycle (``Hp * Wp``). The reader hands a window on
        ``sw`` cycles after the previous one within a row; after a row's last window it releases
        rows and shifts ``kw`` columns, so the next row's first window follows ``kw + 1`` cycles
        later. ``row_period`` plays these rules window by window until the rows repeat.
        """
        Hp, Wp = padded_shape[:2]
        (kh, kw), (sh, sw) = kernel, stride
        Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
        return max(Hp * Wp, Ho * row_period(Wo, kw, sw, per_window, skid))

    def __init__(self, padded_shape, typ: IntType, kernel, stride, async_below: int = 0):
        self.g = g = RingGeometry(padded_shape, kernel, stride)
        self.async_below = async_below
        C = padded_shape[2]
        self.pw = C * typ.bits
        self.sink = endpoint(C, typ)
        self.source = endpoint(g.kh * g.kw * C, typ)
        # # #
        self.held = Signal(max=g.R + 1)          # complete rows in the ring, not yet released
        self.inc = Signal()                      # writer completes a row this cycle
        self.rel = Signal(max=max(g.tail, g.sh) + 1)  # rows the reader releases this cycle
        self.sync += self.held.eq(self.held + self.inc - self.rel)
        # reader position: column and the slot of the current output row's top row
        self.cx, self.rslot = Signal(max=max(g.Wp, 2)), Signal(max=max(g.RS, 2))
        write = self._writer()
        rdata, sync_ports = self._banks(write)
        self._reader(rdata, sync_ports)

    def _writer(self):
        """Stores one padded pixel a cycle while the ring has room; row slot ``s`` is bank
        ``s % kh`` at row ``s // kh`` of that bank."""
        g = self.g
        self.wx = wx = Signal(max=max(g.Wp, 2))
        self.wbank = wbank = Signal(max=max(g.K, 2))
        self.wbase = wbase = Signal(max=max(g.RS * g.Wp, 2))
        write = Signal()
        self.comb += [
            self.sink.ready.eq(self.held < g.R),
            write.eq(self.sink.valid & self.sink.ready),
            self.inc.eq(write & (wx == g.Wp - 1)),
        ]
        self.sync += If(write,
            If(wx == g.Wp - 1,
                wx.eq(0),
                If(wbank == g.K - 1,
                    wbank.eq(0),
                    wbase.eq(Mux(wbase == (g.RB - 1) * g.Wp, 0, wbase + g.Wp)),
                ).Else(wbank.eq(wbank + 1)),
            ).Else(wx.eq(wx + 1)))
        return write

    def _banks(self, write):
        """The ``kh`` one-write one-read memories; synchronous read ports (their addresses are
        driven by the reader), or asynchronous ones for a one-pixel-wide frame."""
        g = self.g
        rdata, sync_ports = [], []
        for b in range(g.K):
            mem = Memory(self.pw, max(g.RB * g.Wp, 2), name=f"ring{b}")
            wport = mem.get_port(write_capable=True)
            self.specials += mem, wport
            self.comb += [wport.adr.eq(self.wbase + self.wx), wport.dat_w.eq(self.sink.data),
                          wport.we.eq(write & (self.wbank == b))]
            if g.Wp > 1 and max(g.RB * g.Wp, 2) < self.async_below:
                # a shallow bank (distributed RAM): read asynchronously from the registered
                # address, the same data a cycle after the address is chosen as a synchronous
                # port gives (the reader never reads a pixel the writer is writing)
                rport = mem.get_port(async_read=True)
                sync_ports.append((b, rport, True))
            elif g.Wp > 1:
                rport = mem.get_port(mode=READ_FIRST)
                sync_ports.append((b, rport, False))
            else:
                base = Signal(max=max(g.RS * g.Wp, 2), name=f"base{b}")
                rport = mem.get_port(async_read=True)
                self.comb += base.eq(_table([g.slot_base(b, r) for r in range(g.RS)], self.rslot)), \
                    rport.adr.eq(base + self.cx)
            self.specials += rport
            rdata.append(rport.dat_r)
        return rdata, sync_ports

    def _reader(self, rdata, sync_ports):
        """Shifts one column (``kh`` pixels read in parallel) a cycle into the window registers
        once an output row's rows are in; hands on each finished window; releases rows after a
        row's last window; drives the synchronous read addresses from registers only."""
        g = self.g
        kh, kw, sh, sw, Ho, Wo, RS, K = g.kh, g.kw, g.sh, g.sw, g.Ho, g.Wo, g.RS, g.K
        held, rel, cx, rslot = self.held, self.rel, self.cx, self.rslot
        cx_n = Signal(max=max(g.Wp, 2))
        rslot_n = Signal(max=max(RS, 2))
        oy, ox = Signal(max=max(Ho, 2)), Signal(max=max(Wo, 2))
        need = Signal(max=max(kw, sw) + 1, reset=kw)  # columns to shift in before the next window
        pending = Signal()
        take = Signal()
        shift = Signal()
        row_done = Signal()
        rel_n = Mux(oy == Ho - 1, g.tail, sh)
        self.comb += [
            take.eq(pending & self.source.ready),
            row_done.eq(take & (ox == Wo - 1)),
            shift.eq((held >= kh) & ~(pending & ~take) & ~row_done & (need != 0) | (take & ~row_done)),
            rel.eq(0),
        ]
        col = []
        for ky in range(kh):
            bank = [(r + ky) % K for r in range(RS)]
            col.append(Array(rdata)[_table(bank, rslot)] if K > 1 else rdata[0])
        win = [[Signal(self.pw, name=f"win{r}_{c}", reset_less=True) for c in range(kw)] for r in range(kh)]
        for r in range(kh):
            for c in range(kw):
                self.sync += If(shift, win[r][c].eq(win[r][c + 1] if c + 1 < kw else col[r]))
        need_eff = Mux(take, sw, need)
        releasing = Signal()
        nslot = Signal(max=2 * RS + max(g.tail, sh) + 1)
        self.comb += nslot.eq(rslot + rel_n)
        waiting = Signal()                 # last window of a row taken; rows not all written yet
        self.comb += releasing.eq((row_done | waiting) & (held >= rel_n))
        self.comb += If(releasing, rel.eq(rel_n))
        # Synchronous read address = the next state's (slot base + column), from registers
        # only: the current address (a register copy), it plus one, or the base the next
        # release moves to (a table of the current slot), chosen by releasing / shift.
        for b, rport, registered in sync_ports:
            aw = len(rport.adr)
            cur = Signal(aw, name=f"adr{b}_cur", reset=g.slot_base(b, 0))
            after = Signal(aw, name=f"adr{b}_rel")
            nxt = Signal(aw, name=f"adr{b}_next")
            self.comb += [
                after.eq(Mux(oy == Ho - 1, _table([g.slot_base(b, (r + g.tail) % RS) for r in range(RS)], rslot),
                             _table([g.slot_base(b, (r + sh) % RS) for r in range(RS)], rslot))),
                If(releasing, nxt.eq(after)).Elif(shift, nxt.eq(cur + 1)).Else(nxt.eq(cur)),
                # synchronous port: the next address now, data next cycle; asynchronous
                # (registered): the next address into the register, data next cycle from it
                rport.adr.eq(cur if registered else nxt),
            ]
            self.sync += cur.eq(nxt)
        self.comb += [
            If(releasing, cx_n.eq(0)).Elif(shift, cx_n.eq(cx + 1)).Else(cx_n.eq(cx)),
            If(releasing, If(nslot >= RS, rslot_n.eq(nslot - RS)).Else(rslot_n.eq(nslot))
            ).Else(rslot_n.eq(rslot)),
        ]
        self.sync += [
            cx.eq(cx_n), rslot.eq(rslot_n),
            If(shift, need.eq(need_eff - 1)),
            If(take, ox.eq(ox + 1)),
            If(shift & (need_eff == 1), pending.eq(1)).Elif(take, pending.eq(0)),
            If(row_done & ~releasing, waiting.eq(1)).Elif(releasing, waiting.eq(0)),
            If(releasing,
                ox.eq(0), need.eq(kw),
                If(oy == Ho - 1, oy.eq(0)).Else(oy.eq(oy + 1)),
            ),
        ]
        self.submodules.count = count = PixelCounter(Ho * Wo, self.source.valid & self.source.ready)
        self.comb += [
            self.source.valid.eq(pending),
            self.source.data.eq(Cat(*[win[r][c] for r in range(kh) for c in range(kw)])),
            self.source.first.eq(count.first),
            self.source.last.eq(count.last),
        ]


@dataclass(frozen=True)
class ChunkPlan:
    """How a MAC array's steps read a window ``B`` channels of one pixel at a time (FINN's
    sliding-window generator with SIMD), so the window never exists as one wide word.

    Step ``(n, pos, c)`` of a window (output fold ``n``, kernel position ``pos = ky*kw + kx``,
    chunk ``c``; ``c`` innermost) reads channels ``[k*B, (k+1)*B)`` of pixel ``pos``, where the
    chunk index ``k`` is ``c`` for a dense convolution (``simd`` divides ``C_in``: ``B = simd``,
    ``C_in/simd`` chunks a position) and ``n`` for a depthwise one (``simd = 1``: ``B = pe``,
    lane ``l`` of fold ``n`` is channel ``n*pe + l``). The MAC array's weights follow the same
    order (``mac.lane_schedule``; ``mac.check_plan`` checks every step against it)."""
    kind: str          # "dense" or "depthwise"
    C: int             # input channels
    B: int             # elements a beat
    nch: int           # chunks a kernel position (the innermost counter)
    nf: int            # output folds
    kernel: tuple

    @property
    def words(self) -> int:
        """Ring words a pixel: ``C / B``."""
        return self.C // self.B

    @property
    def steps(self) -> int:
        """Beats (MAC steps) a window."""
        return self.nf * self.kernel[0] * self.kernel[1] * self.nch

    def chunk(self, n, c):
        """The chunk index of step ``(n, ., c)`` (ints, or signals in the generator)."""
        return c if self.kind == "dense" else n

    def beat_elements(self, n: int, pos: int, c: int) -> list:
        """The window elements (``(ky, kx, c)`` order) the beat of step ``(n, pos, c)`` carries."""
        base = pos * self.C + self.chunk(n, c) * self.B
        return [base + k for k in range(self.B)]

    def operand(self, lane: int, k: int) -> int:
        """The beat element that is operand ``k`` of lane ``lane``."""
        return k if self.kind == "dense" else lane


def chunk_plan(p) -> Optional[ChunkPlan]:
    """The ``ChunkPlan`` of convolution ``p``, or None when its steps do not read whole chunks
    of one pixel (``simd`` not dividing ``C_in``, grouped convolutions other than depthwise,
    a kernel covering the whole frame)."""
    if p.collects_frame:
        return None
    C = p.in_shape[2]
    if p.groups == 1 and C % p.simd == 0:
        return ChunkPlan("dense", C, p.simd, C // p.simd, p.nf, tuple(p.kernel))
    if p.groups == C and p.out_channels == C and p.simd == 1:
        return ChunkPlan("depthwise", C, p.pe, 1, p.nf, tuple(p.kernel))
    return None


class ChannelWindow(Module):
    """The sliding window handed on a chunk at a time (FINN's sliding-window generator with
    SIMD): a ring of ``R = 2*kh + sh - 1`` rows in ``kh`` banks like ``SlidingWindow``'s, but
    each bank word is one chunk of ``B`` channels of a pixel (``C/B`` words a pixel), and a
    reader that, for each window, issues the MAC array's ``nf * kh * kw * nch`` steps in order
    (``ChunkPlan``), one word, one beat, a cycle. No window register, no operand register in the
    MAC array, no wide multiplexer: the layer's logic scales with ``B``, not ``kh * kw * C``,
    and the ring is narrow and deep (block RAM). The window's pixels are read again for every
    step that needs them.

    The writer stores a pixel of the padded frame in ``C/B`` cycles, a chunk a cycle (it takes
    the next pixel as it writes the last chunk; padding is written a chunk at a time, never as a
    whole padded pixel). The reader starts an output row once ``max(kh, sh)`` of its rows
    are in the ring (the frame's last row: every row left in the frame, ``tail``) and releases
    them as it issues the row's last step, so it never waits at a row turn when the writer is
    ahead. A bank is read synchronously at the next step's address, or (a bank of one word a
    row: its reader may need a word in the cycle after it is written) asynchronously at the
    current step's; the beat is registered as it is issued.
    """

    @staticmethod
    def frame_cycles(padded_shape, kernel, stride, steps: int, chunks: int = 1) -> int:
        """Steady-state cycles per frame, frames back to back and the consumer always ready
        (the block tests check it with ``==``): ``_channel_period`` plays the writer's and the
        reader's rules row by row."""
        Hp, Wp = padded_shape[:2]
        return _channel_period(Hp, Wp, tuple(kernel), tuple(stride), steps, chunks)

    def __init__(self, in_shape, typ: IntType, kernel, stride, padding, plan: ChunkPlan, pad_value: int = 0):
        H, W, C = in_shape
        self.padding = tuple(padding)
        self.g = g = RingGeometry((H + 2 * padding[0], W + 2 * padding[1], C), kernel, stride)
        self.plan = plan
        assert C == plan.C and C % plan.B == 0, (C, plan)
        self.NK = plan.words
        self.bw = plan.B * typ.bits              # bits a word (a beat)
        raw = int(pad_value) & ((1 << typ.bits) - 1)
        self.pad_word = sum(raw << (i * typ.bits) for i in range(plan.B))
        self.in_hw = (H, W)
        self.sink = endpoint(C, typ)
        self.source = endpoint(plan.B, typ)
        # # #
        self.held = Signal(max=g.R + 1)          # complete rows in the ring, not yet released
        self.inc = Signal()                      # the writer completes a row this cycle
        self.rel = Signal(max=max(g.tail, g.sh) + 1)  # rows the reader releases this cycle
        self.sync += self.held.eq(self.held + self.inc - self.rel)
        write, wadr, wdata, wbank = self._writer()
        self._reader(write, wadr, wdata, wbank)

    def _writer(self):
        """One chunk of the padded frame a cycle while the ring has room (a padding pixel's
        chunks are the pad value, taking nothing from the sink); row slot ``s`` is bank
        ``s % kh`` at row ``s // kh`` of that bank; a row's words are consecutive:
        ``(slot row * Wp + x) * NK + k``."""
        g, NK = self.g, self.NK
        (H, W), (ph, pw) = self.in_hw, self.padding
        row_words = g.Wp * NK
        wk = Signal(max=max(NK, 2))              # the chunk of the pixel being written
        woff = Signal(max=max(row_words, 2))     # the word within the row
        wy, wx = Signal(max=max(g.Hp, 2)), Signal(max=max(g.Wp, 2))   # the padded pixel
        wbank = Signal(max=max(g.K, 2))
        wbase = Signal(max=max(g.RB * row_words, 2))
        write = Signal()
        last_word = woff == row_words - 1
        inside = Signal()
        self.comb += inside.eq(_in_range(wy, ph, ph + H, g.Hp) & _in_range(wx, pw, pw + W, g.Wp))
        self.comb += [
            write.eq((self.sink.valid | ~inside) & (self.held < g.R)),
            self.sink.ready.eq(inside & (self.held < g.R) & (wk == NK - 1)),
            self.inc.eq(write & last_word),
        ]
        self.sync += If(write,
            If(wk == NK - 1, wk.eq(0),
               If(wx == g.Wp - 1, wx.eq(0), If(wy == g.Hp - 1, wy.eq(0)).Else(wy.eq(wy + 1))).Else(wx.eq(wx + 1))
            ).Else(wk.eq(wk + 1)),
            If(last_word,
                woff.eq(0),
                If(wbank == g.K - 1,
                    wbank.eq(0),
                    wbase.eq(Mux(wbase == (g.RB - 1) * row_words, 0, wbase + row_words)),
                ).Else(wbank.eq(wbank + 1)),
            ).Else(woff.eq(woff + 1)))
        chunk = Signal(self.bw)
        self.comb += chunk.eq(Array([self.sink.data[i * self.bw:(i + 1) * self.bw] for i in range(NK)])[wk]
                              if NK > 1 else self.sink.data)
        wdata = Signal(self.bw)
        self.comb += wdata.eq(Mux(inside, chunk, self.pad_word) if (ph or pw) else chunk)
        wadr = Signal(max=max(g.RB * row_words, 2))
        self.comb += wadr.eq(wbase + woff)
        return write, wadr, wdata, wbank

    def _reader(self, write, wadr, wdata, wbank):
        g, plan, NK = self.g, self.plan, self.NK
        kh, kw, sh, sw, Ho, Wo, RS, K = g.kh, g.kw, g.sh, g.sw, g.Ho, g.Wo, g.RS, g.K
        NF, NCH = plan.nf, plan.nch
        held, rel = self.held, self.rel
        depth = max(g.RB * g.Wp * NK, 2)
        c, kx, ky = Signal(max=max(NCH, 2)), Signal(max=max(kw, 2)), Signal(max=max(kh, 2))
        n, ox, oy = Signal(max=max(NF, 2)), Signal(max=max(Wo, 2)), Signal(max=max(Ho, 2))
        col = Signal(max=max(g.Wp * NK, 2))     # the step's column, in words: (ox*sw + kx) * NK
        colbase = Signal(max=max(g.Wp * NK, 2))  # the window's first column, in words
        rslot = Signal(max=max(RS, 2))          # the slot of the output row's top row
        bsel = Signal(max=max(K, 2))            # the bank of window row ky: (rslot + ky) % K
        top = Signal(max=max(K, 2))             # the bank of window row 0: rslot % K
        last_c, last_kx, last_ky = c == NCH - 1, kx == kw - 1, ky == kh - 1
        last_n, last_ox, last_oy = n == NF - 1, ox == Wo - 1, oy == Ho - 1
        pos_end, win_end, row_end = Signal(), Signal(), Signal()
        self.comb += [pos_end.eq(last_c & last_kx & last_ky), win_end.eq(pos_end & last_n),
                      row_end.eq(win_end & last_ox)]
        # rows an output row needs in the ring before it starts; it releases sh (the last: tail)
        need_mid, rel_mid = max(kh, sh), sh
        can = Signal()
        self.comb += can.eq(Mux(last_oy, held >= g.tail, held >= need_mid))
        out_valid = Signal()
        en, issue = Signal(), Signal()
        self.comb += [
            en.eq(~out_valid | self.source.ready),
            issue.eq(en & can),
            If(issue & row_end, rel.eq(Mux(last_oy, g.tail, rel_mid))).Else(rel.eq(0)),
        ]
        # the next state, taken on issue
        c_n, kx_n, ky_n = Signal.like(c), Signal.like(kx), Signal.like(ky)
        n_n, ox_n, oy_n = Signal.like(n), Signal.like(ox), Signal.like(oy)
        colbase_n, col_n = Signal.like(colbase), Signal.like(col)
        rslot_n, bsel_n, top_n = Signal.like(rslot), Signal.like(bsel), Signal.like(top)
        nslot = Signal(max=2 * RS + max(g.tail, sh) + 1)
        self.comb += nslot.eq(rslot + Mux(last_oy, g.tail, rel_mid))
        top_rel = Signal.like(top)
        self.comb += top_rel.eq(Mux(last_oy, _table([(t + g.tail) % K for t in range(K)], top),
                                    _table([(t + rel_mid) % K for t in range(K)], top)))
        self.comb += [
            c_n.eq(c), kx_n.eq(kx), ky_n.eq(ky), n_n.eq(n), ox_n.eq(ox), oy_n.eq(oy),
            colbase_n.eq(colbase), col_n.eq(col), rslot_n.eq(rslot), bsel_n.eq(bsel), top_n.eq(top),
            If(issue,
                If(last_c, c_n.eq(0)).Else(c_n.eq(c + 1)),
                If(last_c,
                    If(last_kx, kx_n.eq(0), col_n.eq(colbase_n),
                       If(last_ky, ky_n.eq(0), bsel_n.eq(top_n)).Else(
                           ky_n.eq(ky + 1), bsel_n.eq(Mux(bsel == K - 1, 0, bsel + 1)))
                    ).Else(kx_n.eq(kx + 1), col_n.eq(col + NK))),
                If(pos_end, If(last_n, n_n.eq(0)).Else(n_n.eq(n + 1))),
                If(win_end, If(last_ox, ox_n.eq(0), colbase_n.eq(0)).Else(
                    ox_n.eq(ox + 1), colbase_n.eq(colbase + sw * NK))),
                If(row_end,
                    If(last_oy, oy_n.eq(0)).Else(oy_n.eq(oy + 1)),
                    If(nslot >= RS, rslot_n.eq(nslot - RS)).Else(rslot_n.eq(nslot)),
                    top_n.eq(top_rel)),
            ),
        ]
        self.sync += [c.eq(c_n), kx.eq(kx_n), ky.eq(ky_n), n.eq(n_n), ox.eq(ox_n), oy.eq(oy_n),
                      colbase.eq(colbase_n), col.eq(col_n), rslot.eq(rslot_n), bsel.eq(bsel_n),
                      top.eq(top_n)]
        # the banks: bank b's word for the output row at slot rslot, column col, chunk k; a
        # synchronous port gets the next state's address (its data is then the current state's)
        current = g.Wp * NK == 1
        chunk, chunk_n = plan.chunk(n, c), plan.chunk(n_n, c_n)
        rdata = []
        for b in range(K):
            mem = Memory(self.bw, depth, name=f"ring{b}")
            wport = mem.get_port(write_capable=True)
            rport = mem.get_port(async_read=True) if current else mem.get_port(mode=READ_FIRST)
            self.specials += mem, wport, rport
            self.comb += [wport.adr.eq(wadr), wport.dat_w.eq(wdata), wport.we.eq(write & (wbank == b))]
            bases = [g.slot_base(b, r) * NK for r in range(RS)]
            if current:
                self.comb += rport.adr.eq(_table(bases, rslot) + col + chunk)
            else:
                self.comb += rport.adr.eq(_table(bases, rslot_n) + col_n + chunk_n)
            rdata.append(rport.dat_r)
        beat = Signal(self.bw)
        self.comb += beat.eq(Array(rdata)[bsel] if K > 1 else rdata[0])
        data = Signal(self.bw, reset_less=True)
        first, last = Signal(), Signal()
        start = (oy == 0) & (ox == 0) & (n == 0) & (ky == 0) & (kx == 0) & (c == 0)
        self.sync += [
            If(issue, data.eq(beat), first.eq(start), last.eq(row_end & last_oy)),
            If(issue, out_valid.eq(1)).Elif(self.source.ready, out_valid.eq(0)),
        ]
        self.comb += [self.source.valid.eq(out_valid), self.source.data.eq(data),
                      self.source.first.eq(first), self.source.last.eq(last)]


@lru_cache(maxsize=4096)
def _channel_period(Hp: int, Wp: int, kernel: tuple, stride: tuple, steps: int, chunks: int) -> int:
    """``ChannelWindow``'s steady-state frame period, from its rules row by row (edges counted
    from the first pixel written at edge 0, the input always valid, the consumer always ready):

    * the writer writes one chunk an edge (``chunks`` a pixel) while fewer than ``R`` complete
      rows are held, so input row ``j`` may start once ``j - R + 1`` rows are released (the edge
      after the release);
    * output row ``i`` starts the edge after both its last needed row is complete and the
      previous row's last step, and issues its ``Wo * steps`` steps on consecutive edges,
      releasing its rows with the last.
    """
    (kh, kw), (sh, sw) = kernel, stride
    Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
    R = 2 * kh + sh - 1
    tail = Hp - (Ho - 1) * sh
    S = Wo * steps
    W = []            # edge writing input row j's last pixel
    rel = []          # (rows released in all, edge) after each output row
    ends = []
    last = -1

    def written(j):
        while len(W) <= j:
            jj = len(W)
            start = W[-1] + 1 if W else 0
            if jj - R + 1 > 0:
                start = max(start, next(e + 1 for rc, e in rel if rc >= jj - R + 1))
            W.append(start + Wp * chunks - 1)
        return W[j]

    frames = 0
    while True:
        f = frames
        for oy in range(Ho):
            first_row = f * Hp + oy * sh
            lastrow = oy == Ho - 1
            a = first_row + (tail if lastrow else max(kh, sh)) - 1
            last = max(last + 1, written(a) + 1) + S - 1
            rel.append(((f + 1) * Hp if lastrow else first_row + sh, last))
        ends.append(last)
        frames += 1
        if frames >= 4 and ends[-1] - ends[-2] == ends[-2] - ends[-3]:
            return ends[-1] - ends[-2]
        if frames >= 12:
            return max(ends[-1] - ends[-2], ends[-2] - ends[-3])


class LineWindow(Module):
    """The video-rate window generator: ``kh - 1`` line buffers and a ``kh x kw`` window
    register, for stride 1 and padding at most half the kernel (``'same'`` or less). The input
    is the *unpadded* ``(H, W, C)`` frame; padding is a mask on the window, so it costs no
    cycles, and a row turn costs none either: one pixel is taken and one window position
    produced a cycle, with no gaps.

    Each step shifts the column of pixel ``(y, x)`` (the line buffers' ``kh - 1`` rows above it
    and the pixel) into the window register. Window positions run ``D = (kh-1-ph)*W + (kw-1-pw)``
    steps behind the input in row-major order over the ``W``-wide grid: a window whose right
    columns fall in the right padding is completed by the next row's first pixels (masked out),
    and the bottom rows of frame ``k`` by the first ``D`` pixels of frame ``k+1``, so frames
    back to back take ``H*W`` cycles each. After a frame's last pixel, if the next frame's first
    pixel is not there, ``D`` virtual steps (no input taken) finish the frame: a single frame's
    latency is ``H*W + D`` plus the consumer's. Positions outside the ``Ho x Wo`` output (narrower
    padding) are stepped over without a window.

    The line buffers are one memory ``W`` deep, ``(kh - 1)`` pixels wide (block RAM), read
    synchronously at the next step's column. A window beat carries elements in ``(ky, kx, c)``
    order, padding as zeros.
    """

    @staticmethod
    def applies(in_shape, kernel, stride, padding) -> bool:
        """Whether this generator can serve the window: stride 1, padding at most half the
        kernel, a frame at least as wide and high as the kernel and not a single column."""
        H, W = in_shape[:2]
        (kh, kw), (ph, pw) = kernel, padding
        return (tuple(stride) == (1, 1) and 2 * ph <= kh - 1 and 2 * pw <= kw - 1 and W >= max(kw, 2)
                and H >= kh and (kh, kw) != (H + 2 * ph, W + 2 * pw))

    @staticmethod
    def lag(in_shape, kernel, padding) -> int:
        """Steps a window position runs behind the input (``D``)."""
        W = in_shape[1]
        (kh, kw), (ph, pw) = kernel, padding
        return (kh - 1 - ph) * W + (kw - 1 - pw)

    def __init__(self, in_shape, typ: IntType, kernel, padding):
        H, W, C = in_shape
        (kh, kw), (ph, pw) = kernel, padding
        assert LineWindow.applies(in_shape, kernel, (1, 1), padding)
        Ho, Wo = H + 2 * ph - kh + 1, W + 2 * pw - kw + 1
        D = LineWindow.lag(in_shape, kernel, padding)
        pwid = C * typ.bits
        self.sink = endpoint(C, typ)
        self.source = endpoint(kh * kw * C, typ)
        # # #
        # input position (y, x) of the next real pixel; sx: the column of the next step (real or
        # virtual); lag: steps the window position runs behind (D once a frame is under way);
        # (ey, ex): the window position the next step completes, once lag == D
        y, x = Signal(max=max(H, 2)), Signal(max=max(W, 2))
        sx, sx_n = Signal(max=max(W, 2)), Signal(max=max(W, 2))
        lagc = Signal(max=max(D + 1, 2))
        ey, ex = Signal(max=max(H, 2)), Signal(max=max(W, 2))
        flushing = Signal()
        step, real, virt, emit = Signal(), Signal(), Signal(), Signal()
        out_free = Signal()
        frame_start = (y == 0) & (x == 0)
        self.comb += [
            out_free.eq(~self.source.valid | self.source.ready),
            virt.eq(out_free & (lagc != 0) & (flushing | (~self.sink.valid & frame_start))),
            self.sink.ready.eq(out_free & ~flushing),
            real.eq(self.sink.valid & self.sink.ready),
            step.eq(real | virt),
            emit.eq((real & (lagc == D) | virt) & (ey < Ho) & (ex < Wo)),
        ]
        last_step_of_flush = virt & (lagc == 1)
        self.comb += If(last_step_of_flush, sx_n.eq(0)
                        ).Elif(step, If(sx == W - 1, sx_n.eq(0)).Else(sx_n.eq(sx + 1))
                        ).Else(sx_n.eq(sx))
        self.sync += [
            sx.eq(sx_n),
            If(real, If(x == W - 1, x.eq(0), If(y == H - 1, y.eq(0)).Else(y.eq(y + 1))).Else(x.eq(x + 1))),
            If(real & (lagc != D), lagc.eq(lagc + 1)).Elif(virt, lagc.eq(lagc - 1)),
            If(virt & (lagc != 1), flushing.eq(1)).Elif(last_step_of_flush, flushing.eq(0)),
            # the window position advances on every step once the frame is under way
            If(step & (lagc == D) | virt,
                If(ex == W - 1, ex.eq(0), If(ey == H - 1, ey.eq(0)).Else(ey.eq(ey + 1))).Else(ex.eq(ex + 1))),
        ]
        # the pixel this step shifts in (a virtual step's is never shown: masked)
        px = Signal(pwid)
        self.comb += If(real, px.eq(self.sink.data))
        # line buffers: word at column c = the kh-1 rows above, most recent first
        col = [None] * kh
        col[kh - 1] = px
        if kh > 1:
            lw = (kh - 1) * pwid
            mem = Memory(lw, W, name="lines")
            wp = mem.get_port(write_capable=True)
            rp = mem.get_port(mode=READ_FIRST)
            self.specials += mem, wp, rp
            old = [rp.dat_r[i * pwid:(i + 1) * pwid] for i in range(kh - 1)]
            for i in range(kh - 1):
                col[kh - 2 - i] = old[i]
            self.comb += [
                rp.adr.eq(sx_n),
                wp.adr.eq(sx), wp.we.eq(step),
                wp.dat_w.eq(Cat(px, *old[:kh - 2])),
            ]
        win = [[Signal(pwid, name=f"lw{r}_{c}", reset_less=True) for c in range(kw)] for r in range(kh)]
        nxt = [[win[r][c + 1] if c + 1 < kw else col[r] for c in range(kw)] for r in range(kh)]
        for r in range(kh):
            self.sync += If(step, *[win[r][c].eq(nxt[r][c]) for c in range(kw)])
        # masks: window row ky is input row ey - ph + ky, column kx input column ex - pw + kx;
        # compared with constants (a sum like ey + ky would wrap at the counter's width in
        # Verilog, where Migen's simulator does not)
        row_ok = [_in_range(ey, ph - ky, H + ph - ky, H) for ky in range(kh)]
        col_ok = [_in_range(ex, pw - kx, W + pw - kx, W) for kx in range(kw)]
        data = Signal(kh * kw * pwid)
        self.comb += data.eq(Cat(*[Mux(row_ok[r] & col_ok[c], nxt[r][c], 0) for r in range(kh) for c in range(kw)]))
        self.submodules.count = count = PixelCounter(Ho * Wo, emit)
        self.sync += [
            If(emit, self.source.valid.eq(1), self.source.data.eq(data),
               self.source.first.eq(count.first), self.source.last.eq(count.last)
            ).Elif(self.source.ready, self.source.valid.eq(0)),
        ]


class RingGeometry:
    """The sliding window's ring: ``R = 2*kh + sh - 1`` rows in ``K = kh`` banks of ``RB`` row
    slots each; bank ``b`` holds, for the output row starting at slot ``r``, window row
    ``(b - r) % K`` at base address ``slot_base(b, r)``; window row ``ky`` reads bank ``(r+ky) % K``."""

    def __init__(self, padded_shape, kernel, stride):
        self.Hp, self.Wp = padded_shape[:2]
        (self.kh, self.kw), (self.sh, self.sw) = kernel, stride
        self.Ho, self.Wo = (self.Hp - self.kh) // self.sh + 1, (self.Wp - self.kw) // self.sw + 1
        self.R = ring_rows(kernel, stride)        # capacity in rows
        self.K = self.kh                          # banks
        self.RB = -(-self.R // self.K)            # row slots per bank
        self.RS = self.K * self.RB                # row slots in the ring (>= R)
        self.tail = self.Hp - (self.Ho - 1) * self.sh  # rows released after a frame's last output row

    def slot_base(self, b: int, r: int) -> int:
        return ((r + (b - r) % self.K) % self.RS // self.K) * self.Wp


class FrameCollector(Module):
    """The window generator for a kernel that covers the whole padded frame (a linear layer):
    a shift register of the frame's ``Hp * Wp`` pixels, handed on as one window per frame.
    It takes the next frame's first pixel in the cycle its window is taken."""

    def __init__(self, padded_shape, typ: IntType):
        Hp, Wp, C = padded_shape
        n = Hp * Wp
        pw = C * typ.bits
        self.sink = endpoint(C, typ)
        self.source = endpoint(n * C, typ)
        # # #
        regs = [Signal(pw, name=f"px{i}", reset_less=True) for i in range(n)]
        full = Signal()
        accept = Signal()
        self.submodules.count = count = PixelCounter(n, accept)
        self.comb += [
            self.sink.ready.eq(~full | self.source.ready),
            accept.eq(self.sink.valid & self.sink.ready),
            self.source.valid.eq(full),
            self.source.data.eq(Cat(*regs)),
            self.source.first.eq(1),
            self.source.last.eq(1),
        ]
        self.sync += [
            If(accept, *[regs[i].eq(regs[i + 1]) for i in range(n - 1)], regs[n - 1].eq(self.sink.data)),
            If(accept & count.last, full.eq(1)).Elif(self.source.ready, full.eq(0)),
        ]


def window_generator(padded_shape, typ: IntType, kernel, stride):
    """The window source for a windowed block: a frame collector when the kernel covers the
    whole padded frame, else the sliding window."""
    if tuple(kernel) == tuple(padded_shape[:2]):
        return FrameCollector(padded_shape, typ)
    return SlidingWindow(padded_shape, typ, kernel, stride)


@lru_cache(maxsize=4096)
def row_period(Wo: int, kw: int, sw: int, per_window: int, skid: bool) -> int:
    """Steady-state cycles per output row of the window reader and its consumer (rows always
    available), from the reader's rules, window by window:

    * a window is ready ``sw`` cycles after the previous one left the reader (the take itself
      shifts the first column), or ``kw + 1`` cycles after a row's last window;
    * the consumer takes a window at the earliest ``per_window`` cycles after the previous one;
    * without a skid buffer a window leaves the reader when the consumer takes it; with one it
      leaves as soon as the buffer is empty (a buffered window frees it the cycle after the
      consumer takes it), and passes straight through when the consumer is ready.
    """
    P = per_window
    t_in = t_mac = -(10 ** 9)             # previous window: left the reader / taken by the consumer
    buffered = False                       # the previous window waited in the skid buffer
    starts, periods = [], []
    for row in range(12):
        for k in range(Wo):
            ready = t_in + (kw + 1 if k == 0 else sw)
            if skid:
                free = t_mac + 1 if buffered else t_in + 1
                t_in_k = max(ready, free)
                t_mac_k = max(t_in_k, t_mac + P)
                buffered = t_mac_k > t_in_k
            else:
                t_in_k = t_mac_k = max(ready, t_mac + P)
            if k == 0:
                starts.append(t_mac_k)
            t_in, t_mac = t_in_k, t_mac_k
        if len(starts) >= 3:
            periods.append(starts[-1] - starts[-2])
            if len(periods) >= 3 and periods[-1] == periods[-2] == periods[-3]:
                return periods[-1]
    return max(periods[-2:])


def _in_range(v, lo: int, hi: int, n: int):
    """``lo <= v < hi`` for a counter ``v`` in ``[0, n)``, comparing ``v`` with constants only
    (a bound the counter always meets is left out)."""
    terms = []
    if lo > 0:
        terms.append(v >= lo)
    if hi < n:
        terms.append(v < max(hi, 0))
    if not terms:
        return Constant(1, 1)
    return terms[0] & terms[1] if len(terms) == 2 else terms[0]


def _table(values, index):
    """``values[index]`` for a list of small non-negative ints."""
    if len(set(values)) == 1:
        return Constant(values[0], max(bits_for(values[0]), 1))
    w = max(bits_for(max(values)), 1)
    return Array([Constant(v, w) for v in values])[index]


def ring_rows(kernel, stride) -> int:
    """Rows of buffering the window generator holds: ``2*kh + sh - 1``."""
    return 2 * kernel[0] + stride[0] - 1

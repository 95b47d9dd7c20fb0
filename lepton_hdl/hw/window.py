"""Padding and the sliding-window generator (line buffers + window registers)."""
from __future__ import annotations

from migen import Array, Cat, Constant, If, Memory, Module, Mux, Signal

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

    A writer stores incoming rows in ``R = 2*kh + sh - 1`` row buffers (one memory of ``Wp``
    pixels each, used as a ring) at one pixel a cycle. A reader, once the ``kh`` rows of an
    output row are complete, shifts one column (``kh`` pixels read in parallel) a cycle into
    a ``kh x kw`` window register and hands each finished window to the consumer. The ring
    lets the writer run a whole output row (and the next frame's first rows) ahead of the
    reader, so a slow consumer never starves for lack of input buffering. A window beat
    carries elements in ``(ky, kx, c)`` order.
    """

    def __init__(self, padded_shape, typ: IntType, kernel, stride):
        Hp, Wp, C = padded_shape
        kh, kw = kernel
        sh, sw = stride
        Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
        R = ring_rows(kernel, stride)
        tail = Hp - (Ho - 1) * sh           # rows released after a frame's last output row
        pw = C * typ.bits
        self.sink = endpoint(C, typ)
        self.source = endpoint(kh * kw * C, typ)
        # # #
        held = Signal(max=R + 1)           # complete rows in the ring, not yet released
        inc = Signal()                     # writer completes a row this cycle
        rel = Signal(max=max(tail, sh) + 1)  # rows the reader releases this cycle
        self.sync += held.eq(held + inc - rel)

        # Writer.
        wx, wslot = Signal(max=max(Wp, 2)), Signal(max=max(R, 2))
        write = Signal()
        self.comb += [
            self.sink.ready.eq(held < R),
            write.eq(self.sink.valid & self.sink.ready),
            inc.eq(write & (wx == Wp - 1)),
        ]
        self.sync += If(write,
            If(wx == Wp - 1, wx.eq(0), wslot.eq(Mux(wslot == R - 1, 0, wslot + 1))).Else(wx.eq(wx + 1)))

        # Ring of row memories.
        cx = Signal(max=max(Wp, 2))        # reader's column
        rdata = []
        for i in range(R):
            mem = Memory(pw, max(Wp, 2), name=f"row{i}")
            wport = mem.get_port(write_capable=True)
            rport = mem.get_port(async_read=True)
            self.specials += mem, wport, rport
            self.comb += [wport.adr.eq(wx), wport.dat_w.eq(self.sink.data),
                          wport.we.eq(write & (wslot == i)), rport.adr.eq(cx)]
            rdata.append(rport.dat_r)

        # Reader.
        rslot = Signal(max=max(R, 2))      # slot of the current output row's top row
        oy, ox = Signal(max=max(Ho, 2)), Signal(max=max(Wo, 2))
        need = Signal(max=max(kw, sw) + 1, reset=kw)  # columns to shift in before the next window
        pending = Signal()
        take = Signal()
        shift = Signal()
        row_done = Signal()
        rel_n = Mux(oy == Ho - 1, tail, sh)
        self.comb += [
            take.eq(pending & self.source.ready),
            row_done.eq(take & (ox == Wo - 1)),
            shift.eq((held >= kh) & ~(pending & ~take) & ~row_done & (need != 0) | (take & ~row_done)),
            rel.eq(0),
        ]
        col = []
        for ky in range(kh):
            sel = Signal(max=max(R, 2), name=f"sel{ky}")
            s = Signal(max=2 * R + kh, name=f"slot{ky}")   # explicit width: no Verilog wrap
            self.comb += s.eq(rslot + ky), If(s >= R, sel.eq(s - R)).Else(sel.eq(s))
            col.append(Array(rdata)[sel])
        win = [[Signal(pw, name=f"win{r}_{c}") for c in range(kw)] for r in range(kh)]
        for r in range(kh):
            for c in range(kw):
                self.sync += If(shift, win[r][c].eq(win[r][c + 1] if c + 1 < kw else col[r]))
        need_eff = Mux(take, sw, need)
        releasing = Signal()
        nslot = Signal(max=2 * R + max(tail, sh) + 1)
        self.comb += nslot.eq(rslot + rel_n)
        waiting = Signal()                 # last window of a row taken; rows not all written yet
        self.comb += releasing.eq((row_done | waiting) & (held >= rel_n))
        self.comb += If(releasing, rel.eq(rel_n))
        self.sync += [
            If(shift, cx.eq(cx + 1), need.eq(need_eff - 1)),
            If(take, ox.eq(ox + 1)),
            If(shift & (need_eff == 1), pending.eq(1)).Elif(take, pending.eq(0)),
            If(row_done & ~releasing, waiting.eq(1)).Elif(releasing, waiting.eq(0)),
            If(releasing,
                cx.eq(0), ox.eq(0), need.eq(kw),
                If(oy == Ho - 1, oy.eq(0)).Else(oy.eq(oy + 1)),
                If(nslot >= R, rslot.eq(nslot - R)).Else(rslot.eq(nslot)),
            ),
        ]

        self.submodules.count = count = PixelCounter(Ho * Wo, self.source.valid & self.source.ready)
        self.comb += [
            self.source.valid.eq(pending),
            self.source.data.eq(Cat(*[win[r][c] for r in range(kh) for c in range(kw)])),
            self.source.first.eq(count.first),
            self.source.last.eq(count.last),
        ]


def ring_rows(kernel, stride) -> int:
    """Rows of buffering the window generator holds: ``2*kh + sh - 1``."""
    return 2 * kernel[0] + stride[0] - 1

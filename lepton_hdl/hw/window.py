"""Padding and the sliding-window generator (line buffers + window registers)."""
from __future__ import annotations

from migen import Array, Cat, Constant, If, Memory, Module, Signal

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
        word = Cat(*[Constant(pad_value, (typ.bits, typ.signed))[:typ.bits] for _ in range(C)])
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

    ``kh - 1`` line buffers (one memory of ``Wp`` pixels each) hold the rows above; a ``kh x
    kw`` register array holds the current window. A window beat carries elements in
    ``(ky, kx, c)`` order. The input advances one pixel a cycle except while a finished window
    waits for the consumer.
    """

    def __init__(self, padded_shape, typ: IntType, kernel, stride):
        Hp, Wp, C = padded_shape
        kh, kw = kernel
        sh, sw = stride
        Ho, Wo = (Hp - kh) // sh + 1, (Wp - kw) // sw + 1
        pw = C * typ.bits
        self.sink = endpoint(C, typ)
        self.source = endpoint(kh * kw * C, typ)
        # # #
        y, x = Signal(max=max(Hp, 2)), Signal(max=max(Wp, 2))
        accept = Signal()
        pending = Signal()
        self.comb += [
            self.sink.ready.eq(~pending | self.source.ready),
            accept.eq(self.sink.valid & self.sink.ready),
        ]
        self.sync += If(accept,
            If(x == Wp - 1,
                x.eq(0),
                If(y == Hp - 1, y.eq(0)).Else(y.eq(y + 1)),
            ).Else(x.eq(x + 1)))

        # Line buffers: lb[0] holds the previous row, lb[i] the row i+1 above.
        col = [None] * kh
        col[kh - 1] = self.sink.data
        prev = self.sink.data
        for i in range(kh - 1):
            mem = Memory(pw, Wp, name=f"linebuf{i}")
            port = mem.get_port(write_capable=True, async_read=True)
            self.specials += mem, port
            self.comb += [port.adr.eq(x), port.dat_w.eq(prev), port.we.eq(accept)]
            col[kh - 2 - i] = port.dat_r
            prev = port.dat_r

        # Window registers, shifted left by one column per accepted pixel.
        win = [[Signal(pw, name=f"win{r}_{c}") for c in range(kw)] for r in range(kh)]
        for r in range(kh):
            for c in range(kw):
                nxt = win[r][c + 1] if c + 1 < kw else col[r]
                self.sync += If(accept, win[r][c].eq(nxt))

        def mask(n, k, s):
            return Array([Constant(int(i >= k - 1 and (i - k + 1) % s == 0), 1) for i in range(n)])
        row_ok, col_ok = mask(Hp, kh, sh)[y], mask(Wp, kw, sw)[x]
        self.sync += If(accept & row_ok & col_ok, pending.eq(1)).Elif(self.source.ready, pending.eq(0))

        self.submodules.count = count = PixelCounter(Ho * Wo, self.source.valid & self.source.ready)
        self.comb += [
            self.source.valid.eq(pending),
            self.source.data.eq(Cat(*[win[r][c] for r in range(kh) for c in range(kw)])),
            self.source.first.eq(count.first),
            self.source.last.eq(count.last),
        ]

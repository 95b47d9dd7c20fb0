"""The MAC array: ``pe`` output channels x ``simd`` products per cycle, then requant."""
from __future__ import annotations

from migen import Case, Cat, If, Memory, Module, Mux, READ_FIRST, Signal
from migen.fhdl.bitcontainer import value_bits_sign

from ..arith import IntType, MULT_BITS
from .common import (PixelCounter, adder_tree, const_signal, const_table, delay, endpoint, multiply, pack,
                     round_clamp, signed_bits_for, unpack)
from .options import HwOptions, RequantSplit


# A weight ROM of at least this many words is a block-RAM memory; shorter ones are logic.
ROM_MIN_DEPTH = 16


def lane_schedule(p):
    """For each lane, the window-element indices it reads at each step ``nf * sf_total + sf``.

    A window holds elements in ``(ky, kx, c)`` order; output channel ``o`` of group ``g``
    reads channels ``g * C_in/groups ...`` of every kernel position.
    """
    kh, kw = p.kernel
    C = p.in_shape[2]
    cig, cog = C // p.groups, p.out_channels // p.groups
    tables = []
    for lane in range(p.pe):
        table = []
        for nf in range(p.nf):
            o = nf * p.pe + lane
            g = o // cog
            vec = [(ky * kw + kx) * C + g * cig + j
                   for ky in range(kh) for kx in range(kw) for j in range(cig)]
            for sf in range(p.sf):
                table.append(tuple(vec[sf * p.simd:(sf + 1) * p.simd]))
        tables.append(table)
    return tables


def weight_words(p):
    """ROM contents: one word per step, ``pe * simd`` weights, lane-major."""
    w = p.weight.reshape(p.out_channels, -1)
    words = []
    for nf in range(p.nf):
        for sf in range(p.sf):
            word = 0
            for lane in range(p.pe):
                for k in range(p.simd):
                    v = int(w[nf * p.pe + lane, sf * p.simd + k]) & ((1 << p.w_bits) - 1)
                    word |= v << ((lane * p.simd + k) * p.w_bits)
            words.append(word)
    return words


def _words(values, bits: int, per_word: int) -> list:
    """Pack ``values`` ``per_word`` to a word, LSB-first, two's complement ``bits`` each."""
    mask = (1 << bits) - 1
    out = []
    for i in range(0, len(values), per_word):
        w = 0
        for k, v in enumerate(values[i:i + per_word]):
            w |= (int(v) & mask) << (k * bits)
        out.append(w)
    return out


def runtime_memories(p) -> list:
    """Weights in RAM: the layer's parameter memories in load order, ``[(name, width, words)]``
    (at least two words each): the weight words of every step, then per output-channel fold
    the ``pe`` biases (accumulator width) and the ``pe`` requant multipliers."""
    pad = lambda ws: ws + [0] * (2 - len(ws)) if len(ws) < 2 else ws  # noqa: E731
    mults = p.requant.channel_mult(p.out_shape[2])
    return [("weights", p.pe * p.simd * p.w_bits, pad(weight_words(p))),
            ("bias", p.pe * p.acc_bits, pad(_words(p.bias, p.acc_bits, p.pe))),
            ("mult", p.pe * MULT_BITS, pad(_words(mults, MULT_BITS, p.pe)))]


def check_plan(p, plan) -> None:
    """A ``ChunkPlan``'s beats carry, step by step, exactly the elements ``lane_schedule``
    gives each lane (the weights' order): a plan that disagreed would be silently wrong."""
    kh, kw = p.kernel
    tables = lane_schedule(p)
    s = 0
    for n in range(plan.nf):
        for pos in range(kh * kw):
            for c in range(plan.nch):
                beat = plan.beat_elements(n, pos, c)
                for lane in range(p.pe):
                    got = tuple(beat[plan.operand(lane, k)] for k in range(p.simd))
                    assert tables[lane][s] == got, (p.name, lane, s, tables[lane][s], got)
                s += 1
    assert s == p.nf * p.sf, (p.name, s, p.nf, p.sf)


class MACArray(Module):
    """Consumes windows, produces output pixels.

    For each window it steps through ``nf`` output-channel folds x ``sf`` input folds; each
    step multiplies ``simd`` window elements by ``simd`` weights in each of ``pe`` lanes.
    With ``serial`` (a kernel covering the whole padded frame: a linear layer) it consumes
    pixels instead and collects the frame in its operand register, one frame at a time.
    Pipeline (all stages stall together on ``ce``): issue -> operands/ROM -> register -> products ->
    adder tree (two stages for more than ``2**TREE_LEVELS`` products a lane) -> accumulate ->
    requant multiply -> round/clamp into the output pixel.
    """
    LATENCY = 8          # registers from the operand register to the output pixel (one-stage tree)
    # adder levels one stage of a lane's tree holds: a lane of more products is summed over two
    # stages, the levels split evenly (measured: conv2 of digits, 72 products a lane summed in
    # one cycle, was the accelerator's critical path on ECP5, 10.3 ns)
    TREE_LEVELS = 3

    @classmethod
    def tree_split(cls, simd: int) -> int:
        """Products per first-stage group of a lane's adder tree; 0: a single-stage tree."""
        levels = max(simd - 1, 0).bit_length()
        return 0 if levels <= cls.TREE_LEVELS else 1 << ((levels + 1) // 2)

    @classmethod
    def latency_of(cls, p) -> int:
        """Registers from the operand register to the output pixel for layer ``p``."""
        return cls.LATENCY + (1 if cls.tree_split(p.simd) else 0)

    @staticmethod
    def serial_cycles(frame_pixels: int, steps: int) -> int:
        """Cycles per frame in ``serial`` mode: the frame's pixels shift in one a cycle, the last
        one completes the operand register, then the steps run (the first overlaps it)."""
        return frame_pixels + steps - 1

    def __init__(self, p, opts: HwOptions = HwOptions(), serial: bool = False, plan=None):
        kh, kw = p.kernel
        C = p.in_shape[2]
        cout = p.out_shape[2]
        # serial: the kernel covers the whole padded frame (a linear layer); the sink takes
        # pixels and the operand register collects the frame itself (no window generator).
        # plan (a window.ChunkPlan): the sink takes one beat a step from a ChannelWindow, in
        # step order, and there is no operand register at all
        if plan is not None:
            self.sink = endpoint(plan.B, p.in_type)
        else:
            self.sink = endpoint(C, p.in_type) if serial else endpoint(kh * kw * C, p.in_type)
        self.source = endpoint(cout, p.out_type)
        # # #
        self.p = p
        self.plan = plan
        if plan is not None:
            check_plan(p, plan)
        # weights in RAM: [(name, write port, width, depth)] of the parameter memories, in the
        # order ``runtime_memories`` lists their contents
        self.param_ports = []
        self.ce = Signal()
        self.out_valid = Signal()
        self.comb += self.ce.eq(~self.out_valid | self.source.ready)
        rotate = opts.rotate and p.groups == 1 and p.sf > 1 and plan is None
        ctl = self._issue(serial, rotate)
        x1, w1, ctl1 = self._operands(ctl, rotate)
        # 1b: operands and weights registered once more, so a block-RAM ROM's output (several ns
        # clock-to-out on ECP5) never feeds a multiplier in the same cycle
        (x1b, w1b), ctl1b = self._register((x1, w1), ctl1, "1b")
        prods, ctl2 = self._register(self._products(x1b, w1b), ctl1b, "2")
        g = self.tree_split(p.simd)
        if g:
            # 3a: sums of groups of g products; 3: the lane's sum of the group sums
            part, ctl2 = self._register([[adder_tree(lane[i:i + g]) for i in range(0, len(lane), g)]
                                         for lane in prods], ctl2, "3a")
            prods = part
        psum, ctl3 = self._register([adder_tree(lane) for lane in prods], ctl2, "3", bits=p.acc_bits)
        acc, ctl4 = self._accumulate(psum, ctl2, ctl3)
        mul, ctl5 = self._requant_multiply(acc, ctl3, ctl4, opts.requant)
        self._output(mul, ctl5)
        self.latency = self.latency_of(p)

    # -- the parts, in pipeline order -------------------------------------------------------
    def _issue(self, serial: bool, rotate: bool) -> dict:
        """The operand register holds one window (or collects a frame, ``serial``) while its
        ``nf * sf`` steps are issued; returns the issue-stage control bundle."""
        p, ce = self.p, self.ce
        NF, SF, steps = p.nf, p.sf, p.nf * p.sf
        kh, kw = p.kernel
        if self.plan is not None:
            # beats in step order: a step issues whenever a beat is there and the pipe moves
            opr_valid = self.sink.valid
        else:
            self.opr = opr = Signal(kh * kw * p.in_shape[2] * p.in_type.bits, reset_less=True)
            opr_valid = Signal()
        self.step = step = Signal(max=max(steps, 2))
        nf, sf = Signal(max=max(NF, 2)), Signal(max=max(SF, 2))
        issue = Signal()
        last_step = Signal(reset=int(steps == 1))
        self.comb += [
            issue.eq(ce & opr_valid),
            self.sink.ready.eq(ce if self.plan is not None else ~opr_valid | (issue & last_step)),
        ]
        # last_step is a register (a compare of the step counter in front of the operand
        # register's load enable, which fans out to every operand bit, was the critical path)
        self.sync += If(issue, last_step.eq((step == steps - 2) if steps > 1 else 1))
        self.sync += If(issue,
            If(last_step, step.eq(0), nf.eq(0), sf.eq(0)).Else(
                step.eq(step + 1),
                If(sf == SF - 1, sf.eq(0), nf.eq(nf + 1)).Else(sf.eq(sf + 1))))
        ctl = dict(v=issue, first=sf == 0, last=sf == SF - 1, nf=nf, sf=sf)
        if self.plan is not None:
            return ctl                    # beats in step order: no operand register to load
        load = Signal()
        self.comb += load.eq(self.sink.valid & self.sink.ready)
        if serial:
            # pixels shift in (raster order = window order); the frame's last one completes it
            pw = len(self.sink.data)
            n_px = len(opr) // pw
            self.submodules.loadc = loadc = PixelCounter(n_px, load)
            self.sync += [
                If(load, opr.eq(Cat(opr[pw:], self.sink.data) if n_px > 1 else self.sink.data)),
                If(load & loadc.last, opr_valid.eq(1)).Elif(issue & last_step, opr_valid.eq(0)),
            ]
        else:
            self.sync += If(load, opr.eq(self.sink.data), opr_valid.eq(1)).Elif(issue & last_step, opr_valid.eq(0))
        if rotate:
            s_ = p.simd * p.in_type.bits
            self.sync += If(issue & ~load, opr.eq(Cat(opr[s_:], opr[:s_])))
        return ctl

    def _operands(self, ctl: dict, rotate: bool):
        """Stage 1: each lane's ``simd`` operands selected from the operand register (lanes
        reading the same elements share one multiplexer), and the step's weight word."""
        p, ce, it = self.p, self.ce, self.p.in_type
        PE, SIMD, SF, steps = p.pe, p.simd, p.sf, p.nf * p.sf
        kh, kw = p.kernel
        if self.plan is not None:
            # each lane's operands are fixed elements of the beat (dense: the whole beat,
            # shared by every lane; depthwise: element ``lane``), registered once each
            beat = unpack(self, self.sink.data, self.plan.B, it, name="beat")
            regs = {}
            x1 = []
            for l in range(PE):
                lane = []
                for k in range(SIMD):
                    e = self.plan.operand(l, k)
                    if e not in regs:
                        regs[e] = Signal((it.bits, it.signed), name=f"x1_{e}", reset_less=True)
                        self.sync += If(ce, regs[e].eq(beat[e]))
                    lane.append(regs[e])
                x1.append(lane)
            tables = None
        else:
            elems = unpack(self, self.opr, kh * kw * p.in_shape[2], it, name="w_in")
            x1 = [[Signal((it.bits, it.signed), name=f"x1_{l}_{k}", reset_less=True) for k in range(SIMD)]
                  for l in range(PE)]
            tables = lane_schedule(p)
        shared = {}
        if rotate:
            # every lane reads elements [sf*simd, (sf+1)*simd) at step sf: the operand
            # register rotates by simd elements per step instead of feeding a wide multiplexer
            sig = Signal(SIMD * it.bits, name="opsel0")
            self.comb += sig.eq(self.opr[:SIMD * it.bits])
            shared = {tuple(t): sig for t in tables}
        for lane, table in enumerate(tables or []):
            only_sf = all(table[i] == table[i % SF] for i in range(steps))
            key = tuple(table) if rotate else tuple(table[:SF]) if only_sf else tuple(table)
            sel = ctl["sf"] if only_sf else self.step
            if key not in shared:
                sig = Signal(SIMD * it.bits, name=f"opsel{len(shared)}")
                cases = {i: sig.eq(pack([elems[e] for e in key[i]], it.bits)) for i in range(len(key))}
                cases["default"] = sig.eq(0)
                self.comb += Case(sel, cases)
                shared[key] = sig
            self.sync += If(ce, Cat(*x1[lane]).eq(shared[key]))
        w1 = Signal(PE * SIMD * p.w_bits)
        words = weight_words(p)
        if p.runtime:
            # weights in RAM: a block-RAM (or LUT-RAM) memory the parameter loader writes
            rport = self._param_memory("weights", len(w1), len(words), self.step)
            self.comb += w1.eq(rport.dat_r)
        elif steps >= ROM_MIN_DEPTH:
            # a block-RAM ROM (read enable = the pipeline's clock enable)
            rom = Memory(len(w1), steps, init=words, name="weights")
            rport = rom.get_port(has_re=True, mode=READ_FIRST)
            self.specials += rom, rport
            self.comb += rport.adr.eq(self.step), rport.re.eq(ce), w1.eq(rport.dat_r)
        else:
            # a few words: logic, so constant weights simplify the multipliers
            w1r = Signal(len(w1), reset_less=True)
            cases = {i: w1r.eq(word) for i, word in enumerate(words)}
            cases["default"] = w1r.eq(0)
            self.sync += If(ce, Case(self.step, cases))
            self.comb += w1.eq(w1r)
        ctl1 = delay(self, ce, {k: ctl[k] for k in ("v", "first", "last", "nf")}, 1, "1")[0]
        return x1, w1, ctl1

    def _param_memory(self, name: str, width: int, depth: int, adr):
        """Weights in RAM: a parameter memory of ``depth`` words (at least two) read at ``adr``
        on the pipeline's clock enable (the same one-cycle latency as the constant tables it
        replaces), written by the pipeline's parameter loader, its initial contents the compiled
        model's (``runtime_memories``); returns its read port."""
        depth = max(depth, 2)
        init = dict((n, words) for n, _, words in runtime_memories(self.p))[name]
        assert len(init) == depth, (name, len(init), depth)
        mem = Memory(width, depth, init=init, name=f"param_{name}")
        rport = mem.get_port(has_re=True, mode=READ_FIRST)
        wport = mem.get_port(write_capable=True)
        self.specials += mem, rport, wport
        self.comb += rport.adr.eq(adr), rport.re.eq(self.ce)
        self.param_ports.append((name, wport, width, depth))
        return rport

    def _rom(self, name: str, values, adr, signed: bool) -> list:
        """Per-output-channel constants (``values[n * pe + l]``: fold ``n``, lane ``l``) as one
        ROM of ``nf`` words read at ``adr`` on the clock enable: the same one-cycle latency as a
        registered table, in block or distributed RAM instead of a ``nf``-input multiplexer per
        bit (64 folds of a bias and a multiplier: about 700 LUTs as logic). Returns each lane's
        value (a signal)."""
        PE = self.p.pe
        values = [int(v) for v in values]
        bits = signed_bits_for(min(values + [0]), max(values + [0])) if signed else max(max(values).bit_length(), 1)
        words = _words(values, bits, PE)
        rom = Memory(bits * PE, len(words), init=words, name=f"{name}_rom")
        rport = rom.get_port(has_re=True, mode=READ_FIRST)
        self.specials += rom, rport
        self.comb += rport.adr.eq(adr), rport.re.eq(self.ce)
        out = []
        for l in range(PE):
            v = Signal((bits, signed), name=f"{name}{l}_rom")
            self.comb += v.eq(rport.dat_r[l * bits:(l + 1) * bits])
            out.append(v)
        return out

    def _register(self, values, ctl: dict, stage: str, bits=None):
        """One pipeline stage: ``values`` (nested lists of signals or expressions) and the
        control bundle registered on the clock enable."""
        ctl_n = delay(self, self.ce, ctl, 1, stage)[0]
        done = {}                 # a signal that appears more than once (shared operands): one register

        def reg(v, path):
            if isinstance(v, (list, tuple)):
                return [reg(x, f"{path}_{i}") for i, x in enumerate(v)]
            if isinstance(v, Signal) and id(v) in done:
                return done[id(v)]
            r = Signal((bits, True) if bits else value_bits_sign(v), name=f"r{stage}{path}", reset_less=True)
            self.sync += If(self.ce, r.eq(v))
            if isinstance(v, Signal):
                done[id(v)] = r
            return r
        return reg(values, ""), ctl_n

    def _products(self, x, w):
        """Stage 2's inputs: ``pe x simd`` products of operands and weights."""
        p = self.p
        if p.nf * p.sf == 1 and not p.runtime:
            # one weight per lane for ever: constant operands, so a zero or a power of two is
            # no multiplier (and the estimate knows it, as synthesis does)
            wm = p.weight.reshape(p.out_channels, -1)
            wts = [const_signal(self, int(wm[l, k]), f"wk_{l}_{k}") for l in range(p.pe) for k in range(p.simd)]
        else:
            wts = unpack(self, w, p.pe * p.simd, IntType(p.w_bits, True), name="wt")
        prod_bits = p.in_type.bits + p.w_bits + 1
        out = []
        for l in range(p.pe):
            lane = []
            for k in range(p.simd):
                s = Signal((prod_bits, True), name=f"pc_{l}_{k}")
                self.comb += s.eq(multiply(x[l][k], wts[l * p.simd + k]))
                lane.append(s)
            out.append(lane)
        return out

    def _accumulate(self, psum, ctl2: dict, ctl3: dict):
        """Stage 4: accumulate each lane's partial sums over the ``sf`` steps, the bias
        preloaded on the first (looked up a stage early and registered: a table in front of an
        adder was the critical path)."""
        p, ce = self.p, self.ce
        PE, NF = p.pe, p.nf
        acc = [Signal((p.acc_bits, True), name=f"acc_{l}", reset_less=True) for l in range(PE)]
        if p.runtime:
            bias_port = self._param_memory("bias", PE * p.acc_bits, NF, ctl2["nf"])
        elif NF >= ROM_MIN_DEPTH:
            biases = self._rom("bias", p.bias, ctl2["nf"], True)
        for l in range(PE):
            if p.runtime:
                b = Signal((p.acc_bits, True), name=f"bias{l}")
                self.comb += b.eq(bias_port.dat_r[l * p.acc_bits:(l + 1) * p.acc_bits])
            elif NF >= ROM_MIN_DEPTH:
                b = biases[l]
            else:
                t = const_table(self, [p.bias[n * PE + l] for n in range(NF)], ctl2["nf"], f"bias{l}_t")
                b = Signal((len(t), True), name=f"bias{l}", reset_less=True)
                self.sync += If(ce, b.eq(t))
            self.sync += If(ce & ctl3["v"],
                If(ctl3["first"], acc[l].eq(psum[l] + b)).Else(acc[l].eq(acc[l] + psum[l])))
        ctl4 = delay(self, ce, dict(v=ctl3["v"] & ctl3["last"], nf=ctl3["nf"]), 1, "4")[0]
        return acc, ctl4

    def _requant_multiply(self, acc, ctl3: dict, ctl4: dict, split: RequantSplit):
        """Stage 5: acc x M (M >= 0, MULT_BITS bits) as two partial products over two stages, so
        no cycle holds a full accumulator x 16-bit multiply.

        ``HALVES``: acc x low byte and acc x high byte of M (LUT multipliers: short paths);
        ``DSP16``: low 16 accumulator bits x M, one unsigned 16x16 product (one iCE40 SB_MAC16),
        plus the few high bits x M as shift-adds in logic."""
        p, ce = self.p, self.ce
        PE, NF, acc_bits = p.pe, p.nf, p.acc_bits
        mbits = acc_bits + MULT_BITS
        mults = p.requant.channel_mult(p.out_shape[2])
        mul = [Signal((mbits, True), name=f"m_{l}", reset_less=True) for l in range(PE)]
        if p.runtime:
            mult_port = self._param_memory("mult", PE * MULT_BITS, NF, ctl3["nf"])
        elif NF >= ROM_MIN_DEPTH:
            mrom = self._rom("mult", mults, ctl3["nf"], False)
        for l in range(PE):
            m = Signal(MULT_BITS, name=f"mult{l}_w", reset_less=True)   # unsigned: M >= 0
            if p.runtime:
                self.comb += m.eq(mult_port.dat_r[l * MULT_BITS:(l + 1) * MULT_BITS])
            elif NF >= ROM_MIN_DEPTH:
                self.comb += m.eq(mrom[l])
            else:
                self.sync += If(ce, m.eq(const_table(self, [mults[n * PE + l] for n in range(NF)], ctl3["nf"], f"mult{l}")))
            if split is RequantSplit.HALVES:
                half = MULT_BITS // 2
                p_lo = Signal((acc_bits + half + 1, True), name=f"mlo_{l}", reset_less=True)
                p_hi = Signal((acc_bits + half + 1, True), name=f"mhi_{l}", reset_less=True)
                m_lo, m_hi = Signal((half + 1, True), name=f"mult{l}_lo"), Signal((half + 1, True), name=f"mult{l}_hi")
                self.comb += m_lo.eq(m[:half]), m_hi.eq(m[half:])
                self.sync += If(ce, p_lo.eq(multiply(acc[l], m_lo)), p_hi.eq(multiply(acc[l], m_hi)),
                                mul[l].eq((p_hi << half) + p_lo))
            else:                                             # RequantSplit.DSP16
                xb = max(acc_bits, 17)
                ax = Signal((xb, True), name=f"ax_{l}")
                self.comb += ax.eq(acc[l])
                a_lo = Signal(16, name=f"alo_{l}")
                self.comb += a_lo.eq(ax[:16])
                hb = xb - 16                                  # high bits, two's complement
                p_lo = Signal(16 + MULT_BITS, name=f"mlo_{l}", reset_less=True)
                p_hi = Signal((hb + MULT_BITS + 1, True), name=f"mhi_{l}", reset_less=True)
                terms = [Mux(ax[16 + i], m << i, 0) for i in range(hb - 1)]
                neg = Mux(ax[xb - 1], m << (hb - 1), 0)
                pos = adder_tree(terms) if terms else 0
                self.sync += If(ce, p_lo.eq(multiply(a_lo, m)), p_hi.eq(pos - neg),
                                mul[l].eq((p_hi << 16) + p_lo))
        return mul, delay(self, ce, ctl4, 2, "5")[-1]

    def _output(self, mul, ctl5: dict):
        """Stage 6: round, shift and clamp each lane into its slice of the output pixel; the
        pixel is valid once its last fold is in."""
        p, ce, ot = self.p, self.ce, self.p.out_type
        PE, NF = p.pe, p.nf
        rq = p.requant
        mbits = p.acc_bits + MULT_BITS
        ys = [round_clamp(self, mul[l], mbits, rq.shift, rq.lo, rq.hi, ot, name=f"rq{l}") for l in range(PE)]
        out = Signal(p.out_shape[2] * ot.bits, reset_less=True)
        group = {n: out[n * PE * ot.bits:(n + 1) * PE * ot.bits].eq(pack(ys, ot.bits)) for n in range(NF)}
        v5, nf5 = ctl5["v"], ctl5["nf"]
        self.sync += [
            If(ce & v5, Case(nf5, group)),
            If(ce & v5 & (nf5 == NF - 1), self.out_valid.eq(1)).Elif(self.source.ready, self.out_valid.eq(0)),
        ]
        Ho, Wo, _ = p.out_shape
        self.submodules.count = count = PixelCounter(Ho * Wo, self.source.valid & self.source.ready)
        self.comb += [
            self.source.valid.eq(self.out_valid),
            self.source.data.eq(out),
            self.source.first.eq(count.first),
            self.source.last.eq(count.last),
        ]

"""``soc.spiflash.SpiFlashXIP`` against a model of a SPI NOR flash (mode 0, READ 0x03), in Migen
simulation: every word read equals the flash's bytes, sequential reads stream without a new
command, and they take the cycles the docstring gives."""
import random

from migen import Record, run_simulation
from migen.sim import passive

from lepton_hdl.soc.spiflash import SpiFlashXIP

PADS = [("cs_n", 1), ("clk", 1), ("mosi", 1), ("miso", 1), ("wp", 1), ("hold", 1)]


class FlashModel:
    """Samples MOSI at SCK's rising edges while selected; after the 8-bit command and 24-bit
    address, drives the data bits from the falling edge after each rising edge (a real flash
    does so nanoseconds after the edge: here the bit is written in SCK's high half, so the
    design sees it from the falling edge on). Records every command it received."""

    def __init__(self, pads, data: bytes):
        self.pads, self.data = pads, data
        self.commands = []
        self.bad = []

    def run(self):
        p = self.pads
        prev_clk, rising, word, addr = 0, 0, 0, 0
        while True:
            cs_n, clk, mosi = (yield p.cs_n), (yield p.clk), (yield p.mosi)
            if (yield p.wp) != 1 or (yield p.hold) != 1:
                self.bad.append("wp/hold low")
            if cs_n:
                rising, word = 0, 0
                if clk:
                    self.bad.append("SCK high while deselected")
            elif clk and not prev_clk:
                rising += 1
                if rising <= 32:
                    word = word << 1 | mosi
                    if rising == 32:
                        self.commands.append((word >> 24, word & 0xFFFFFF))
                        addr = (word & 0xFFFFFF) * 8
                if rising >= 32:
                    # the bit for the falling edge that follows (data bit rising - 32)
                    k = addr + rising - 32
                    byte = self.data[(k // 8) % len(self.data)]
                    yield p.miso.eq(byte >> (7 - k % 8) & 1)
            prev_clk = clk
            yield


def _read_all(flash_bytes, reads):
    pads = Record(PADS)
    dut = SpiFlashXIP(pads)
    model = FlashModel(pads, flash_bytes)
    got, cycles = [], []

    def master():
        for kind, adr in reads:
            t0 = (yield from _now())
            if kind == "r":
                got.append((yield from dut.bus.read(adr)))
            else:
                yield from dut.bus.write(adr, 0xDEADBEEF)
            cycles.append((yield from _now()) - t0)

    clock = [0]

    @passive
    def ticker():
        while True:
            clock[0] += 1
            yield

    def _now():
        return clock[0]
        yield

    run_simulation(dut, [master(), passive(model.run)(), ticker()])
    return got, cycles, model


def test_spiflash_reads_match_the_flash():
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(4096))
    base = 0x20000000 >> 2            # the region's origin in words: the low 22 bits select
    words = [0, 1, 2, 3, 100, 101, 7, 7, 1023, 1022, 5]
    reads = [("r", base + w) for w in words[:4]] + [("w", base + 9)] + [("r", base + w) for w in words[4:]]
    got, cycles, model = _read_all(data, reads)
    want = [int.from_bytes(data[4 * w:4 * w + 4], "little") for w in words]
    assert got == want
    assert model.bad == []
    # a new command for every non-sequential read (the first, 100, 7, 7 again, 1023, 1022, 5);
    # 1..3 and 101 stream on
    assert model.commands == [(0x03, 4 * w) for w in (0, 100, 7, 7, 1023, 1022, 5)]
    reads_only = [c for (k, _), c in zip(reads, cycles) if k == "r"]
    seq = [reads_only[i] for i in (1, 2, 3, 5)]
    new = [reads_only[i] for i in (0, 4, 6, 7, 8, 9, 10)]
    assert max(seq) < 70 and min(new) > 128, (seq, new)

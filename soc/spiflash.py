"""``SpiFlashXIP``: execute-in-place reads of a SPI NOR flash, one data line, as small as it goes.

The iCEBreaker's SoC runs its BIOS from the SPI flash. LiteX's ``add_spi_flash`` (LiteSPI: a
crossbar, a memory-mapped core with write support, a PHY with a run-time clock divider) took 447
LUT4 and 168 flip-flops there (``bench/soc_parts.md``), a tenth of the UP5K. This controller only
reads, in SPI mode 0 with the READ command (``0x03``, no dummy cycles), SCK the system clock
halved:

* a Wishbone read sends the command and the word's 24-bit byte address (MSB first), then
  shifts in the word's four bytes (each MSB first; byte 0 lands in bits 7..0, as the CPU reads
  memory) and acknowledges: 64 bits, 128 system cycles;
* the flash stays selected afterwards: a read of the next word (instruction fetch runs
  sequentially) only shifts its 32 bits (64 cycles); any other address first deselects it;
* writes are acknowledged and ignored (the flash is a ROM here).

MISO is sampled at SCK's rising edge (the flash drives it from the falling edge before), WP and
HOLD are held high. ``tests/test_spiflash.py`` checks it against a flash model in simulation.
"""
from __future__ import annotations

from migen import Cat, Constant, FSM, If, NextState, NextValue, Signal

from litex.gen import LiteXModule
from litex.soc.interconnect import wishbone

# the READ command of every SPI NOR flash (single line, no dummy cycles)
READ = 0x03
# system cycles the flash stays deselected between two non-sequential reads (tSHSL: 10-50 ns)
DESELECT_CYCLES = 2


class SpiFlashXIP(LiteXModule):
    """A read-only, execute-in-place SPI flash as a 32-bit Wishbone slave (word addressed;
    the low 22 bits of the address select the word, so its region must be 16 MiB aligned)."""

    ADDRESS_BITS = 22          # words in 16 MiB, the 24-bit address space of the READ command

    def __init__(self, pads):
        self.bus = bus = wishbone.Interface(data_width=32, address_width=32, addressing="word")
        # # #
        A = self.ADDRESS_BITS
        sck, cs_n = Signal(), Signal(reset=1)
        shift = Signal(32)             # command and address out (MSB first), data in (LSB)
        bits = Signal(6)               # bits left in this phase
        high = Signal()                # SCK is high (the second half of a bit)
        selected = Signal()            # the flash streams the word at next_adr
        next_adr = Signal(A)
        wait = Signal(max=DESELECT_CYCLES + 1)
        self.comb += [pads.clk.eq(sck), pads.cs_n.eq(cs_n), pads.mosi.eq(shift[31])]
        for name in ("wp", "hold"):
            if hasattr(pads, name):
                self.comb += getattr(pads, name).eq(1)
        # byte 0 was shifted in first: it ends in bits 31..24
        self.comb += bus.dat_r.eq(Cat(shift[24:32], shift[16:24], shift[8:16], shift[0:8]))
        adr = bus.adr[:A]

        miso = Signal()                # MISO as sampled at SCK's rising edge

        def bit(then):
            """One SCK period: rise (the flash samples MOSI, MISO is sampled), then fall (the
            sample shifts in, the next MOSI bit out); after the last bit, ``then``."""
            return [
                If(~high,
                    NextValue(sck, 1), NextValue(high, 1), NextValue(miso, pads.miso)
                ).Else(
                    NextValue(sck, 0), NextValue(high, 0), NextValue(bits, bits - 1),
                    NextValue(shift, Cat(miso, shift[:31])),
                    If(bits == 1, *then))
            ]

        self.fsm = fsm = FSM(reset_state="IDLE")
        fsm.act("IDLE",
            If(bus.cyc & bus.stb,
                If(bus.we,
                    bus.ack.eq(1)
                ).Elif(selected & (adr == next_adr),
                    NextValue(bits, 32), NextState("DATA")
                ).Else(
                    NextValue(cs_n, 1), NextValue(selected, 0), NextValue(wait, DESELECT_CYCLES),
                    NextState("DESELECT"))))
        fsm.act("DESELECT",
            NextValue(wait, wait - 1),
            If(wait == 0,
                NextValue(cs_n, 0), NextValue(bits, 32),
                NextValue(shift, Cat(Constant(0, 2), adr, Constant(READ, 8))),
                NextState("COMMAND")))
        # the command's bits shift out; what comes back on MISO meanwhile is shifted past
        fsm.act("COMMAND", *bit([NextValue(bits, 32), NextState("DATA")]))
        fsm.act("DATA", *bit([NextState("ACK")]))
        fsm.act("ACK",
            bus.ack.eq(1),
            NextValue(selected, 1), NextValue(next_adr, adr + 1),
            NextState("IDLE"))

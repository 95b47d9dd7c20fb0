"""A LiteX SoC on the simulator (Verilator): VexRiscv, ROM (BIOS), SRAM, main RAM, UART,
timer, and the compiled pipeline; plus the build-and-run flow behind ``lepton-hdl soc``."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from migen import ClockDomain, ResetSignal
from migen.genlib.io import CRG
from migen.genlib.resetsync import AsyncResetSynchronizer

from litex.build.generic_platform import Pins, Subsignal
from litex.build.sim import SimPlatform
from litex.build.sim.config import SimConfig
from litex.soc.integration.builder import Builder
from litex.soc.integration.common import get_mem_data
from litex.soc.integration.soc_core import SoCCore

from lepton_hdl.ops import params_digest
from lepton_hdl.toolpath import env_tools_on_path

from .integration import ACCEL_CLOCK_DOMAIN, CSR_MAP, add_lepton, add_reset_ctrl, soc_core_options

_io = [
    ("sys_clk", 0, Pins(1)),
    ("accel_clk", 0, Pins(1)),
    ("sys_rst", 0, Pins(1)),
    ("serial", 0,
        Subsignal("source_valid", Pins(1)), Subsignal("source_ready", Pins(1)), Subsignal("source_data", Pins(8)),
        Subsignal("sink_valid", Pins(1)), Subsignal("sink_ready", Pins(1)), Subsignal("sink_data", Pins(8))),
]

SYS_CLK_FREQ = int(1e6)     # nominal: the simulator counts cycles, not seconds
# a simulated accelerator clock (``accel_clock``) runs at the system clock's rate a quarter period
# late: the two domains' edges never coincide, so every crossing goes through its synchronizers
ACCEL_SIM_PHASE = 90
MAIN_RAM_BASE = 0x40000000


def main_ram_size_for(pipeline, images: int) -> int:
    """Firmware code + weights + images + buffers, rounded up to a power of two."""
    w = sum(n.op.estimate(n.params)["mem_bits"] for n in pipeline.graph.nodes if n.params is not None) // 8
    act = sum(n.shape[0] * n.shape[1] * n.shape[2] for n in pipeline.graph.nodes)
    inp = pipeline.input_node.shape
    need = 96 * 1024 + w * 2 + act * 2 + images * (inp[0] * inp[1] * inp[2] * 3 + 256)
    size = 64 * 1024
    while size < need:
        size *= 2
    return size


# the simulated SoC's memories (bytes); a board's map replaces them (``SimRun(memory=...)``)
SIM_MEMORY = dict(rom=0x10000, sram=0x4000)


class LeptonSimSoC(SoCCore):
    csr_map = dict(CSR_MAP)

    def __init__(self, pipeline, main_ram_size=64 * 1024, main_ram_init=None, cpu=("vexriscv", "standard"),
                 rom_size=SIM_MEMORY["rom"], sram_size=SIM_MEMORY["sram"], bus_bits=32, accel_clock=False,
                 port="dma", soc_options=()):
        platform = SimPlatform("SIM", _io)
        self.crg = CRG(platform.request("sys_clk"))
        clock_domain = "sys"
        if accel_clock:
            # the accelerator's own clock, as a board with --accel-mhz has it (ACCEL_SIM_PHASE)
            clock_domain = ACCEL_CLOCK_DOMAIN
            cd = ClockDomain(clock_domain)
            self.clock_domains += cd
            self.comb += cd.clk.eq(platform.request("accel_clk"))
            self.specials += AsyncResetSynchronizer(cd, ResetSignal("sys"))
        options, reset_ctrl = soc_core_options(soc_options)
        SoCCore.__init__(self, platform, clk_freq=SYS_CLK_FREQ, bus_data_width=bus_bits,
                         cpu_type=cpu[0], cpu_variant=cpu[1],
                         uart_name="sim",
                         integrated_rom_size=rom_size,
                         integrated_sram_size=sram_size,
                         integrated_main_ram_size=main_ram_size,
                         integrated_main_ram_init=main_ram_init or [0] * 16,
                         **{"ident": "lepton_hdl simulation SoC", "timer_uptime": True, **options})
        if reset_ctrl:
            add_reset_ctrl(self)
        # (a main RAM init makes LiteX define CONFIG_MAIN_RAM_INIT: the BIOS does not memtest it)
        self.add_config("BIOS_NO_DELAYS")     # no serial-boot wait
        self.add_constant("ROM_BOOT_ADDRESS", self.mem_map["main_ram"])
        platform.add_debug(self, reset=0)     # SimFinish: firmware ends the simulation
        add_lepton(self, pipeline, clock_domain=clock_domain, port=port)


class _redirect_output:
    """Send this process's stdout/stderr (including child processes) to a log file."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        import sys
        sys.stdout.flush()
        sys.stderr.flush()
        self.f = open(self.path, "a")
        self.saved = (os.dup(1), os.dup(2))
        os.dup2(self.f.fileno(), 1)
        os.dup2(self.f.fileno(), 2)

    def __exit__(self, *exc):
        import sys
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        os.close(self.saved[0])
        os.close(self.saved[1])
        self.f.close()
        if exc[0] is not None:
            print(f"build failed; last lines of {self.path}:\n{_tail(self.path)}", file=sys.stderr)
        return False


def _tail(path, n=40):
    try:
        return "".join(Path(path).read_text(errors="replace").splitlines(True)[-n:])
    except OSError:
        return ""


def _log(log, msg):
    if log:
        log(msg)


def _generator_sources() -> list:
    """Every source whose change changes the simulated SoC: the SoC's own generators, the
    pipeline's gateware generators, the C generator and the firmware."""
    import lepton_hdl
    from lepton_hdl import firmware as fw_pkg
    pkg = Path(lepton_hdl.__file__).parent
    files = list(Path(__file__).parent.glob("*.py")) + list((pkg / "hw").glob("*.py"))
    files += list((pkg / "ops").glob("*.py"))
    files += [pkg / "codegen_c.py", pkg / "csrc.py", pkg / "arith.py", pkg / "params.py"]
    files += [p for p in Path(fw_pkg.__path__[0]).iterdir() if p.suffix in (".c", ".h", ".ld") or p.name == "Makefile"]
    return sorted(set(files))


def build_firmware(pipeline, x, labels, soc_dir: Path, label_names=None, log=None, fw_dir=None,
                   defines=(), reload=None) -> Path:
    """Generate the model/data headers and build the demo firmware with RISC-V GCC against the
    LiteX build folder ``soc_dir`` (its generated headers, linker regions and libraries);
    returns ``firmware.bin``. ``defines``: extra ``NAME=VALUE`` preprocessor definitions (the
    tests' fault injection, ``LEPTON_INJECT_FAULT=image``). ``reload`` (weights in RAM):
    ``(other, image, name)``: the firmware then loads ``image`` at run time and runs ``other``
    on the same images (``LEPTON_RELOAD``)."""
    from lepton_hdl.codegen_c import write_firmware_sources
    from lepton_hdl.firmware import FIRMWARE_DIR
    fw = Path(fw_dir or Path(soc_dir) / "firmware")
    fw.mkdir(parents=True, exist_ok=True)
    for f in FIRMWARE_DIR.iterdir():
        if f.suffix in (".c", ".h", ".ld") or f.name == "Makefile":
            shutil.copy(f, fw / f.name)
    write_firmware_sources(pipeline, x, labels, fw, label_names=label_names, reload=reload)
    if reload is not None:
        defines = tuple(defines) + ("LEPTON_RELOAD=1",)
    _log(log, f"[firmware] building with {shutil.which('riscv64-unknown-elf-gcc')} (-O3), {len(x)} images")
    subprocess.run(["make", "-C", str(fw), f"BUILD_DIR={Path(soc_dir).resolve()}", "clean"], capture_output=True)
    r = subprocess.run(["make", "-C", str(fw), f"BUILD_DIR={Path(soc_dir).resolve()}", "-j2",
                        "EXTRA_CFLAGS=" + " ".join(f"-D{d}" for d in defines)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"firmware build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return fw / "firmware.bin"


def firmware_extent(elf: Path) -> int:
    """Bytes of main RAM the firmware ``elf`` occupies from the region's base: code, read-only
    data, the load image of ``.data`` and ``.bss`` (the buffers and the accelerator's output)."""
    r = subprocess.run(["riscv64-unknown-elf-objdump", "-h", str(elf)], capture_output=True, text=True, check=True)
    end = MAIN_RAM_BASE
    for f in (l.split() for l in r.stdout.splitlines()):
        if len(f) >= 6 and f[0].isdigit():
            size, vma, lma = int(f[2], 16), int(f[3], 16), int(f[4], 16)
            for a in (vma, lma):
                if a >= MAIN_RAM_BASE and size:
                    end = max(end, a + size)
    return end - MAIN_RAM_BASE


def memory_map(csr_csv: Path) -> dict:
    """What a firmware image depends on in a LiteX build: memory regions and CSR bases."""
    out = {}
    for line in Path(csr_csv).read_text().splitlines():
        f = line.split(",")
        if f[0] in ("memory_region", "csr_base", "csr_register"):
            out[(f[0], f[1])] = tuple(f[2:])
    return out


def read_boot_image(build_dir: Path):
    """The demo firmware a board build boots (``report.json``'s ``demo``, or the firmware
    folder of ``platforms.soc_build.board_firmware``) and that build's memory map:
    ``(firmware.bin, dict(rom=, sram=, main_ram=), images)``."""
    import json
    from lepton_hdl.errors import LeptonError
    build_dir = Path(build_dir)
    fw = build_dir / "firmware" / "firmware.bin"
    csv = build_dir / "csr.csv"
    if not csv.exists():
        csv = build_dir / "firmware-headers" / "csr.csv"
    if not fw.exists() or not csv.exists():
        raise LeptonError(f"{build_dir}: no demo firmware (firmware/firmware.bin and csr.csv); build it with "
                          f"`lepton-hdl build --board BOARD --out {build_dir}`")
    mm = memory_map(csv)
    memory = {k: int(mm[("memory_region", k)][1]) for k in ("rom", "sram", "main_ram")}
    m = re.search(r"#define N_IMAGES (\d+)", (build_dir / "firmware" / "data.h").read_text())
    rep = build_dir / "report.json"
    if rep.exists():
        demo = json.loads(rep.read_text()).get("demo") or {}
        if demo.get("main_ram_bytes"):
            memory["main_ram"] = int(demo["main_ram_bytes"])
    return fw, memory, int(m.group(1))


def check_boot_map(build_dir: Path, run) -> None:
    """The simulated SoC must place every memory and CSR the board's firmware uses where the
    board does (its own simulation CSRs aside)."""
    from lepton_hdl.errors import LeptonError
    csv = Path(build_dir) / "csr.csv"
    if not csv.exists():
        csv = Path(build_dir) / "firmware-headers" / "csr.csv"
    board, sim = memory_map(csv), memory_map(run.dir / "csr.csv")
    diff = [k for k in board if k[1] != "main_ram" and board[k] != sim.get(k)]
    if diff or board[("memory_region", "main_ram")][0] != sim[("memory_region", "main_ram")][0]:
        raise LeptonError(f"the simulated SoC's map differs from {csv} at {sorted(diff)[:4]}")


class SimRun:
    """Builds (cached by content) and runs the simulated SoC for one compiled pipeline.
    ``memory``: ``dict(rom=, sram=, main_ram=)`` sizes in bytes, a board's memory map (default:
    the simulation's own, main RAM sized for ``images``)."""

    def __init__(self, pipeline, build_root="build/soc", images=20, log=print, jobs=2, cpu=("vexriscv", "standard"),
                 memory=None, bus_bits=32, accel_clock=False, port="dma", soc_options=()):
        self.pipeline = pipeline
        self.port = port                # the accelerator's stream port (a board's accel_port)
        self.soc_options = tuple(soc_options)   # a board's further SoCCore arguments
        self.accel_clock = bool(accel_clock)    # the accelerator in its own clock domain (a board's --accel-mhz)
        self.bus_bits = bus_bits        # the SoC bus (main RAM, DMA) width: 32, or wider for video
        self.cpu = tuple(cpu)
        self.images = images
        self.log = log
        self.jobs = jobs
        self.memory = {**SIM_MEMORY, "main_ram": main_ram_size_for(pipeline, images), **(memory or {})}
        self.ram_size = self.memory["main_ram"]
        key = hashlib.sha256()
        key.update(pipeline.graph.summary().encode())
        for n in pipeline.graph.nodes:       # every parameter, folding and FIFO depth
            if n.params is not None:
                key.update(params_digest(n.params))
            key.update(repr(sorted((k, v) for k, v in n.attrs.items() if k.endswith("fifo") or k.endswith("fifos"))).encode())
        key.update(f"{sorted(self.memory.items())} {self.cpu} {self.bus_bits} {self.port} {self.soc_options}".encode())
        if self.accel_clock:
            key.update(b"accel_clock")
        for src in _generator_sources():
            key.update(src.name.encode())
            key.update(src.read_bytes())
        self.dir = Path(build_root).resolve() / f"{pipeline.name}-{key.hexdigest()[:12]}"
        self.gateware = self.dir / "gateware"

    def _check_tools(self):
        from lepton_hdl.errors import ToolMissing
        for tool, pkg in [("verilator", "verilator"), ("riscv64-unknown-elf-gcc", "gcc-riscv64-unknown-elf"),
                          ("make", "make"), ("g++", "g++")]:
            if shutil.which(tool) is None:
                raise ToolMissing(f"{tool} not found: run `make setup` (apt-get install {pkg})")

    def build_soc(self):
        """Generate the SoC, build the BIOS/libraries and the Verilator model (skipped when the
        same pipeline was built before)."""
        self._check_tools()
        env_tools_on_path()
        stamp = self.dir / ".built"
        if stamp.exists() and (self.gateware / "obj_dir" / "Vsim").exists():
            _log(self.log, f"[soc] reusing SoC build {self.dir}")
            return
        t0 = time.perf_counter()
        _log(self.log, f"[soc] generating the SoC ({self.cpu[0]} {self.cpu[1]} + lepton accelerator, main RAM "
                       f"{self.ram_size // 1024} KiB) in {self.dir}")
        import logging
        logging.disable(logging.INFO)          # LiteX's INFO lines; warnings and errors still show
        soc = LeptonSimSoC(self.pipeline, main_ram_size=self.ram_size, cpu=self.cpu, rom_size=self.memory["rom"],
                           sram_size=self.memory["sram"], bus_bits=self.bus_bits, accel_clock=self.accel_clock,
                           port=self.port, soc_options=self.soc_options)
        sim_config = SimConfig()
        sim_config.add_clocker("sys_clk", freq_hz=SYS_CLK_FREQ)
        if self.accel_clock:
            sim_config.add_clocker("accel_clk", freq_hz=SYS_CLK_FREQ, phase_deg=ACCEL_SIM_PHASE)
        sim_config.add_module("serial2console", "serial")
        builder = Builder(soc, output_dir=str(self.dir), compile_gateware=True, compile_software=True)
        logf = self.dir / "build.log"
        self.dir.mkdir(parents=True, exist_ok=True)
        _log(self.log, f"[soc] building BIOS + libraries (RISC-V GCC), log: {logf}")
        t1 = time.perf_counter()
        with _redirect_output(logf):
            builder.build(sim_config=sim_config, run=False, interactive=False, verbose=False, jobs=self.jobs)
        _log(self.log, f"[soc] software built in {time.perf_counter() - t1:.0f} s; compiling the Verilator "
                       f"model of the SoC (about a minute)...")
        t1 = time.perf_counter()
        with open(logf, "a") as f:
            r = subprocess.run(["bash", "build_sim.sh"], cwd=self.gateware, stdout=f, stderr=subprocess.STDOUT)
        if r.returncode != 0 or not (self.gateware / "obj_dir" / "Vsim").exists():
            raise RuntimeError(f"Verilator build of the SoC failed; see {logf}:\n" + _tail(logf))
        _log(self.log, f"[soc] Verilator model built in {time.perf_counter() - t1:.0f} s")
        stamp.write_text("ok\n")
        _log(self.log, f"[soc] SoC built in {time.perf_counter() - t0:.0f} s")

    def build_firmware(self, x, labels, label_names=None, defines=(), reload=None):
        """Generate the model/data headers and build the firmware with RISC-V GCC."""
        return build_firmware(self.pipeline, x, labels, self.dir, label_names=label_names, log=self.log,
                              defines=defines, reload=reload)

    def load_firmware(self, binary: Path):
        """Write the firmware into the main RAM init file the simulator reads at start."""
        wb = self.bus_bits // 8
        data = get_mem_data(str(binary), data_width=self.bus_bits, endianness="little")
        words = self.ram_size // wb
        if len(data) > words:
            raise RuntimeError(f"firmware is {len(data) * wb} bytes, main RAM only {self.ram_size}")
        inits = [p for p in self.gateware.glob("*.init") if "main_ram" in p.name]
        if len(inits) != 1:
            raise RuntimeError(f"cannot find the main RAM init file in {self.gateware}: {inits}")
        fmt = f"{{:0{2 * wb}x}}\n"
        with open(inits[0], "w") as f:
            f.write("".join(fmt.format(w) for w in data))
            f.write(fmt.format(0) * (words - len(data)))

    def run(self, timeout_s=600, on_line=None, until=None, responder=None):
        """Run the simulator until the firmware ends it (or the console prints a line matching
        regular expression ``until``: a board's firmware cannot end a simulation); returns the
        console text. The timeout holds whether or not the console prints (a reader thread
        feeds the lines; the wait for the next one is bounded by what is left). ``responder``:
        called with each console line, returns bytes to send into the SoC's UART (or None)."""
        import queue
        import threading
        exe = self.gateware / "obj_dir" / "Vsim"
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(exe)], cwd=self.gateware, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE if responder else subprocess.DEVNULL, text=True,
                                errors="replace", bufsize=1)
        q = queue.Queue()

        def reader():
            for line in proc.stdout:
                q.put(line)
            q.put(None)
        threading.Thread(target=reader, daemon=True).start()
        lines = []
        try:
            while True:
                left = timeout_s - (time.perf_counter() - t0)
                try:
                    line = q.get(timeout=max(left, 0.01))
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if line == "" and time.perf_counter() - t0 >= timeout_s:
                    proc.kill()
                    lines.append(f"\nLEPTON-ERROR simulation timeout after {timeout_s:g} s "
                                 f"({'no console output' if not lines else 'console silent since its last line'})\n")
                    break
                lines.append(line)
                text = line.strip("\r\n")
                if on_line and text.strip():
                    on_line(text)
                if responder is not None:
                    data = responder(text)
                    if data:
                        proc.stdin.buffer.write(data)
                        proc.stdin.flush()
                if until is not None and re.search(until, text):
                    proc.kill()
                    break
                if time.perf_counter() - t0 > timeout_s:
                    proc.kill()
                    lines.append(f"\nLEPTON-ERROR simulation timeout after {timeout_s:g} s\n")
                    break
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        return "".join(lines), time.perf_counter() - t0


class UartUpdater:
    """The host side of a weight update over the UART (``firmware/main.c``, ``receive_update``):
    answers the firmware's ``LEPTON-UPDATE ready`` with a frame's start ("LPWU", the length) and
    each ``LEPTON-UPDATE ack OFFSET`` with the next block, the last one followed by the image's
    CRC-32. ``updates``: ``[(label, image bytes, corrupt)]`` sent in turn; ``corrupt`` flips one
    bit of the image in transit (the CRC-32 is the clean image's), as line noise would."""
    BLOCK = 64

    def __init__(self, updates):
        self.updates = list(updates)
        self.sent = []              # the labels, in the order sent
        self._cur = None

    def __call__(self, line: str):
        import struct
        import zlib
        if line.startswith("LEPTON-UPDATE ready") and self.updates:
            label, image, corrupt = self.updates.pop(0)
            crc = zlib.crc32(image)
            wire = bytearray(image)
            if corrupt:
                wire[len(wire) // 2] ^= 0x04
            self._cur = (bytes(wire), crc)
            self.sent.append(label)
            return b"LPWU" + struct.pack("<I", len(wire))
        m = re.match(r"LEPTON-UPDATE ack (\d+)", line)
        if m and self._cur is not None:
            wire, crc = self._cur
            off = int(m.group(1))
            block = wire[off:off + self.BLOCK]
            if off + self.BLOCK >= len(wire):
                block += struct.pack("<I", crc)
                self._cur = None
            return block
        return None


VERDICT_RE = re.compile(r"LEPTON-VERDICT (.*)")


def parse_verdict(text: str):
    m = None
    for m in VERDICT_RE.finditer(text):
        pass
    if m is None:
        return None
    out = {}
    for kv in m.group(1).split():
        k, _, v = kv.partition("=")
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out

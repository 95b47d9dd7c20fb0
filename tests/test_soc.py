"""The main job: the compiled pipeline inside a LiteX SoC with VexRiscv, firmware built with
RISC-V GCC, run in LiteX simulation (Verilator). Accelerator == CPU C reference == golden on
every element; the speedup is measured in the same simulated SoC."""
import json
from pathlib import Path

import pytest

from conftest import require_tool

pytestmark = [pytest.mark.slow, pytest.mark.verilator]

ROOT = Path(__file__).resolve().parent.parent
# report key -> the README SoC table's column (the table `python bench/soc.py` prints)
PINNED = {"accel_cycles_per_inference": "accelerator, seen by the CPU (cycles/inference)",
          "accel_latency_cycles": "single-image latency (cycles)",
          "cpu_cycles_per_inference": "CPU plain C -O3 (cycles/inference)",
          "cpu_tuned_cycles_per_inference": "CPU tuned C -O3 (cycles/inference)",
          "speedup": "speedup, back to back", "latency_speedup": "speedup, one image alone",
          "speedup_tuned": "speedup vs tuned, back to back",
          "latency_speedup_tuned": "speedup vs tuned, one image alone"}


def documented(model, config):
    """The README SoC table's row for (model, accelerator as built for), by column name."""
    lines = (ROOT / "README.md").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("| model | accelerator as built for |"))
    head = [c.strip() for c in lines[k].strip().strip("|").split("|")]
    for line in lines[k + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[:2] == [model, config]:
            return dict(zip(head, cells))
    raise AssertionError(f"the README SoC table has no row for {model} / {config}")


def assert_documented(r, model, config):
    """The run's figures are the README's: the model's figures (bound, multipliers) equal, the
    measured cycle counts and speedups within 10%."""
    row = documented(model, config)
    num = lambda s: float(s.replace(",", "").rstrip("x"))
    assert r["bound_cycles"] == int(row["pipeline bound (cycles/frame)"]), (r["bound_cycles"], row)
    assert r["multipliers"] == int(row["multipliers"]) and r["images"] == int(row["images"])
    for key, col in PINNED.items():
        want = num(row[col])
        assert abs(r[key] - want) <= 0.10 * want, \
            f"{key} {r[key]:.1f} against the README's {want} ({model}, {config}): more than 10% off"


def _soc(tmp_path, model, images, extra=()):
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    from lepton_hdl.cli import main
    report = tmp_path / "report.json"
    rc = main(["soc", "--board", "sim", "--model", model, "--images", str(images), "--report", str(report),
               "--build-dir", str(tmp_path / "build"), *extra])
    return rc, json.loads(report.read_text())


def test_soc_digits(tmp_path):
    """The demo: digits as the ULX3S build holds it (its budget and bits), board-true figures."""
    rc, r = _soc(tmp_path, "digits", 20, ("--fit", "ulx3s"))
    assert rc == 0 and r["ok"]
    assert r["fit"] == "ulx3s" and r["bits"] == {"w": 8, "a": 8}
    import lepton_hdl
    from lepton_hdl.models import load
    spec = load("digits")
    built = lepton_hdl.compile(spec.model, spec.samples, board="ulx3s", soc=True)
    assert r["images"] == 20 and r["mismatches"] == 0
    assert r["accuracy"] == r["golden_accuracy"]
    assert r["cpu_cycles_per_inference"] > 0 and r["accel_cycles_per_inference"] > 0
    assert r["bound_cycles"] == built.bound_cycles and r["multipliers"] == built.bench()["resources"]["mult"]
    assert_documented(r, "digits", "ulx3s")


def test_soc_residual_model(tmp_path):
    """A model with a residual add, BatchNorm and a global average pool, from a factory file,
    as the Colorlight i5 build holds it."""
    rc, r = _soc(tmp_path, "lepton_hdl/examples/zoo.py:residual_factory", 20, ("--fit", "colorlight_i5"))
    assert rc == 0 and r["ok"] and r["mismatches"] == 0 and r["images"] == 20
    assert_documented(r, "residual", "colorlight_i5")


def test_soc_depthwise_model(tmp_path):
    """Depthwise and pointwise convolutions (grouped MAC arrays) on RGB input."""
    rc, r = _soc(tmp_path, "lepton_hdl/examples/zoo.py:depthwise_factory", 20, ("--fit", "colorlight_i5"))
    assert rc == 0 and r["ok"] and r["mismatches"] == 0 and r["images"] == 20
    assert_documented(r, "depthwise", "colorlight_i5")


def test_soc_new_ops(tmp_path):
    """Every new op (hardswish and sigmoid tables, a squeeze-excitation multiply, upsample,
    concat, abs) through the SoC: accelerator == firmware C == golden on every element."""
    rc, r = _soc(tmp_path, "lepton_hdl/examples/zoo.py:gallery_factory", 20, ("--fit", "colorlight_i5"))
    assert rc == 0 and r["ok"] and r["mismatches"] == 0 and r["images"] == 20
    assert_documented(r, "gallery", "colorlight_i5")


def test_soc_serv_icebreaker_cpu(tmp_path):
    """The iCEBreaker's SoC as `build --board icebreaker` makes it (SERV, bit-serial RV32I with no
    multiplier; the CPU-fed stream port, no DMA; no uptime counter, ctrl or bus timeout; digits
    at the SoC's w4/a4 and the folding the board picks) runs the firmware demo in simulation:
    accelerator == SERV's C reference == golden, every word moved by the CPU."""
    rc, r = _soc(tmp_path, "digits", 1, ("--fit", "icebreaker", "--timeout", "900"))
    assert rc == 0 and r["ok"] and r["mismatches"] == 0 and r["images"] == 1
    assert r["fit"] == "icebreaker" and r["cpu"] == "serv standard" and r["bits"] == {"w": 4, "a": 4}
    # no multiplier: the C reference multiplies in software
    assert r["cpu_cycles_per_inference"] > 10_000_000, r
    # the accelerator's own count for the frame: at least the pipeline's bound (several frames
    # through the stream port: test_csr_stream_port_exact_aborts_and_holds)
    assert r["accel_hw_cycles"] >= r["bound_cycles"], r


def test_board_firmware_boots_in_simulation(tmp_path):
    """The firmware a Colorlight i5 SoC bitstream boots into (built against that SoC's own
    headers, as many images as its free block RAM holds) runs unchanged in a simulated SoC with
    the board's memory map and CSR locations: accelerator == CPU C == golden."""
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    import lepton_hdl
    from lepton_hdl.cli import main
    from lepton_hdl.models import load
    from lepton_hdl.platforms import boards
    from lepton_hdl.platforms.soc_build import EBR_BYTES, board_firmware, main_ram_budget
    spec = load("digits")
    board = boards.get("colorlight_i5")
    pipe = lepton_hdl.compile(spec.model, spec.samples, board=board.name, soc=True, name="digits")
    fw = board_firmware(pipe, board, tmp_path / "i5", (spec.x_eval[:12], spec.y_eval[:12], spec.labels), log=print)
    assert fw["images"] == 12 and fw["extent"] <= fw["main_ram"] <= main_ram_budget(pipe, board)
    assert fw["main_ram"] % EBR_BYTES == 0 and fw["main_ram"] - fw["extent"] < EBR_BYTES
    report = tmp_path / "boot.json"
    rc = main(["soc", "--board", "sim", "--model", "digits", "--fit", board.name, "--boot", str(tmp_path / "i5"),
               "--report", str(report), "--build-dir", str(tmp_path / "build")])
    r = json.loads(report.read_text())
    assert rc == 0 and r["ok"] and r["images"] == 12 and r["mismatches"] == 0
    assert r["accuracy"] == r["golden_accuracy"]


def test_board_firmware_too_big_is_reported(tmp_path):
    """When not even one image's firmware fits the block RAM a board leaves, the build says so
    (the bitstream then boots the BIOS) instead of failing or truncating."""
    require_tool("riscv64-unknown-elf-gcc")
    import numpy as np
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.platforms import boards
    from lepton_hdl.platforms.soc_build import board_firmware
    spec = load("digits")
    board = boards.get("colorlight_i5")
    pipe = lepton_hdl.compile(spec.model, spec.samples, board=board.name, soc=True, name="digits")
    tight = boards.Board(**{**board.__dict__, "available": {**board.available, "BRAM": 30}})
    fw = board_firmware(pipe, tight, tmp_path / "i5", (spec.x_eval[:4], spec.y_eval[:4], spec.labels))
    assert fw["firmware"] is None and "KiB" in fw["reason"]


def _abort_mid_job_then_exact(run, spec):
    """Firmware whose first wait times out after 700 cycles: the driver reports it (it does not
    hang), aborts the job in the middle, and every run after is exact."""
    from lepton_hdl.soc.sim import parse_verdict
    run.load_firmware(run.build_firmware(spec.x_eval[:3], spec.y_eval[:3], label_names=spec.labels,
                                         defines=("LEPTON_TEST_ABORT=700",)))
    text, _ = run.run(timeout_s=600)
    v = parse_verdict(text)
    assert "LEPTON-TEST wait timed out after 700 cycles" in text and "LEPTON-ERROR accelerator hung" in text, text[-3000:]
    assert "LEPTON-TEST aborted: status busy=0" in text
    assert v["verdict"] == "PASS" and v["mismatches"] == 0 and v["images"] == 3, text[-2000:]


def _held_job_then_exact(run, spec):
    """Firmware whose job can never finish (its input held: ``lepton_pause``): the driver's wait
    returns its timeout error with the normal timeout, the accelerator still busy; aborted,
    every run after is exact."""
    from lepton_hdl.soc.sim import parse_verdict
    run.load_firmware(run.build_firmware(spec.x_eval[:3], spec.y_eval[:3], label_names=spec.labels,
                                         defines=("LEPTON_TEST_STUCK=1",)))
    text, _ = run.run(timeout_s=600)
    v = parse_verdict(text)
    assert "LEPTON-TEST stuck job: wait returned a timeout error, status busy=1" in text, text[-3000:]
    assert "LEPTON-ERROR accelerator hung" in text
    assert v["verdict"] == "PASS" and v["mismatches"] == 0 and v["images"] == 3, text[-2000:]


def test_fault_injection_and_silent_console(tmp_path):
    """Faults are seen: one wrong output word injected after the accelerator's run makes the
    firmware's verdict FAIL with exactly one mismatch; a job whose wait times out is reported by
    the driver and aborted mid-job, and the accelerator then runs exact; a job that can never
    finish makes the driver return its timeout error; and a SoC whose console
    goes silent (no firmware: the BIOS jumps into empty main RAM) is stopped by the runner's
    timeout."""
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    import time
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.soc.sim import SimRun, parse_verdict
    spec = load("digits")
    pipe = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=24, name="digits")
    run = SimRun(pipe, build_root=tmp_path / "build", images=3, log=print)
    run.build_soc()
    fw = run.build_firmware(spec.x_eval[:3], spec.y_eval[:3], label_names=spec.labels,
                            defines=("LEPTON_INJECT_FAULT=1",))
    run.load_firmware(fw)
    text, _ = run.run(timeout_s=600)
    v = parse_verdict(text)
    assert v is not None and v["verdict"] == "FAIL" and v["mismatches"] == 1, text[-2000:]
    assert "image   1:" in text and "MISMATCH" in text
    # the same firmware without the fault passes (the fault, not the build, made it fail)
    run.load_firmware(run.build_firmware(spec.x_eval[:3], spec.y_eval[:3], label_names=spec.labels))
    v = parse_verdict(run.run(timeout_s=600)[0])
    assert v["verdict"] == "PASS" and v["mismatches"] == 0
    # a wait that times out (the driver reports it, it does not hang), an abort in the middle of
    # the job, then every run exact
    _abort_mid_job_then_exact(run, spec)
    # a job that can never finish (its input DMA held)
    _held_job_then_exact(run, spec)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(bytes(64))
    run.load_firmware(empty)
    t0 = time.perf_counter()
    text, _ = run.run(timeout_s=20)
    assert time.perf_counter() - t0 < 60
    assert "LEPTON-ERROR simulation timeout after 20 s (console silent" in text and parse_verdict(text) is None


def test_accelerator_on_its_own_clock_exact_and_aborts(tmp_path):
    """The accelerator in its own clock domain (as the ULX3S SoC clocks it faster than the CPU:
    ``Board.accel_mhz``), behind asynchronous FIFOs, in the simulated SoC with a second clock a
    quarter period off the system clock: every image exact, and an abort in the middle of a job
    (both sides of each crossing reset together) leaves the next jobs exact."""
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.soc.sim import SimRun
    spec = load("digits")
    pipe = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=24, name="digits")
    run = SimRun(pipe, build_root=tmp_path / "build", images=3, log=print, accel_clock=True)
    run.build_soc()
    assert "accel_clk" in (run.gateware / "sim.v").read_text()
    _abort_mid_job_then_exact(run, spec)


def test_csr_stream_port_exact_aborts_and_holds(tmp_path):
    """The CPU-fed stream port (``add_lepton(port="csr")``, the iCEBreaker's) behind VexRiscv:
    every image exact with the driver moving the words; a job whose wait times out mid-frame is
    aborted and the runs after are exact; a job whose pushes are held (``lepton_pause``) makes the
    driver's wait return its timeout error, and after an abort every run is exact."""
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.soc.sim import SimRun, parse_verdict
    spec = load("digits")
    pipe = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=24, name="digits")
    run = SimRun(pipe, build_root=tmp_path / "build", images=3, log=print, port="csr")
    run.build_soc()
    csr = (run.dir / "csr.csv").read_text()
    assert "lepton_push" in csr and "lepton_pop" in csr and "lepton_src" not in csr
    assert "lepton_dma" not in (run.gateware / "sim.v").read_text()
    run.load_firmware(run.build_firmware(spec.x_eval[:3], spec.y_eval[:3], label_names=spec.labels))
    text, _ = run.run(timeout_s=600)
    v = parse_verdict(text)
    assert v["verdict"] == "PASS" and v["mismatches"] == 0 and v["images"] == 3, text[-2000:]
    # the accelerator's own count of the three-frame job: at least the pipeline's bound each
    assert v["accel_hw_cycles"] >= 3 * pipe.bound_cycles
    _abort_mid_job_then_exact(run, spec)
    _held_job_then_exact(run, spec)


def test_build_cache_key_covers_every_input():
    """Every input that shapes the simulated SoC's gateware changes its build folder (the cache
    key): bits, folding, FIFO depths, weights, the image count (main RAM size), the CPU and the
    memory map. No build runs here: the folders are compared."""
    import copy
    import dataclasses
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.soc.sim import SimRun
    spec = load("digits")
    base = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=24, name="digits")

    def folder(pipe=base, **kw):
        return SimRun(pipe, build_root="build/soc-keytest", log=None, **{"images": 4, **kw}).dir

    ref = folder()
    assert folder() == ref                                  # deterministic
    variants = {
        "bits": lepton_hdl.compile(spec.model, spec.samples, max_multipliers=24, bits=7, name="digits"),
        "folding": lepton_hdl.compile(spec.model, spec.samples, max_multipliers=48, name="digits"),
    }
    g = base.graph
    n = next(n for n in g.nodes if "row_fifo" in n.attrs)
    fifo = copy.copy(base)
    fifo.graph = g.replace(n.with_(attrs=dict(n.attrs, row_fifo=n.attrs["row_fifo"] + 1)))
    variants["fifo depth"] = fifo
    conv = next(n for n in g.nodes if n.params is not None and hasattr(n.params, "weight"))
    w = conv.params.weight.copy()
    w.flat[0] = -w.flat[0] if w.flat[0] else 1
    weights = copy.copy(base)
    weights.graph = g.replace(conv.with_(params=dataclasses.replace(conv.params, weight=w)))
    variants["weights"] = weights
    for what, pipe in variants.items():
        assert folder(pipe) != ref, what
    assert folder(images=400) != ref, "main RAM size"
    assert folder(cpu=("serv", "standard")) != ref, "CPU"
    assert folder(memory=dict(rom=0x8000, sram=0x2000, main_ram=0x8000)) != ref, "memory map"
    assert folder(accel_clock=True) != ref, "the accelerator's own clock"

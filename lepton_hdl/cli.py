"""``lepton-hdl``: compile a model into a streaming pipeline, put it in a SoC, build boards."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .errors import InputError


def log(msg):
    print(msg, flush=True)


def parse_fold(items):
    """``LAYER=PE,SIMD`` or ``LAYER=LANES`` items -> ``{layer: values}``; a malformed item is a
    ``ParallelismError`` (one line from ``main``)."""
    from .errors import ParallelismError
    fold = {}
    for it in items or []:
        layer, _, v = it.partition("=")
        parts = v.split(",")
        if not layer or len(parts) not in (1, 2) or not all(x.strip().isdigit() for x in parts):
            raise ParallelismError(f"--fold {it!r}: expected LAYER=PE,SIMD (a conv/linear, e.g. features.0=4,9) "
                                   f"or LAYER=LANES (an add, multiply, activation or table, e.g. add=2)")
        fold[layer] = tuple(int(x) for x in parts)
    return fold


def has_given_quant(model) -> bool:
    """Does ``model`` carry its own quantization (QuantAct modules, layers with weight_quant, a
    QONNX model's Quant nodes)?"""
    from .ops.quant import quant_act_type
    if getattr(model, "lepton_given_bits", None) is not None:
        return True
    qa = quant_act_type()
    return any(isinstance(m, qa) or hasattr(m, "weight_quant") for m in model.modules())


def compile_model(args):
    """Shared by compile/soc/build: load the model spec and compile it."""
    import lepton_hdl
    from .models import load
    from .pipeline import DEFAULT_MAX_MULTIPLIERS
    spec = load(args.model, log=log, samples=getattr(args, "samples", None))
    t0 = time.perf_counter()
    board_bits = getattr(args, "board_bits", None)
    if board_bits and has_given_quant(spec.model):
        # a model quantised before compilation keeps its own widths over the board's default
        args.w_bits = None if board_bits[0] else args.w_bits
        args.a_bits = None if board_bits[1] else args.a_bits
    board = getattr(args, "fit_board", None)
    mm = getattr(args, "max_multipliers", None)
    pipe = lepton_hdl.compile(spec.model, spec.samples, bits=args.bits or 8, w_bits=args.w_bits, a_bits=args.a_bits,
                              fold=parse_fold(args.fold), target_cycles=args.target_cycles,
                              fps=args.fps, clock_mhz=args.clock_mhz,
                              max_multipliers=DEFAULT_MAX_MULTIPLIERS if mm is None else mm,
                              board=board if mm is None else None, soc=getattr(args, "fit_soc", False),
                              name=spec.name, weights=getattr(args, "weights", None) or "rom")
    pipe.source_spec = spec
    return spec, pipe, time.perf_counter() - t0


def top1(outputs, labels) -> float:
    """Fraction of rows of ``outputs`` (any trailing shape) whose argmax is the label."""
    outputs = np.asarray(outputs)
    return float(np.mean(outputs.reshape(len(outputs), -1).argmax(1) == labels))


def float_predictions(spec):
    import torch
    with torch.no_grad():
        return spec.model.eval()(torch.as_tensor(spec.x_eval, dtype=torch.float32)).numpy()


def cmd_compile(args):
    from .sim.frames import pack_frame
    t_start = time.perf_counter()
    board = None
    if args.board:
        from .platforms import boards
        board = boards.get(args.board)
        board = _board_defaults(args, board, soc=args.soc)
    spec, pipe, t_compile = compile_model(args)
    if board is not None:
        log(fit_table(pipe, board))
    out = Path(args.out)
    (out / "vectors").mkdir(parents=True, exist_ok=True)
    vpath = pipe.to_verilog(out / "lepton_pipeline.v")
    x = spec.x_eval if spec.x_eval is not None else np.asarray(spec.samples)[:64]
    gold = pipe.golden(x)
    q = pipe.quantize_input(x)
    it, ot = pipe.input_node.qtype.type, pipe.output_node.qtype.type
    with open(out / "vectors" / "input.hex", "w") as f:
        for xi in q:
            f.writelines(f"{w:x}\n" for w in pack_frame(xi, it))
    with open(out / "vectors" / "expected.hex", "w") as f:
        o = pipe.output_node
        for yi in gold:
            f.writelines(f"{w:x}\n" for w in pack_frame(np.asarray(yi).reshape(o.shape), ot))
    extra = []
    if args.testbench == "cocotb":
        from .testbench import write_cocotb
        extra += write_cocotb(pipe, out, frames=len(x))
    from .testbench import vlnv
    if args.fusesoc:
        from .testbench import write_fusesoc
        extra.append(write_fusesoc(pipe, out))
    t_gen = time.perf_counter() - t_start
    bench = pipe.bench(args.clock_mhz)
    acc = {"float": None, "golden": None}
    if spec.y_eval is not None:
        acc["float"] = top1(float_predictions(spec), spec.y_eval)
        acc["golden"] = top1(gold, spec.y_eval)
    report = dict(model=spec.name, bits=dict(w=bench["w_bits"], a=bench["a_bits"]),
                  layers=[{k: r[k] for k in ("name", "op", "in_shape", "out_shape", "macs", "pe", "simd", "lanes", "cycles",
                                             "mult", "lut", "mem_bits")} for r in bench["layers"]],
                  cycles_per_frame=bench["cycles_per_frame"], cycles_per_frame_source="analytic",
                  bound_cycles=bench["bound_cycles"], bottleneck=bench["bottleneck"],
                  mac_utilisation=bench["mac_utilisation"], fps_at_clock=bench["fps"], clock_mhz=args.clock_mhz,
                  resources_estimate=bench["resources"], accuracy=acc, images=int(len(x)),
                  compile_s=round(t_compile, 3), generate_s=round(t_gen, 3),
                  input=dict(shape=list(pipe.input_node.shape), type=str(it), scale=pipe.input_node.qtype.scale),
                  output=dict(shape=list(pipe.output_node.shape), type=str(ot), scale=pipe.output_node.qtype.scale),
                  verilog=str(vpath), testbench=[str(p) for p in extra])
    log(pipe.report(args.clock_mhz))
    log(f"[compile] {spec.name}: compiled in {t_compile:.2f} s, Verilog + vectors written in {t_gen:.2f} s -> {out}")
    for p in extra:
        log(f"[compile] wrote {p}" + (" (run: python run_cocotb.py)" if p.name == "run_cocotb.py" else
                                     f" (fusesoc --cores-root {out} run --target lint {vlnv(pipe.name)})" if p.suffix == ".core" else ""))
    if args.verify:
        log(f"[verify] RTL simulation (Verilator) of {len(x)} inputs")
        y, info = pipe.simulate(x, log=log)
        mism = int(np.count_nonzero(y != gold))
        report["rtl_mismatches"] = mism
        report["cycles_per_frame"] = info["cycles_per_frame"]
        report["cycles_per_frame_source"] = "rtl"
        report["first_frame_latency_cycles"] = info["first_frame_cycles"]
        report["verilator_build_s"] = round(info["build_s"], 2)
        if spec.y_eval is not None:
            acc["rtl"] = top1(y, spec.y_eval)
        log(f"[verify] rtl_mismatches={mism} over {y.size} elements; cycles/frame measured "
            f"{info['cycles_per_frame']} vs bound {bench['bound_cycles']}")
    if acc["float"] is not None:
        log("[accuracy] " + ", ".join(f"{k} {100 * v:.2f}%" for k, v in acc.items() if v is not None))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.txt").write_text(pipe.report(args.clock_mhz) + "\n")
    write_build_record(pipe, args.model, out)
    return 1 if report.get("rtl_mismatches") else 0


def cmd_soc(args):
    """Build the SoC + firmware, run them in simulation, judge the verdict line."""
    from .platforms.soc_build import accel_clock_hz
    from .soc.sim import SimRun, parse_verdict
    if args.board != "sim":
        raise InputError(f"--board {args.board}: only 'sim' runs firmware here; "
                         f"use `lepton-hdl build --board {args.board}` for a bitstream")
    fit = None
    if args.fit:                                # the accelerator `build --board FIT` builds
        from .platforms import boards
        fit = boards.get(args.fit)
        fit = _board_defaults(args, fit, soc=True)
    t0 = time.perf_counter()
    spec, pipe, t_compile = compile_model(args)
    log(f"[compile] {spec.name}: {pipe.bound_cycles} cycles/frame bound ({t_compile:.1f} s)"
        + (f", the accelerator {fit.name} builds ({pipe.bench()['resources']['mult']} multipliers, "
           f"w{pipe.graph.meta['w_bits']}/a{pipe.graph.meta['a_bits']})" if fit else ""))
    if spec.x_eval is not None:
        x, y = spec.x_eval[:args.images], spec.y_eval[:args.images]
    else:
        x, y = np.asarray(spec.samples)[:args.images], None
    if len(x) < args.images:
        log(f"[soc] only {len(x)} images available")
    until = None
    reload = None
    if args.boot and args.reload:
        raise InputError("--reload runs the demo firmware; --boot runs a board's image: use one")
    if args.boot:
        # the board build's own firmware image, in a simulated SoC with the board's memory map
        if fit is None:
            raise InputError("--boot needs --fit BOARD (the board the build is for)")
        from .soc.sim import check_boot_map, read_boot_image
        fw, memory, n = read_boot_image(Path(args.boot))
        x = x[:n]
        y = None if y is None else y[:n]
        run = SimRun(pipe, build_root=args.build_dir, images=len(x), log=log, cpu=fit.cpu, memory=memory,
                     accel_clock=accel_clock_hz(pipe, fit) is not None, port=fit.accel_port,
                     soc_options=fit.soc_options)
        run.build_soc()
        check_boot_map(Path(args.boot), run)
        until = r"LEPTON-VERDICT"
        log(f"[sim] booting {fw} (the image the {fit.name} bitstream boots) with its memory map: "
            f"ROM {memory['rom'] // 1024} KiB, SRAM {memory['sram'] // 1024} KiB, main RAM {memory['main_ram'] // 1024} KiB")
    else:
        # the SoC's CPU: the one the --fit board's SoC build uses
        run = SimRun(pipe, build_root=args.build_dir, images=len(x), log=log,
                     cpu=fit.cpu if fit else ("vexriscv", "standard"),
                     accel_clock=fit is not None and accel_clock_hz(pipe, fit) is not None,
                     port=fit.accel_port if fit else "dma", soc_options=fit.soc_options if fit else ())
        if run.accel_clock:
            log(f"[soc] the accelerator in its own clock domain, as the {fit.name} SoC has it "
                f"({fit.accel_mhz:g} MHz there): asynchronous FIFOs on its input and output")
        if args.reload:
            from .models import load
            if pipe.weights != "ram":
                raise InputError("--reload loads another model's weights at run time: it needs --weights ram")
            other_spec = load(args.reload, log=log)
            other = pipe.compatible(other_spec.model, other_spec.samples, name=other_spec.name)
            image = weight_image_of(pipe, other)
            reload = (other, image, other_spec.name)
            log(f"[weights] {other_spec.name}: a {len(image):,}-byte weight image for this build "
                f"(topology {int.from_bytes(image[8:16], 'little'):016x})")
        run.build_soc()
        write_build_record(pipe, args.model, run.dir)
        fw = run.build_firmware(x, y, label_names=spec.labels, reload=reload,
                                defines=("LEPTON_UART_UPDATES=2",) if reload else ())
    run.load_firmware(fw)
    responder = None
    if reload is not None:
        # updates from the host over the UART: the compiled model's image with one bit flipped in
        # transit (refused: the reloaded weights stay), then the same image intact
        from .soc.sim import UartUpdater
        own = weight_image_of(pipe, pipe)
        responder = UartUpdater([(f"{spec.name} (one bit flipped in transit)", own, True), (spec.name, own, False)])
    log(f"[sim] running the SoC in Verilator ({len(x)} images; console follows)")
    text, wall = run.run(timeout_s=args.timeout, on_line=lambda l: log("  | " + l), until=until, responder=responder)
    v = parse_verdict(text)
    golden_acc = None
    if y is not None:
        golden_acc = top1(pipe.golden(x), y)
    ok = (v is not None and v.get("verdict") == "PASS" and "mismatches" in v and v["mismatches"] == 0
          and v.get("images") == len(x))
    report = dict(model=spec.name, board="sim", fit=fit.name if fit else None, cpu=" ".join(run.cpu), images=len(x), ok=ok,
                  bits=dict(w=pipe.graph.meta["w_bits"], a=pipe.graph.meta["a_bits"]),
                  multipliers=pipe.bench()["resources"]["mult"], wall_s=round(wall, 1),
                  total_s=round(time.perf_counter() - t0, 1))
    if v:
        acc = v.get("correct", 0) / max(1, v.get("images", 1)) if y is not None else None
        report.update(verdict=v.get("verdict"), accuracy=acc, golden_accuracy=golden_acc, mismatches=v.get("mismatches"),
                      accel_cycles_per_inference=v.get("accel_cycles_per_inference"),
                      cpu_cycles_per_inference=v.get("cpu_cycles_per_inference"),
                      speedup=(v["cpu_cycles_per_inference"] / v["accel_cycles_per_inference"]
                               if v.get("accel_cycles_per_inference") else None),
                      accel_latency_cycles=v.get("accel_latency_cycles"), accel_hw_cycles=v.get("accel_hw_cycles"),
                      latency_speedup=(v["cpu_cycles_per_inference"] / v["accel_latency_cycles"]
                                       if v.get("accel_latency_cycles") else None),
                      bound_cycles=pipe.bound_cycles)
        bench = pipe.bench()
        macs = bench["macs"]
        tuned = v.get("cpu_tuned_cycles_per_inference")
        report.update(cpu_tuned_cycles_per_inference=tuned,
                      speedup_tuned=(tuned / v["accel_cycles_per_inference"]
                                     if tuned and v.get("accel_cycles_per_inference") else None),
                      latency_speedup_tuned=(tuned / v["accel_latency_cycles"]
                                             if tuned and v.get("accel_latency_cycles") else None),
                      cpu_tuned_cycles_per_mac=tuned / macs if tuned and macs else None)
        report.update(macs=macs, lut_estimate=int(pipe.estimate().total["LUT"]),
                      cpu_cycles_per_mac=(v["cpu_cycles_per_inference"] / macs
                                          if macs and v.get("cpu_cycles_per_inference") else None),
                      accel_macs_per_cycle=(macs / v["accel_cycles_per_inference"]
                                            if v.get("accel_cycles_per_inference") else None))
        if acc is not None and golden_acc is not None and abs(acc - golden_acc) > 1e-9:
            ok = report["ok"] = False
            log(f"[soc] accuracy {acc} differs from the golden model's {golden_acc} on the same images")
    if not args.boot and reload is not None:
        ok = report["ok"] = ok and _reload_report(report, text, pipe, reload, x, y, responder.sent)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    if v is None:
        log("[soc] FAILED: no verdict line (firmware hung, crashed or timed out)")
        return 1
    log(f"[soc] {'PASS' if ok else 'FAIL'}: {len(x)} images, mismatches {v.get('mismatches')}, "
        f"accel {v.get('accel_cycles_per_inference')} vs CPU {v.get('cpu_cycles_per_inference')} cycles/inference "
        f"(speedup {report.get('speedup') or 0:.0f}x back to back, {report.get('latency_speedup') or 0:.0f}x "
        f"for one image alone), vs tuned C {v.get('cpu_tuned_cycles_per_inference')} "
        f"({report.get('speedup_tuned') or 0:.0f}x / {report.get('latency_speedup_tuned') or 0:.0f}x)"
        f"{' as built for ' + fit.name if fit else ''}, {report['total_s']} s in all")
    return 0 if ok else 1


BUILD_RECORD = "lepton_build.json"


def write_build_record(pipe, model: str, out) -> Path:
    """``lepton_build.json`` in a compile/build/SoC folder: what ``lepton-hdl weights --for``
    needs to recompile the build's model exactly (model, bits, every layer's folding, weights
    mode) and the topology hash its gateware checks images against."""
    from .weights import topology_hash
    g = pipe.graph
    rec = dict(format=1, name=pipe.name, model=model, weights=pipe.weights,
               bits=dict(w=g.meta["w_bits"], a=g.meta["a_bits"]),
               fold={n.name: list(n.op.folding(n.params).values()) for n in g.nodes
                     if n.params is not None and n.op.folding(n.params) is not None},
               topology=f"{topology_hash(g):016x}", param_words=pipe.param_words)
    path = Path(out) / BUILD_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec, indent=2) + "\n")
    return path


def weight_image_of(build, other) -> bytes:
    """The weight image of ``other`` (``build.compatible(...)``, or ``build`` itself) for
    ``build``, without compiling the model again."""
    from .weights import image
    return image(other.graph, build.param_layout)


def cmd_weights(args):
    """The weight image of MODEL for the weights-in-RAM build in --for."""
    import lepton_hdl
    from .errors import WeightsError
    from .models import load
    from .weights import topology_hash
    rec_path = Path(args.for_dir) / BUILD_RECORD
    if not rec_path.exists():
        raise InputError(f"--for {args.for_dir}: no {BUILD_RECORD} there (a folder written by compile, build or soc)")
    rec = json.loads(rec_path.read_text())
    if rec.get("weights") != "ram":
        raise WeightsError(f"the build in {args.for_dir} keeps its weights in ROM: rebuild it with --weights ram")
    base = load(rec["model"], log=log)
    pipe = lepton_hdl.compile(base.model, base.samples, w_bits=rec["bits"]["w"], a_bits=rec["bits"]["a"],
                              fold={k: tuple(v) for k, v in rec["fold"].items()}, max_multipliers=None,
                              weights="ram", name=rec["name"])
    if f"{topology_hash(pipe.graph):016x}" != rec["topology"]:
        raise WeightsError(f"the build's model '{rec['model']}' no longer compiles to the build's topology "
                           f"{rec['topology']}: rebuild it")
    spec = load(args.model, log=log)
    other = pipe.compatible(spec.model, spec.samples, name=spec.name)
    image = weight_image_of(pipe, other)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(image)
    acc = ""
    if spec.x_eval is not None:
        acc = (f", accuracy {100 * top1(other.golden(spec.x_eval), spec.y_eval):.2f}% on its "
               f"{len(spec.y_eval)} eval images (float {100 * top1(float_predictions(spec), spec.y_eval):.2f}%)")
    log(f"[weights] {out}: {len(image):,} bytes for the build in {args.for_dir} (topology {rec['topology']}, "
        f"{rec['param_words']} payload words){acc}")
    return 0


def _reload_report(report, text, pipe, reload, x, y, sent=()) -> bool:
    """The reload demo's figures from the console (``LEPTON-PHASE``/``LEPTON-RELOAD``/
    ``LEPTON-CORRUPT`` lines): ``phases`` (model, images, accuracy, golden_accuracy, mismatches),
    ``reload_bytes``, ``reload_cycles`` (the driver's whole call: header and CRC-32 checks and the
    DMA load), ``reload_dma_cycles`` (the load alone), ``corrupt_refused``. True if all is well."""
    import re
    other, image, name = reload
    golden = {pipe.name: pipe, name: other}
    phases = []
    for m in re.finditer(r"LEPTON-PHASE model=(.+?) images=(\d+) correct=(\d+) mismatches=(\d+)", text):
        model, n, correct, mism = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        base = model.split(" (")[0]
        g = golden.get(base)
        phases.append(dict(model=model, images=n, accuracy=correct / n if y is not None else None,
                           golden_accuracy=top1(g.golden(x), y) if (g is not None and y is not None) else None,
                           mismatches=mism))
    report["phases"] = phases
    m = re.search(r"LEPTON-RELOAD model=.+? rc=(-?\d+) \((.*?)\) bytes=(\d+) cycles=(\d+) dma_cycles=(\d+)", text)
    c = re.search(r"LEPTON-CORRUPT rc=(-?\d+) \((.*?)\)", text)
    t = re.search(r"LEPTON-TEST start during a load: error=(\d) loading=(\d), then the load finished done=(\d) busy=(\d)",
                  text)
    report["start_during_load_refused"] = bool(t and t.group(1) == "1" and t.group(2) == "1" and t.group(3) == "1"
                                               and t.group(4) == "0")
    report.update(reload_model=name, reload_rc=int(m.group(1)) if m else None,
                  reload_bytes=int(m.group(3)) if m else None, reload_cycles=int(m.group(4)) if m else None,
                  reload_dma_cycles=int(m.group(5)) if m else None,
                  corrupt_refused=(c.group(2) if c and int(c.group(1)) != 0 else None))
    # updates over the UART: what was sent, the driver's answer, the model the outputs then matched
    ups = [dict(sent=label, rc=int(u.group(1)), result=u.group(2)) for label, u in
           zip(sent, re.finditer(r"LEPTON-UPDATE rc=(-?\d+) \((.*?)\)", text))]
    for u, p in zip(ups, phases[3:]):
        u.update(then_model=p["model"], mismatches=p["mismatches"])
    report["uart_updates"] = ups
    expect_uart = [(name, "checksum"), (pipe.name, "ok")]       # the flipped bit refused, the intact image loaded
    ok = (len(phases) == 5 and all(p["mismatches"] == 0 for p in phases) and m is not None and int(m.group(1)) == 0
          and report["corrupt_refused"] == "checksum" and report["start_during_load_refused"]
          and [(u.get("then_model"), u["result"]) for u in ups] == expect_uart
          and all(p["accuracy"] == p["golden_accuracy"] for p in phases if p["accuracy"] is not None))
    for u in ups:
        log(f"[uart] sent {u['sent']}: {u['result']} (rc {u['rc']}); then the outputs matched {u.get('then_model')} "
            f"with {u.get('mismatches')} mismatches")
    for p in phases:
        log(f"[reload] {p['model']}: {p['images']} images, {p['mismatches']} mismatches"
            + (f", accuracy {100 * p['accuracy']:.1f}% (golden {100 * p['golden_accuracy']:.1f}%)"
               if p["accuracy"] is not None else ""))
    if m:
        log(f"[reload] {report['reload_bytes']:,} bytes loaded in {report['reload_cycles']:,} cycles "
            f"({report['reload_dma_cycles']:,} of them the DMA load); corrupt image refused: {report['corrupt_refused']}")
    return ok


def cmd_explore(args):
    from .explore import explore
    from .platforms import boards
    board = boards.get(args.board)
    board = _board_defaults(args, board, soc=args.soc)
    args.fit_board = None                      # explore from the fastest folding down
    args.max_multipliers = None
    spec, pipe, _ = compile_model(args)
    res = explore(pipe, board, Path(args.out), soc=args.soc, validate=args.validate, scheduler=args.scheduler, log=log)
    log(res["table"])
    picked = res["doc"]["picked"]
    log(f"[explore] {len(res['doc']['points'])} foldings, {sum(p['front'] for p in res['doc']['points'])} on the front; "
        + (f"--board {board.name} picks {picked:,} cycles/frame" if picked else f"none fits {board.name}")
        + f" -> {args.out}/pareto.json, pareto.md, pareto.png")
    return 0


def fit_table(pipe, board) -> str:
    """Per layer: the folding chosen for ``board`` and its estimate, and the totals against
    what the board leaves the accelerator."""
    from .resources import PLACED_RULE
    est = pipe.estimate()
    fit = pipe.fit
    lines = [f"[fit] {board.name} ({'beside the SoC' if fit.soc else 'accelerator alone'}), {board.family}: "
             f"{pipe.bound_cycles:,} cycles/frame",
             f"{'layer':22s} {'op':16s} {'folding':18s} {'cycles':>8s} {'LUT':>7s} {'FF':>7s} {'BRAM':>5s} {'DSP':>4s}"]
    nodes = {n.name: n for n in pipe.graph.nodes}
    for b in est.blocks:
        n = nodes[b.name]
        f = n.op.folding(n.params) or {}
        lines.append(f"{n.label[:22]:22s} {b.op:16s} {','.join(f'{k}={v}' for k, v in f.items())[:18]:18s} "
                     f"{n.op.cycles(n.params):8d} {b.LUT:7d} {b.FF:7d} {b.BRAM:5d} {b.DSP:4d}")
    t = est.total
    total = ", ".join(f"{k} {t[k]:,}/{fit.available[k]:,}" for k in ("LUT", "FF", "BRAM", "DSP"))
    # what the fit compares (resources.Estimate.placed): iCE40 logic cells, ECP5 LUTs as placed
    if est.family in PLACED_RULE:
        name = "LC" if est.family == "ice40" else "LUT"
        total = (f"{name} {est.placed:,}/{fit.available['LUT']:,} ({PLACED_RULE[est.family]}), "
                 + total.split(", ", 2 if name == "LC" else 1)[-1])
    lines.append(f"total: {total} ({'logic cells' if est.family == 'ice40' else 'LUTs'} to "
                 f"{100 * fit.max_fraction:.0f}% of the chip{', less the SoC' if fit.soc else ''})")
    return "\n".join(lines)


def _board_defaults(args, board, soc=False):
    """The board decides the folding (its resources, minus the SoC's share for SoC builds) unless
    --max-multipliers is given; its precision unless the command line sets one. Returns the
    board, with --max-dsp's cap on the accelerator's DSP tiles."""
    cap = getattr(args, "max_dsp", None)
    if cap is not None:
        if cap < 0:
            raise InputError(f"--max-dsp {cap}: give 0 (every product in logic) or more tiles")
        import dataclasses
        board = dataclasses.replace(board, accel_dsp=cap)
    args.fit_board, args.fit_soc = board, soc
    if args.bits is None:                       # the board's precision unless told otherwise
        args.board_bits = (args.w_bits is None, args.a_bits is None)
        w, a = board.soc_bits if soc and board.soc_bits else (board.w_bits, board.a_bits)
        args.w_bits = args.w_bits or w
        args.a_bits = args.a_bits or a
    return board


def cmd_build(args):
    """Bitstream for a board: the accelerator alone, or the SoC with it."""
    from .platforms import boards, flow
    board = boards.get(args.board)
    if args.accel_mhz is not None and not (args.accel_mhz == 0 or 10 <= args.accel_mhz <= 400):
        raise InputError(f"--accel-mhz {args.accel_mhz:g}: give 0 (the system clock) or 10..400 MHz")
    board = _board_defaults(args, board, soc=not args.accel_only)
    spec, pipe, t_compile = compile_model(args)
    bench = pipe.bench()
    accuracy = None
    if spec.y_eval is not None:
        accuracy = dict(float=round(top1(float_predictions(spec), spec.y_eval), 4),
                        golden=round(top1(pipe.golden(spec.x_eval), spec.y_eval), 4), images=len(spec.y_eval))
    log(f"[compile] {spec.name} for {board.name}: w{bench['w_bits']}/a{bench['a_bits']}, {pipe.bound_cycles} "
        f"cycles/frame, {bench['resources']['mult']} multipliers"
        + (f" (budget {args.max_multipliers})" if args.max_multipliers else f", the fastest folding that fits {board.name}")
        + (f", accuracy {100 * accuracy['golden']:.2f}% (float {100 * accuracy['float']:.2f}%)" if accuracy else ""))
    out = Path(args.out or f"build/boards/{board.name}-{spec.name}{'-accel' if args.accel_only else ''}")
    try:
        seeds = tuple(int(v) for v in str(args.seed).split(","))
    except ValueError:
        raise InputError(f"--seed {args.seed!r}: expected an integer or a list like 1,2,3")
    if args.accel_only:
        report = flow.build_accel(pipe, board, out, log=log, seeds=seeds, scheduler=args.scheduler)
    else:
        from .platforms.soc_build import build_soc_bitstream
        x, y = (spec.x_eval, spec.y_eval) if spec.x_eval is not None else (np.asarray(spec.samples), None)
        if args.images < 1:
            raise InputError("--images must be at least 1")
        if len(seeds) != 1:
            raise InputError("a SoC build takes one --seed (several: with --accel-only)")
        report = build_soc_bitstream(pipe, board, out, log=log, seed=seeds[0], accel_mhz=args.accel_mhz,
                                     demo=(x[:args.images], None if y is None else y[:args.images], spec.labels))
    # the pipeline's clock: its own where the SoC gives it one, else the system clock
    own = report.get("accel_clk_mhz")
    fmax = report.get("accel_fmax_mhz") if own else report.get("fmax_mhz")
    clock = own or report["target_mhz"]
    report["cycles_per_frame"] = pipe.bound_cycles
    report["pipeline_clock_mhz"] = clock
    report["pipeline_fmax_mhz"] = fmax
    report["fps_at_fmax"] = fmax * 1e6 / pipe.bound_cycles if fmax else None
    report["fps_as_built"] = min(clock, fmax or clock) * 1e6 / pipe.bound_cycles
    if report.get("accel_port") == "csr":
        report["rate_note"] = (f"frames/s here are the pipeline's: in {board.name}'s SoC the CPU moves every word "
                               f"(the CPU-fed stream port), so the SoC's own rate is the firmware's; "
                               f"`lepton-hdl soc --board sim --fit {board.name}` measures it")
    # one frame alone, input to last output beat, measured on the RTL (Verilator: cycles do not
    # depend on how the products are built)
    log("[build] latency: one frame alone in Verilator")
    _, info = pipe.simulate(spec.samples[:1])
    report["latency_cycles"] = info["first_frame_cycles"]
    report["latency_us"] = info["first_frame_cycles"] / fmax if fmax else None
    report["latency_us_at_target"] = info["first_frame_cycles"] / clock
    report["bits"] = dict(w=bench["w_bits"], a=bench["a_bits"])
    report["accuracy"] = accuracy
    report["weights"] = pipe.weights
    Path(out).mkdir(parents=True, exist_ok=True)
    write_build_record(pipe, args.model, out)
    (Path(out) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    r = report["resources"]
    log(f"[build] {board.name}: " + ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in r.items()) +
        f"; Fmax {report['fmax_mhz'] or 0:.1f} MHz (target {report['target_mhz']:g})"
        + (f", the accelerator's own clock {fmax or 0:.1f} MHz (target {own:g})" if own else "")
        + f"; {pipe.bound_cycles} cycles a "
        f"frame: {report['fps_at_fmax'] or 0:,.0f} frames/s at Fmax"
        + (f" (lowest of seeds {', '.join(f'{k}: {v:.1f}' for k, v in report['seeds'].items())})"
           if len(report.get("seeds") or {}) > 1 else "")
        + f", one frame alone {report['latency_cycles']} cycles "
        f"({report['latency_us'] or 0:.1f} us at Fmax); bitstream {report['bitstream']}")
    if report.get("rate_note"):
        log(f"[build] note: {report['rate_note']}")
    return 0


def add_model_args(p):
    p.add_argument("--bits", type=int, help="weight and activation bits (2..8; default 8, or the board's)")
    p.add_argument("--w-bits", type=int, help="weight bits (overrides --bits)")
    p.add_argument("--a-bits", type=int, help="activation bits (overrides --bits)")
    p.add_argument("--fold", action="append", metavar="LAYER=PE,SIMD|LAYER=LANES", help="fix one layer's parallelism (conv/linear: pe,simd; add, multiply, activation, table, abs: lanes)")
    p.add_argument("--target-cycles", type=int, help="allow the pipeline this many cycles per frame")
    p.add_argument("--max-dsp", type=int, help="with a board: the most DSP tiles the accelerator may use "
                   "(default: all the board leaves it); the other products are built in logic")
    p.add_argument("--fps", type=float, help="the cheapest pipeline that makes this many frames a second "
                   "at --clock-mhz (an error if the fastest within the budget cannot)")
    p.add_argument("--clock-mhz", type=float, default=100.0, help="clock for FPS figures and --fps")
    p.add_argument("--weights", choices=("rom", "ram"), default="rom",
                   help="rom: parameters frozen into the gateware; ram: convolution/linear parameters in "
                        "memories the firmware rewrites at run time (lepton_load_weights), same cycles")
    p.add_argument("--samples", metavar="X.npy", help="an ONNX MODEL's calibration inputs: a .npy batch in the "
                   "model's input layout (N x C x H x W or N x F)")


def main(argv=None):
    from .toolpath import env_tools_on_path
    env_tools_on_path()
    from . import __version__
    ap = argparse.ArgumentParser(prog="lepton-hdl", description=__doc__)
    ap.add_argument("--version", action="version", version=f"lepton-hdl {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compile", help="compile MODEL to Verilog, test vectors and a report")
    c.add_argument("model", help="'digits', path/to/file.py:factory or model.onnx (with --samples)")
    c.add_argument("--out", default="out/compile", help="output folder")
    c.add_argument("--verify", action="store_true", help="simulate the RTL (Verilator) on the eval inputs")
    c.add_argument("--max-multipliers", type=int, help="budget: fastest balanced pipeline within it (default 1024)")
    c.add_argument("--board", help="the fastest folding whose estimate fits this board (colorlight_i5, ulx3s, icebreaker)")
    c.add_argument("--soc", action="store_true", help="with --board: leave the SoC's share of the chip")
    c.add_argument("--testbench", choices=("cocotb",), help="also write a cocotb test of the Verilog (the vectors under "
                   "random valid/ready stalls, every output word checked) and run_cocotb.py")
    c.add_argument("--fusesoc", action="store_true", help="also write a FuseSoC CAPI2 .core (Verilog, vectors, the test)")
    add_model_args(c)
    c.set_defaults(func=cmd_compile)
    s = sub.add_parser("soc", help="run MODEL in a LiteX SoC (VexRiscv + accelerator) with firmware")
    s.add_argument("--board", default="sim", help="'sim' (LiteX simulation with Verilator)")
    s.add_argument("--model", default="digits", help="'digits' or path/to/file.py:factory")
    s.add_argument("--images", type=int, default=20, help="test images the firmware runs")
    s.add_argument("--report", help="write the result as JSON")
    s.add_argument("--build-dir", default="build/soc", help="SoC build folder (reused when unchanged)")
    s.add_argument("--timeout", type=float, default=600, help="simulation timeout in seconds")
    s.add_argument("--reload", metavar="OTHER_MODEL", help="with --weights ram: after MODEL's run, load OTHER_MODEL's "
                   "weight image at run time (same gateware) and run it on the same images; a corrupted image "
                   "is refused and the loaded weights kept")
    s.add_argument("--max-multipliers", type=int, help="accelerator budget (default 1024, or --fit's)")
    s.add_argument("--fit", metavar="BOARD", help="simulate the accelerator `build --board BOARD` builds "
                   "(its multiplier budget and bits)")
    s.add_argument("--boot", metavar="BUILD_DIR", help="with --fit: run the demo firmware image of that board "
                   "build (`build --board BOARD --out BUILD_DIR`), unchanged, in a simulated SoC with the board's "
                   "memory map")
    add_model_args(s)
    s.set_defaults(func=cmd_soc)
    b = sub.add_parser("build", help="bitstream for an FPGA board (Yosys + nextpnr)")
    b.add_argument("--board", required=True, help="colorlight_i5, ulx3s or icebreaker")
    b.add_argument("--model", default="digits", help="'digits' or path/to/file.py:factory")
    b.add_argument("--accel-only", action="store_true", help="the accelerator alone (resources and Fmax)")
    b.add_argument("--out", help="output folder (not under /tmp)")
    b.add_argument("--max-multipliers", type=int, help="accelerator budget (default: the board's)")
    b.add_argument("--seed", default="1", help="nextpnr seed; a list (1,2,3) places and routes the accelerator "
                   "alone once per seed, on Dask, and reports the lowest Fmax (SoC builds: one seed)")
    b.add_argument("--scheduler", help="Dask scheduler address for --seed lists (default: a local cluster)")
    b.add_argument("--images", type=int, default=20, help="test images in the demo firmware the SoC bitstream "
                   "boots into (as many as the block RAM left holds)")
    b.add_argument("--accel-mhz", type=float, help="SoC builds: the accelerator's own clock, behind asynchronous "
                   "FIFOs (default: the board's, e.g. ulx3s 70; 0: the system clock)")
    add_model_args(b)
    b.set_defaults(func=cmd_build)
    e = sub.add_parser("explore", help="Pareto front of speed against LUT/DSP/BRAM for MODEL on a board")
    e.add_argument("model", help="'digits' or path/to/file.py:factory")
    e.add_argument("--board", required=True, help="colorlight_i5, ulx3s or icebreaker")
    e.add_argument("--soc", action="store_true", help="leave the SoC's share of the chip")
    e.add_argument("--out", default="out/explore", help="folder for pareto.json, pareto.md, pareto.png")
    e.add_argument("--validate", type=int, default=0, metavar="K", help="build K front points (Yosys + nextpnr, on Dask)")
    e.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    add_model_args(e)
    e.set_defaults(func=cmd_explore)
    w = sub.add_parser("weights", help="the weight image of MODEL for a build compiled with --weights ram")
    w.add_argument("model", help="'digits', 'digits_seed1' or path/to/file.py:factory (same topology as the build)")
    w.add_argument("--for", dest="for_dir", required=True, metavar="BUILD_DIR",
                   help="a compile/build/soc folder of a --weights ram build (its lepton_build.json)")
    w.add_argument("--out", required=True, help="the image file to write")
    w.set_defaults(func=cmd_weights)
    f = sub.add_parser("filter", help="an image filter on a real photo in the simulated SoC (PNGs + report)")
    f.add_argument("--board", default="sim", help="'sim' (LiteX simulation with Verilator)")
    f.add_argument("--filter", required=True, help="blur, sobel, sharpen or denoise")
    f.add_argument("--image", default="camera", help="a scikit-image sample photo: camera, astronaut, coffee, ...")
    f.add_argument("--size", type=int, help="scale the photo's shorter side to N pixels and crop a square "
                   "(default: the photo's real size)")
    f.add_argument("--out", default="out/filter", help="folder for input/output/diff PNGs")
    f.add_argument("--report", help="write the result as JSON")
    f.add_argument("--build-dir", default="build/soc-filter", help="SoC build folder (reused when unchanged)")
    f.add_argument("--timeout", type=float, default=3600, help="simulation timeout in seconds")
    f.set_defaults(func=cmd_filter)
    d = sub.add_parser("demo", help="the main job on the default model")
    d.set_defaults(func=cmd_demo)
    args = ap.parse_args(argv)
    from .errors import LeptonError, ToolMissing
    for opt in ("images", "timeout", "size"):
        v = getattr(args, opt, None)
        if v is not None and not v > 0:
            print(f"lepton-hdl: error: --{opt} {v:g}: must be at least 1" if opt in ("images", "size") else
                  f"lepton-hdl: error: --{opt} {v:g}: must be positive", file=sys.stderr)
            return 2
    try:
        return args.func(args)
    except (LeptonError, ToolMissing) as e:
        print(f"lepton-hdl: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except OSError as e:
        # an --out folder that cannot be written, a file that cannot be read, a tool that failed
        if e.filename:
            print(f"lepton-hdl: error: {e.filename}: {e.strerror or e} (check --out and the paths given)",
                  file=sys.stderr)
        else:
            print(f"lepton-hdl: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lepton-hdl: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:
        # a package an extra brings (pip install .[torch], .[onnx]): say which
        extra = OPTIONAL_PACKAGES.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"lepton-hdl: error: this needs the {e.name.split('.')[0]} package: pip install 'lepton_hdl[{extra}]'",
              file=sys.stderr)
        return 2


# packages the base install leaves out, and the extra that brings each
OPTIONAL_PACKAGES = {"torch": "torch", "sklearn": "torch", "onnx": "onnx", "cocotb": "dev", "cocotb_tools": "dev",
                     "brevitas": "dev", "skimage": "dev", "scipy": "dev", "matplotlib": "dev", "distributed": "dev"}


def cmd_filter(args):
    """An image filter on a real photo in the simulated SoC: PNGs, report, verdict."""
    from . import filtering
    if args.board != "sim":
        raise InputError(f"--board {args.board}: only 'sim' runs firmware here; for a board, "
                         f"`lepton-hdl build --board {args.board} --accel-only` builds the filter's accelerator")
    r = filtering.run(args.filter, args.image, size=args.size, out_dir=args.out, report=args.report,
                      build_root=args.build_dir, timeout=args.timeout, log=log)
    H, W, C = r["size"]
    if r.get("files"):
        log(f"[filter] wrote {r['files']['side_by_side']} (input | output) and {r['files']['diff']}")
    log(f"[filter] {'PASS' if r['ok'] else 'FAIL'}: {r['filter']} on {r['image']} {H}x{W}x{C}: "
        f"{r['mismatches'] if r['mismatches'] is not None else '?'} pixels differ from the golden model "
        f"(CPU C: {r.get('cpu_mismatches')}), {r.get('cycles') or 0:,} cycles = {r.get('px_per_cycle') or 0:.3f} "
        f"px/cycle with DMA (bound {r['bound_px_per_cycle']:.3f}); CPU {r.get('cpu_cycles') or 0:,} cycles, "
        f"speedup {r.get('speedup') or 0:.0f}x (tuned C {r.get('speedup_tuned') or 0:.0f}x); "
        f"PSNR {r.get('psnr_db')} dB against {r.get('psnr_reference')}; {r['total_s']} s")
    return 0 if r["ok"] else 1


def cmd_demo(args):
    return main(["soc", "--board", "sim", "--fit", "ulx3s", "--model", "digits", "--images", "20",
                 "--report", "out/demo/report.json"])


if __name__ == "__main__":
    sys.exit(main())

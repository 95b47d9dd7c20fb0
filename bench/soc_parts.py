#!/usr/bin/env python3
"""What each part of a board's SoC takes: the SoC ``lepton-hdl build`` makes, synthesized by Yosys
whole and then with one part left out at a time (the accelerator peripheral, the SPI flash, the
timer, its 64-bit uptime counter, the UART, the ctrl block, the bus timeout). The difference to
the whole SoC is that part's share; the accelerator alone (its pipeline, no DMA or CSRs) is
synthesized too, so the peripheral's own logic (DMA engines, CSRs, converters) shows.

    python bench/soc_parts.py [--board icebreaker] [--model digits] [--bits 4] [--max-multipliers 9]

Yosys only (no place and route: an iCE40 logic cell holds one LUT4 and one flip-flop, so the
cells nextpnr uses lie between max(LUT4, FF) and LUT4 + FF). Writes ``bench/soc_parts.md``;
logs stay in ``build/soc-parts/<variant>/``.
"""
import argparse
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

# (variant, what is left out, _soc_class arguments)
VARIANTS = [
    ("whole", "-", {}),
    ("no-accelerator", "the accelerator peripheral (pipeline, DMA engines or stream port, CSRs)",
     dict(with_accel=False)),
    ("no-flash", "the SPI flash controller (the BIOS runs from it in place)", dict(with_flash=False)),
    ("no-timer", "the timer (with its uptime counter)", dict(soc_kwargs=dict(with_timer=False, timer_uptime=False))),
    ("no-uptime", "the timer's 64-bit uptime counter", dict(soc_kwargs=dict(timer_uptime=False))),
    ("no-uart", "the UART", dict(soc_kwargs=dict(with_uart=False))),
    ("no-ctrl", "the ctrl block (reset, bus error counter, and scratch where the board keeps it)",
     dict(soc_kwargs=dict(with_ctrl=False))),
    ("no-timeout", "the bus timeout", dict(soc_kwargs=dict(bus_timeout=None))),
]


def cells_of(log: str, top: str) -> dict:
    st = log[log.rfind(f"=== {top} ==="):]
    return {k: int(v) for v, k in re.findall(r"(\d+)\s+(SB_\w+|LUT4|CCU2C|TRELLIS_\w+|DP16KD|MULT18X18D)\b", st)}


def soc_variant(pipe, board, out: Path, kw: dict) -> dict:
    """Yosys on ``board``'s SoC with ``kw`` (``_soc_class`` arguments)."""
    from litex.soc.integration.builder import Builder
    from lepton_hdl.platforms import soc_build as sb
    from lepton_hdl.platforms.flow import build_options, yosys_units
    from lepton_hdl.soc.sim import _redirect_output
    platform, tgt = sb._platform(board)
    sb._wrappers(out / "toolbin")
    sys_clk = int(50e6) if board.family == "ecp5" else int(24e6)
    soc = sb._soc_class(pipe, board, platform, tgt, build_options(board, soc=True), sys_clk, **kw)()
    g = out / "gateware"
    sb.add_logic_multipliers(platform, g)
    with _redirect_output(out / "generate.log"):
        Builder(soc, output_dir=str(out), compile_software=False, compile_gateware=False).build(run=False)
    name = board.litex_boards
    subprocess.run(["yosys", "-q", "-l", "yosys.log", f"{name}.ys"], cwd=g, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return yosys_units(cells_of((g / "yosys.log").read_text(), name), board.family)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="icebreaker")
    ap.add_argument("--model", default="digits")
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--max-multipliers", type=int, default=9)
    ap.add_argument("--build-dir", default="build/soc-parts")
    ap.add_argument("--md", default=str(HERE / "soc_parts.md"))
    a = ap.parse_args()
    logging.disable(logging.INFO)
    import lepton_hdl
    from lepton_hdl.models import load
    from lepton_hdl.platforms import boards, flow
    from lepton_hdl.platforms.jobs import synth_graph
    board = boards.get(a.board)
    spec = load(a.model)
    pipe = lepton_hdl.compile(spec.model, spec.samples, bits=a.bits, max_multipliers=a.max_multipliers)
    root = Path(a.build_dir).resolve() / f"{board.name}-{spec.name}"
    rows = {}
    off = dict(board.soc_options)
    for name, what, kw in VARIANTS:
        soc_kw = kw.get("soc_kwargs", {})
        if soc_kw and all(k in off and off[k] == v for k, v in soc_kw.items()):
            rows[name] = (what, None)          # the board's SoC leaves it out already
            continue
        print(f"  {name} ...", file=sys.stderr, flush=True)
        rows[name] = (what, soc_variant(pipe, board, root / name, kw))
    print("  the accelerator alone ...", file=sys.stderr, flush=True)
    opts = flow.build_options(board, soc=True)
    alone = synth_graph(pipe.graph, board.family, opts.dsp_tiles, str(root / "accelerator-alone"))
    print("  the pipeline block by block ...", file=sys.stderr, flush=True)
    from lepton_hdl.platforms.jobs import synth_block
    blocks = [(n.label, type(n.op).__name__, synth_block(n.params, board.family, opts.dsp_tiles,
                                                           str(root / "blocks" / n.name)))
              for n in pipe.graph.nodes if n.params is not None and n.op.lowered and not n.op.passthrough]
    whole = rows["whole"][1]
    keys = ("LUT", "FF", "BRAM", "DSP")
    lut = "LUT4" if board.family == "ice40" else "LUT (Yosys units)"
    lines = [f"Generated by `python bench/soc_parts.py --board {board.name} --model {a.model} --bits {a.bits} "
             f"--max-multipliers {a.max_multipliers}` ({spec.name} w{a.bits}/a{a.bits}, {pipe.bound_cycles:,} "
             f"cycles/frame, {pipe.bench()['resources']['mult']} multipliers; Yosys only).", "",
             f"| part | {lut} | FF | BRAM | DSP |", "|---|---:|---:|---:|---:|",
             "| the whole SoC | " + " | ".join(f"{whole[k]:,}" for k in keys) + " |"]
    for name, (what, r) in rows.items():
        if name != "whole" and r is None:
            lines.append(f"| {what}: not in this board's SoC (`Board.soc_options`) | - | - | - | - |")
        elif name != "whole":
            lines.append(f"| {what} | " + " | ".join(f"{whole[k] - r[k]:,}" for k in keys) + " |")
    acc = rows["no-accelerator"][1]
    lines.append("| of which the pipeline alone | " + " | ".join(f"{alone[k]:,}" for k in keys) + " |")
    lines.append(f"| of which {'the stream port' if board.accel_port == 'csr' else 'DMA engines'}, CSRs, converters | " + " | ".join(f"{whole[k] - acc[k] - alone[k]:,}" for k in keys)
                 + " |")
    lines.append("| the SoC without the accelerator | " + " | ".join(f"{acc[k]:,}" for k in keys) + " |")
    lines += ["", "The pipeline block by block (each synthesized alone, so a little more than in the whole):", "",
              f"| block | op | {lut} | FF | BRAM | DSP |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {label} | {op} | " + " | ".join(f"{r[k]:,}" for k in keys) + " |" for label, op, r in blocks]
    text = "\n".join(lines) + "\n"
    Path(a.md).write_text(text)
    (root / "parts.json").write_text(json.dumps({k: v[1] for k, v in rows.items() if v[1] is not None}
                                                | {"alone": alone}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

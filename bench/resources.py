#!/usr/bin/env python3
"""Calibrate the resource model against Yosys, per family, and check it on whole models.

    python bench/resources.py [--family ecp5 --family ice40] [--scheduler ADDRESS] [--no-fit]
                              [--models digits,residual,gallery,resnet8] [--out bench/resources.md]

1. Sweeps blocks (every op, several foldings, with and without DSP tiles), synthesizes each
   alone with Yosys (``synth_ecp5`` / ``synth_ice40 -dsp``) on Dask, and fits the LUT and FF
   coefficients of ``lepton_hdl.resources`` (non-negative least squares) into
   ``lepton_hdl/data/calibration.json``.
2. Synthesizes whole models as their boards fold them and prints estimate vs Yosys for LUT, FF,
   block-RAM tiles and DSP tiles (DSP and block RAM must match exactly: the script fails otherwise).

Each job's logs stay in ``build/resources/<family>/<job>/``; a job whose netlist is unchanged
reuses its earlier synthesis.
"""
import argparse
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from blocks import CASES  # noqa: E402

from lepton_hdl import resources  # noqa: E402
from lepton_hdl.hw.options import FAMILY  # noqa: E402
from lepton_hdl.platforms import jobs  # noqa: E402

BOARD_DSP = {"ecp5": 156, "ice40": 8}        # the whole-model checks: ULX3S, iCEBreaker tiles
MODELS = {"digits": 98, "residual": 128, "gallery": 128, "resnet8": 256, "dscnn": 64}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sweep(family):
    """``{key: (params, dsp_tiles)}`` of the calibration blocks."""
    from lepton_hdl.ops import LaneFolded
    out = {}
    for name, make, folds in CASES:
        for pe, simd in folds:
            p = make(np.random.default_rng(1), pe, simd)
            tag = name.split(" ")[0] + "_" + "x".join(map(str, p.op.out_spec(p)[0])) + ("" if pe is None else f"_{pe}x{simd}")
            n_prod = len(resources.structure(p, FAMILY[family]).products)
            # all products in logic only where that stays small enough to synthesize quickly
            for dsp in ((0,) if n_prod <= 40 else ()) + ((None,) if n_prod else ()):
                out[f"{tag}_dsp{'all' if dsp is None else dsp}"] = (p, dsp)
            if isinstance(p.op, LaneFolded) and p.op.can_fold(p):
                q = p.op.with_folding(p, p.op.foldings(p)[1].lanes)
                out[f"{tag}_lanes{q.lanes}_dsp0"] = (q, 0)
    return out


def block_features(p, family, dsp):
    """The model's features of calibration block ``p`` (synthesized alone: no FIFO, skid
    buffer or fork around it) and how many of its products take a tile."""
    opts = FAMILY[family]
    st = resources.structure(p, opts)
    f = dict(mult=p.op.estimate(p)["mult"], products=st.products, memories=st.memories, gates=dict(st.gates))
    take = resources.tiles_taken(st.products, opts.dsp, float("inf") if dsp is None else dsp)
    return f, take


MEMORY_HEADER = re.compile(r"// Memory (\S+): (\d+)-words x (\d+)-bit\n//-+\n((?://.*\n)+)")


def yosys_memories(out_dir):
    """``[(Mem, in_block_ram)]``: every memory of one synthesis (its shape and ports from the
    Verilog LiteX wrote) and where Yosys' ``memory_libmap`` put it (from the Yosys log)."""
    d = Path(out_dir)
    try:
        verilog, ylog = (d / "top.v").read_text(), (d / "yosys.log").read_text()
    except FileNotFoundError:
        return []
    where = dict(re.findall(r"mapping memory top\.(\S+) via (\S+)", ylog))
    where.update((n, "FF") for n in re.findall(r"using FF mapping for memory top\.(\S+)", ylog))
    out = []
    for name, depth, width, ports in MEMORY_HEADER.findall(verilog):
        if name not in where:
            continue
        m = resources.Mem(int(depth), int(width), "Write: Sync" not in ports, "Read: Async" in ports)
        out.append((m, where[name] != "FF" and "DPR16X4" not in where[name]))
    return out


def fit_mem_rule(family, memories, cal):
    """The block-RAM rule (``resources.in_bram``) that agrees with Yosys on the most memories
    (``memories``: ``[(Mem, in_block_ram)]`` from every synthesis of the family)."""
    best = None
    for min_bits in (0, 256, 512, 1024, 2048, 4096):
        for min_depth in (0, 4, 8, 16, 32, 48, 50, 52, 54, 64, 128):
            for rom_min_bits in (0, 1024, 2048, 4096, 8192):
                for rom_min_depth in (0, 32, 64, 65, 128, 144, 256):
                    rule = dict(min_bits=min_bits, min_depth=min_depth, rom_min_bits=rom_min_bits,
                                rom_min_depth=rom_min_depth)
                    hits = sum(resources.in_bram(m, family, rule) == b for m, b in memories)
                    if best is None or hits > best[0]:
                        best = (hits, rule)
    cal[family]["mem_rule"] = best[1]
    log(f"[resources] {family}: block-RAM rule {best[1]} agrees with Yosys on {best[0]}/{len(memories)} memories")
    return cal


# a whole model weighs as much as this many blocks in the fit: the boards are chosen on whole
# models, and only they hold the glue between blocks
MODEL_WEIGHT = 5


def solve(rows, terms, target):
    """Non-negative least squares on relative error of ``target`` (``rows``: ``(features,
    yosys, weight)``): a factor on each term and a constant."""
    from scipy.optimize import nnls
    A = np.array([[r[0][k] for k in terms] + [1.0] for r in rows], dtype=float)
    y = np.array([r[1][target] for r in rows], dtype=float)
    w = np.array([r[2] for r in rows], dtype=float) / np.maximum(y, 100.0)
    x, _ = nnls(A * w[:, None], y * w)
    return {k: round(float(v), 4) for k, v in zip(terms + ("const",), x)}


def apply(coef, feats) -> float:
    return sum(v * feats.get(k, 0) for k, v in coef.items() if k != "const") + coef["const"]


def fit(family, rows, cal):
    """Fit the LUT and FF coefficients of ``family`` (``resources.LUT_TERMS``,
    ``resources.FF_TERMS``) by non-negative least squares on relative error (rows:
    ``(features, yosys, weight)``)."""
    c = cal[family]
    c["lut_terms"] = solve(rows, resources.LUT_TERMS, "LUT")
    c["ff_terms"] = solve(rows, resources.FF_TERMS, "FF")
    for k in ("lut", "ff"):
        c.pop(k, None)
    return cal


def model_features(pipe, family, cal):
    """The summed features of a whole model, as its estimate reads them."""
    tot = {}
    for b in resources.estimate_graph(pipe.graph, family, BOARD_DSP[family], cal=cal).blocks:
        for k, v in b.features.items():
            tot[k] = tot.get(k, 0) + v
    return tot


def compile_model(name, budget):
    import lepton_hdl
    from lepton_hdl.examples import dscnn, resnet8, zoo
    from lepton_hdl.models import load
    if name == "digits":
        spec = load("digits")
        m, x = spec.model, spec.samples
    elif name == "resnet8":
        m, x = resnet8.factory()[:2]
    elif name == "dscnn":
        m, x = dscnn.factory()[:2]
    else:
        m, x = zoo.make(name)
    return lepton_hdl.compile(m, x, max_multipliers=budget, name=name)


def pct(est, real):
    return f"{100 * (est - real) / real:+.1f}%" if real else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", action="append", choices=["ecp5", "ice40"])
    ap.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    ap.add_argument("--no-fit", action="store_true", help="keep calibration.json, only compare")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip", default="", help="FAMILY/MODEL,... whole-model syntheses to leave out")
    ap.add_argument("--hold-out", default="ice40/resnet8,ice40/dscnn",
                    help="FAMILY/MODEL,... whole models synthesized and reported but not fitted on (default: "
                         "ice40/resnet8 and ice40/dscnn, many times the largest iCE40 part: they would pull the iCE40 fit away from the "
                         "models that fit an iCE40)")
    ap.add_argument("--reuse", action="store_true", help="tabulate the syntheses already in --build-dir, run none")
    ap.add_argument("--out", default=str(HERE / "resources.md"))
    ap.add_argument("--build-dir", default="build/resources")
    args = ap.parse_args()
    families = args.family or ["ecp5", "ice40"]
    cl = None if args.reuse else jobs.client(args.scheduler, log=log)

    def run_all(fn, todo):
        if not args.reuse:
            return jobs.run_all(cl, fn, todo, log=log)
        from lepton_hdl.platforms.flow import yosys_units
        out = {}
        for key, a in todo.items():
            st = Path(a["out_dir"]) / "stat.json"
            if st.exists():
                cells = json.loads(st.read_text())["design"]["num_cells_by_type"]
                out[key] = yosys_units(cells, a["family"])
            else:
                out[key] = {"error": "no earlier synthesis (--reuse)"}
        return out
    cal = json.loads(json.dumps(resources.calibration()))
    lines = []
    # 1. the block sweep
    blocks = {}
    for fam in families:
        for key, (p, dsp) in sweep(fam).items():
            blocks[(fam, key)] = (p, dsp)
    log(f"[resources] {len(blocks)} block syntheses")
    res = run_all(jobs.synth_block, {
        f"{fam}/{key}": dict(params=p, family=fam, dsp_tiles=dsp, out_dir=os.path.abspath(f"{args.build_dir}/{fam}/{key}"))
        for (fam, key), (p, dsp) in blocks.items()})
    # 2. whole models, as the boards fold them
    models = [m for m in args.models.split(",") if m]
    pipes = {m: compile_model(m, MODELS[m]) for m in models}
    model_dirs = {f"{fam}/{m}": os.path.abspath(f"{args.build_dir}/{fam}/model_{m}")
                  for fam in families for m in models if f"{fam}/{m}" not in args.skip.split(",")}
    model_res = run_all(jobs.synth_graph, {
        key: dict(graph=pipes[key.split("/")[1]].graph, family=key.split("/")[0],
                  dsp_tiles=BOARD_DSP[key.split("/")[0]], out_dir=d) for key, d in model_dirs.items()})
    rows = {fam: [(key, res[f"{fam}/{key}"]) for (f, key) in blocks if f == fam and "error" not in res[f"{fam}/{key}"]]
            for fam in families}
    left_out = {}
    if not args.no_fit:
        for fam in families:
            # where Yosys put every memory of every synthesis, blocks and whole models
            mems = [mb for key, _ in rows[fam] for mb in yosys_memories(f"{args.build_dir}/{fam}/{key}")]
            mems += [mb for key, d in model_dirs.items() if key.startswith(fam + "/") for mb in yosys_memories(d)]
            cal = fit_mem_rule(fam, mems, cal)
            data = []
            for key, r in rows[fam]:
                p, dsp = blocks[(fam, key)]
                f, take = block_features(p, fam, dsp)
                data.append((resources.block_cost(key, p.op.name, f, fam, take, cal).features, r, 1.0))
            whole = {m: (model_features(pipes[m], fam, cal), r, MODEL_WEIGHT)
                     for m in models if "error" not in (r := model_res.get(f"{fam}/{m}", {"error": ""}))}
            held = [m for m in whole if f"{fam}/{m}" in args.hold_out.split(",")]
            cal = fit(fam, data + [v for m, v in whole.items() if m not in held], cal)
            # each whole model's LUT estimate when it is left out of the fit: how far the model
            # can be trusted on a model it has not seen
            for m, row in whole.items():
                rest = data + [v for k, v in whole.items() if k != m and k not in held]
                left_out[(fam, m)] = round(apply(solve(rest, resources.LUT_TERMS, "LUT"), row[0]))
        resources.CALIBRATION.parent.mkdir(exist_ok=True)
        resources.CALIBRATION.write_text(json.dumps(cal, indent=1, sort_keys=True) + "\n")
        resources.calibration.cache_clear()
        log(f"[resources] wrote {resources.CALIBRATION}")
    lines.append(f"Generated by `python bench/resources.py` (Yosys 0.70, `synth_ecp5` / `synth_ice40 -dsp`), "
                 f"{time.strftime('%Y-%m-%d')}.\n")
    for fam in families:
        lines += [f"\n### Blocks, {fam}\n", "| block | DSP tiles | LUT est | LUT Yosys | err | FF est | FF Yosys | BRAM est/Yosys | DSP est/Yosys |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        errs = []
        for key, r in rows[fam]:
            p, dsp = blocks[(fam, key)]
            f, take = block_features(p, fam, dsp)
            bc = resources.block_cost(key, p.op.name, f, fam, take, cal)
            errs.append(abs(bc.LUT - r["LUT"]) / max(r["LUT"], 1))
            lines.append(f"| {key} | {'all' if dsp is None else dsp} | {bc.LUT} | {r['LUT']} | {pct(bc.LUT, r['LUT'])} | "
                         f"{bc.FF} | {r['FF']} | {bc.BRAM}/{r['BRAM']} | {bc.DSP}/{r['DSP']} |")
        if errs:
            lines.append(f"\nblocks: median |LUT error| {100 * float(np.median(errs)):.1f}%, "
                         f"max {100 * max(errs):.1f}% over {len(errs)} blocks\n")
    res = model_res
    lines += ["\n### Whole models\n",
              "| model | family | folding budget | cycles/frame | DSP tiles allowed | LUT est | LUT Yosys | err | err left out of the fit | FF est | FF Yosys | BRAM est/Yosys | DSP est/Yosys |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ok = True
    for fam in families:
        for m in models:
            r = res.get(f"{fam}/{m}")
            if r is None:
                lines.append(f"| {m} | {fam} | {MODELS[m]} | - | - | not synthesized (--skip) |")
                continue
            if "error" in r:
                lines.append(f"| {m} | {fam} | {MODELS[m]} | - | - | build failed: {r['error'][:80]} |")
                ok = False
                continue
            e = resources.estimate_graph(pipes[m].graph, fam, BOARD_DSP[fam]).total
            lines.append(f"| {m} | {fam} | {MODELS[m]} | {pipes[m].bound_cycles} | {BOARD_DSP[fam]} | {e['LUT']} | {r['LUT']} | "
                         f"{pct(e['LUT'], r['LUT'])} | {pct(left_out[(fam, m)], r['LUT']) if (fam, m) in left_out else '-'} | "
                         f"{e['FF']} | {r['FF']} | {e['BRAM']}/{r['BRAM']} | {e['DSP']}/{r['DSP']} |")
            ok &= e["DSP"] == r["DSP"] and e["BRAM"] == r["BRAM"]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    if cl is not None:
        cl.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Calibrate the resource model against Yosys, per family, and check it on whole models.

    python bench/resources.py [--family ecp5 --family ice40] [--scheduler ADDRESS] [--no-fit]
                              [--models digits,residual,gallery,resnet8] [--out bench/resources.md]

1. Sweeps blocks (every op, several foldings, with and without DSP tiles), synthesizes each
   alone with Yosys (``synth_ecp5`` / ``synth_ice40 -dsp``) on Dask, and fits the LUT and FF
   coefficients of ``lepton_hdl.resources`` (non-negative least squares) into
   ``lepton_hdl/data/calibration.json``.
2. Synthesizes whole models as their boards fold them and prints estimate vs Yosys for LUT, FF,
   block-RAM tiles and DSP tiles (DSP and block RAM must match exactly).

Each job's logs stay in ``build/resources/<family>/<job>/``; a job whose netlist is unchanged
reuses its earlier synthesis.
"""
import argparse
import dataclasses
import json
import os
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
MODELS = {"digits": 98, "residual": 128, "gallery": 128, "resnet8": 256}


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
    opts = FAMILY[family]
    st = resources.structure(p, opts)
    est = p.op.estimate(p)
    f = dict(lut=est["lut"], ff=est["ff"], mult=est["mult"], products=st.products, memories=st.memories)
    take = resources.tiles_taken(st.products, opts.dsp, float("inf") if dsp is None else dsp)
    return f, take


def fit_mem_rule(family, blocks, cal):
    """The block-RAM rule (``resources.in_bram``) that gets the most blocks' tile counts exact:
    ``blocks`` is ``[(memories, yosys_bram)]``."""
    best = None
    for min_bits in (0, 256, 512, 1024, 2048, 4096, 8192, 16384):
        for min_depth in (0, 16, 32, 64, 128, 256, 512):
            for rom_min_bits in (0, 256, 512, 1024, 2048, 4096, 8192):
                rule = dict(min_bits=min_bits, min_depth=min_depth, rom_min_bits=rom_min_bits)
                hits = sum(sum(resources.bram_tiles(m, family) for m in mems if resources.in_bram(m, family, rule)) == b
                           for mems, b in blocks)
                if best is None or hits > best[0]:
                    best = (hits, rule)
    cal[family]["mem_rule"] = best[1]
    log(f"[resources] {family}: block-RAM rule {best[1]} exact on {best[0]}/{len(blocks)} blocks")
    return cal


def fit(family, rows, cal):
    """Fit the LUT and FF coefficients of ``family`` by non-negative least squares on relative
    error (rows: ``(op, features, yosys)``): per op a factor on its datapath figure, shared
    factors on the other terms (``resources.LUT_TERMS``) and a constant."""
    from scipy.optimize import nnls
    ops = sorted({r[0] for r in rows})
    c = cal[family]

    def solve(cols_of, target):
        A = np.array([cols_of(r) for r in rows], dtype=float)
        y = np.array([target(r) for r in rows], dtype=float)
        w = 1.0 / np.maximum(y, 100.0)             # relative error: small blocks count as much
        x, _ = nnls(A * w[:, None], y * w)
        return x

    x = solve(lambda r: [r[1]["lut"] if o == r[0] else 0.0 for o in ops] +
              [r[1][k] for k in resources.LUT_TERMS] + [1.0], lambda r: r[2]["LUT"])
    c["lut"] = {o: round(float(x[i]), 4) for i, o in enumerate(ops)}
    c["lut"]["*"] = round(float(np.median(x[:len(ops)])), 4)
    c["lut_terms"] = {k: round(float(v), 4) for k, v in zip(resources.LUT_TERMS + ("const",), x[len(ops):])}
    x = solve(lambda r: [r[1]["ff"] if o == r[0] else 0.0 for o in ops] + [r[1]["ff_mem"], 1.0],
              lambda r: r[2]["FF"])
    c["ff"] = {o: round(float(x[i]), 4) for i, o in enumerate(ops)}
    c["ff"]["*"] = round(float(np.median(x[:len(ops)])), 4)
    c["ff_terms"] = {"ff_mem": round(float(x[len(ops)]), 4), "const": round(float(x[len(ops) + 1]), 1)}
    return cal


def compile_model(name, budget):
    import lepton_hdl
    from lepton_hdl.examples import resnet8, zoo
    from lepton_hdl.models import load
    if name == "digits":
        spec = load("digits")
        m, x = spec.model, spec.samples
    elif name == "resnet8":
        m, x = resnet8.factory()[:2]
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
    ap.add_argument("--reuse", action="store_true", help="tabulate the syntheses already in --build-dir, run none")
    ap.add_argument("--out", default=str(HERE / "resources.md"))
    ap.add_argument("--build-dir", default="build/resources")
    args = ap.parse_args()
    families = args.family or ["ecp5", "ice40"]
    cl = None if args.reuse else jobs.client(args.scheduler, log=log)

    def run_all(fn, todo):
        if not args.reuse:
            return jobs.run_all(cl, fn, todo, log=log)
        from lepton_hdl.platforms.flow import YOSYS_UNITS
        out = {}
        for key, a in todo.items():
            st = Path(a["out_dir"]) / "stat.json"
            if st.exists():
                cells = json.loads(st.read_text())["design"]["num_cells_by_type"]
                out[key] = {k: sum(cells.get(c, 0) * w for c, w in YOSYS_UNITS[a["family"]][k].items())
                            for k in YOSYS_UNITS[a["family"]]}
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
    rows = {fam: [] for fam in families}
    for (fam, key), (p, dsp) in blocks.items():
        r = res[f"{fam}/{key}"]
        if "error" in r:
            continue
        f, take = block_features(p, fam, dsp)
        bc = resources.block_cost(key, p.op.name, f, fam, take, cal)
        rows[fam].append((p.op.name, dict(bc.features), r, key, bc))
    if not args.no_fit:
        for fam in families:
            mems = [(block_features(blocks[(fam, key)][0], fam, blocks[(fam, key)][1])[0]["memories"], r["BRAM"])
                    for _, _, r, key, _ in rows[fam]]
            cal = fit_mem_rule(fam, mems, cal)
            # the LUT/FF features depend on the rule (distributed RAM cells): recompute them
            for i, (op, feats, r, key, _) in enumerate(rows[fam]):
                p, dsp = blocks[(fam, key)]
                f, take = block_features(p, fam, dsp)
                bc = resources.block_cost(key, op, f, fam, take, cal)
                rows[fam][i] = (op, dict(bc.features), r, key, bc)
            cal = fit(fam, [(op, f, r) for op, f, r, _, _ in rows[fam]], cal)
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
        for op, feats, r, key, _ in rows[fam]:
            p, dsp = blocks[(fam, key)]
            f, take = block_features(p, fam, dsp)
            bc = resources.block_cost(key, op, f, fam, take, cal)
            errs.append(abs(bc.LUT - r["LUT"]) / max(r["LUT"], 1))
            lines.append(f"| {key} | {'all' if dsp is None else dsp} | {bc.LUT} | {r['LUT']} | {pct(bc.LUT, r['LUT'])} | "
                         f"{bc.FF} | {r['FF']} | {bc.BRAM}/{r['BRAM']} | {bc.DSP}/{r['DSP']} |")
        if errs:
            lines.append(f"\nblocks: median |LUT error| {100 * float(np.median(errs)):.1f}%, "
                         f"max {100 * max(errs):.1f}% over {len(errs)} blocks\n")
    # 2. whole models
    models = [m for m in args.models.split(",") if m]
    pipes = {m: compile_model(m, MODELS[m]) for m in models}
    res = run_all(jobs.synth_graph, {
        f"{fam}/{m}": dict(graph=pipes[m].graph, family=fam, dsp_tiles=BOARD_DSP[fam],
                           out_dir=os.path.abspath(f"{args.build_dir}/{fam}/model_{m}"))
        for fam in families for m in models if f"{fam}/{m}" not in args.skip.split(",")})
    lines += ["\n### Whole models\n",
              "| model | family | folding budget | cycles/frame | DSP tiles allowed | LUT est | LUT Yosys | err | FF est | FF Yosys | BRAM est/Yosys | DSP est/Yosys |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
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
                         f"{pct(e['LUT'], r['LUT'])} | {e['FF']} | {r['FF']} | {e['BRAM']}/{r['BRAM']} | {e['DSP']}/{r['DSP']} |")
            ok &= e["DSP"] == r["DSP"]
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)
    if cl is not None:
        cl.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Fuzz campaign: random valid graphs (``lepton_hdl.fuzz``) checked at three levels, as Dask
jobs (a local cluster sized to the machine, or ``--scheduler ADDRESS``).

    python bench/fuzz.py --n 1000 [--levels float,c,rtl] [--first-seed 100000] [--scheduler ADDRESS]
                         [--workers N] [--resume] [--wide]

Each graph is drawn from its seed (``first-seed + i``), so any failure reproduces with
``lepton_hdl.fuzz.check(draw_spec(numpy_draw(seed), seed))``. Ends with one line
``graphs=N mismatches=M`` (M: graphs with a mismatching element, a cycle count off its bound, or
a compile error), then each failing graph, the smallest first. Per-graph results are appended to
``--out`` (JSON lines) as they arrive; ``--resume`` keeps the results already there for the same
levels and runs only the missing seeds, so a campaign cut short continues where it stopped.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def one(seed: int, levels: tuple, wide: bool = False) -> dict:
    from lepton_hdl.fuzz import check, draw_spec, numpy_draw
    spec = draw_spec(numpy_draw(seed), seed, wide=wide)
    t0 = time.perf_counter()
    try:
        r = check(spec, levels=levels)
    except Exception as e:                       # every drawn graph is valid: a failure is a bug
        r = dict(mismatches=1, error=f"{type(e).__name__}: {str(e)[:300]}", spec=str(spec))
    r["seed"] = seed
    r["synth_s"] = round(time.perf_counter() - t0, 1)
    r["size"] = len(str(spec))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--levels", default="float,c,rtl")
    ap.add_argument("--first-seed", type=int, default=100000)
    ap.add_argument("--scheduler", help="address of an existing Dask scheduler (default: a local cluster)")
    ap.add_argument("--out", default="build/fuzz/results.jsonl")
    ap.add_argument("--wide", action="store_true",
                    help="wide frames (64-72 pixels): the video-rate window generator's graphs")
    ap.add_argument("--workers", type=int, help="local cluster size (default: one per core)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the results already in --out and run only the missing seeds")
    a = ap.parse_args()
    from lepton_hdl.platforms import jobs
    levels = tuple(a.levels.split(","))
    log = lambda m: print(m, file=sys.stderr, flush=True)
    seeds = range(a.first_seed, a.first_seed + a.n)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if a.resume and out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            if r.get("seed") in seeds and tuple(r.get("levels", levels)) == levels and r.get("wide", False) == a.wide:
                done[r["seed"]] = r
        log(f"[fuzz] resuming: {len(done)} of {a.n} graphs already checked in {out}")
    else:
        out.write_text("")
    todo = {f"graph {s}": dict(seed=s, levels=levels, wide=a.wide) for s in seeds if s not in done}
    res = {}
    if todo:
        cl = jobs.client(a.scheduler, log=log, workers=a.workers)
        with out.open("a") as f:
            def save(key, r):
                r.setdefault("seed", todo[key]["seed"])
                r["levels"] = list(levels)
                r["wide"] = a.wide
                f.write(json.dumps(r) + "\n")
                f.flush()
            res = jobs.run_all(cl, one, todo, log=log, on_result=save)
        cl.close()
    rows = sorted([*done.values(), *res.values()], key=lambda r: r.get("seed", 0))
    bad = sorted((r for r in rows if r.get("mismatches") or "error" in r), key=lambda r: r.get("size", 0))
    print(f"graphs={len(rows)} mismatches={len(bad)}")
    for r in bad:
        print(f"  seed {r.get('seed')}: {r.get('error') or {k: v for k, v in r.items() if k.endswith('mismatches') or k == 'cycle_mismatch'}}"
              f"\n    {r.get('spec')}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

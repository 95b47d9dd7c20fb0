"""The speed/cost trade-off of one model on one board: every balanced folding, its cycles per
frame and its resource estimate, the Pareto front, and the point ``--board`` picks.

``lepton-hdl explore MODEL --board B --out DIR [--soc] [--validate K] [--scheduler ADDRESS]``
writes ``DIR/pareto.json``, ``DIR/pareto.md`` and ``DIR/pareto.png``; ``--validate K`` builds K
points of the front with Yosys + nextpnr on Dask and puts the measured resources and Fmax beside
the estimates.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .passes.fifos import size_fifos
from .passes.parallelism import assign_parallelism
from .resources import PLACED_RULE


def bound(g) -> int:
    """Cycles per frame of graph ``g``: its slowest block."""
    return max(n.op.cycles(n.params) for n in g.nodes if n.params is not None)


def points(pipe, fit) -> list:
    """One point per distinct balanced folding, fastest first: ``cycles``, the estimate
    (``LUT``, ``FF``, ``BRAM``, ``DSP``), multipliers, whether it fits, and the graph."""
    g = pipe.graph
    floor = bound(g)
    cands = sorted({q.op.cycles(q) for n in g.nodes if n.params is not None and n.op.folding(n.params) is not None
                    for q in n.op.foldings(n.params) if q.op.cycles(q) >= floor} | {floor})
    seen, out = set(), []
    for t in cands:
        cand = size_fifos(assign_parallelism(target_cycles=t)(g))
        cyc = bound(cand)
        if cyc in seen:
            continue
        seen.add(cyc)
        est = fit.estimate(cand)
        tot = est.total
        out.append(dict(cycles=cyc, LUT=tot["LUT"], FF=tot["FF"], placed=est.placed, BRAM=tot["BRAM"], DSP=tot["DSP"],
                        mult=tot["mult"], fits=not est.fits(fit.available, fit.utilisation), graph=cand))
    return out


def pareto(pts) -> list:
    """Indices of the points no other point beats or equals in every one of cycles, LUTs as
    placed (what a fit compares, ``Estimate.placed``), BRAM and DSP tiles while beating it in one."""
    keys = ("cycles", "placed", "BRAM", "DSP")
    front = []
    for i, p in enumerate(pts):
        dominated = any(all(q[k] <= p[k] for k in keys) and any(q[k] < p[k] for k in keys)
                        for j, q in enumerate(pts) if j != i)
        if not dominated:
            front.append(i)
    return front


def plot(pts, front, chosen, board, fit, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    xs = [p["cycles"] for p in pts]
    ax.scatter(xs, [p["placed"] for p in pts], s=14, c="#bbbbbb", label="balanced foldings")
    fr = sorted(front, key=lambda i: pts[i]["cycles"])
    ax.plot([pts[i]["cycles"] for i in fr], [pts[i]["placed"] for i in fr], "o-", c="#1f77b4", ms=4, label="Pareto front")
    lim = fit.available["LUT"] * fit.utilisation
    ax.axhline(lim, ls="--", c="#d62728", lw=1,
               label=f"{board.name}: {int(lim):,} {'LC' if board.family == 'ice40' else 'LUT'} ({fit.max_fraction:.0%} of the chip{', less the SoC' if fit.soc else ''})")
    if chosen is not None:
        c = pts[chosen]
        ax.scatter([c["cycles"]], [c["placed"]], s=120, marker="*", c="#2ca02c", zorder=5,
                   label=f"--board picks: {c['cycles']:,} cycles, {c['DSP']} DSP, {c['BRAM']} BRAM")
    ax.set_xscale("log")
    ax.set_xlabel(f"cycles/frame (frames/s = {board.target_mhz:g} MHz / cycles)")
    ax.set_ylabel(PLACED_RULE.get(str(board.family), "LUTs") + " (estimate)")
    ax.set_title(f"{board.name}: speed against LUTs, DSP tiles filled first ({fit.available['DSP']} for the accelerator)",
                 fontsize=9)
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(pts, front, chosen, board, measured=None) -> str:
    lines = ["| cycles/frame | frames/s at {0:g} MHz | multipliers | LUT | FF | {1} | BRAM | DSP | fits | front |".format(
             board.target_mhz, PLACED_RULE.get(str(board.family), "LUT"))
             + (" measured LUT | measured BRAM | measured DSP | Fmax (MHz) |" if measured else ""),
             "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|" + ("---:|---:|---:|---:|" if measured else "")]
    for i, p in enumerate(pts):
        if i not in front and i != chosen:
            continue
        row = (f"| {p['cycles']:,} | {board.target_mhz * 1e6 / p['cycles']:,.0f} | {p['mult']} | {p['LUT']:,} | {p['FF']:,} | {p['placed']:,} | "
               f"{p['BRAM']} | {p['DSP']} | {'yes' if p['fits'] else 'no'} | {'**picked**' if i == chosen else 'yes'} |")
        if measured:
            m = measured.get(i)
            if m and "resources" in m:
                r = m["resources"]
                row += f" {r['LUT']['used']:,} | {r['BRAM']['used']} | {r['DSP']['used']} | {m['fmax_mhz'] or 0:.1f} |"
            else:
                row += (" failed |  |  |  |" if m else "  |  |  |  |")
        lines.append(row)
    return "\n".join(lines)


def validate_job(graph, name: str, board_name: str, out_dir: str) -> dict:
    """A Dask job: build one point's accelerator alone with the real toolchain."""
    from .pipeline import Pipeline
    from .platforms import boards, flow
    return flow.build_accel(Pipeline(graph, None, name=name), boards.get(board_name), Path(out_dir), log=None)


def explore(pipe, board, out: Path, soc=False, validate=0, scheduler=None, log=print) -> dict:
    from .resources import BoardFit
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fit = BoardFit(board, soc)
    pts = points(pipe, fit)
    front = pareto(pts)
    fitting = [i for i, p in enumerate(pts) if p["fits"]]
    chosen = min(fitting, key=lambda i: pts[i]["cycles"]) if fitting else None
    measured = {}
    if validate:
        from .platforms import jobs
        fr = sorted(front, key=lambda i: pts[i]["cycles"])
        fr = [i for i in fr if pts[i]["fits"]] or fr
        step = max(1, len(fr) // validate)
        pick = fr[::step][:validate]
        cl = jobs.client(scheduler, log=log)
        res = jobs.run_all(cl, validate_job, {
            i: dict(graph=pts[i]["graph"], name=f"{pipe.name}-{pts[i]['cycles']}", board_name=board.name,
                    out_dir=os.path.abspath(out / f"validate-{pts[i]['cycles']}")) for i in pick}, log=log)
        cl.close()
        measured = res
    plot(pts, front, chosen, board, fit, out / "pareto.png")
    md = table(pts, front, chosen, board, measured)
    (out / "pareto.md").write_text(md + "\n")
    doc = dict(model=pipe.name, board=board.name, family=str(board.family), soc=soc,
               available=fit.available, lut_fraction=fit.max_fraction, clock_mhz=board.target_mhz,
               picked=None if chosen is None else pts[chosen]["cycles"],
               points=[dict({k: v for k, v in p.items() if k != "graph"}, front=i in front,
                            fps=board.target_mhz * 1e6 / p["cycles"],
                            measured={k: m.get(k) for k in ("resources", "fmax_mhz", "error")} if (m := measured.get(i)) else None)
                       for i, p in enumerate(pts)])
    (out / "pareto.json").write_text(json.dumps(doc, indent=1) + "\n")
    return dict(doc=doc, table=md)

"""Synthesis jobs that run on Dask workers (``bench/resources.py``, ``lepton-hdl explore
--validate``): plain functions of picklable arguments, each writing its logs into its own folder.

A local cluster sized to the machine is the default; ``--scheduler ADDRESS`` uses an existing
one. Workers need this package installed (same environment).
"""
from __future__ import annotations

import os
import time
from pathlib import Path


def client(scheduler=None, log=print, workers=None):
    """A Dask client: to ``scheduler`` if given, else a local cluster of one single-threaded
    worker process per core, or ``workers`` of them (each synthesis is single-threaded)."""
    from distributed import Client, LocalCluster
    if scheduler:
        log(f"[dask] connecting to {scheduler}")
        return Client(scheduler)
    n = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    if workers:
        n = max(1, int(workers))
    log(f"[dask] local cluster: {n} worker process(es), 1 thread each")
    return Client(LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None))


def run_all(cl, fn, jobs: dict, log=print, on_result=None) -> dict:
    """Submit ``fn(**args)`` for each ``{key: args}`` and gather the results, reporting each as
    it completes (``key -> result``, or ``{'error': text}``); ``on_result(key, result)`` is
    called as each one arrives (a long campaign saves its results as it goes)."""
    from distributed import as_completed
    t0 = time.perf_counter()
    futs = {cl.submit(fn, pure=False, **args): key for key, args in jobs.items()}
    out = {}
    for i, fut in enumerate(as_completed(futs), 1):
        key = futs[fut]
        try:
            out[key] = fut.result()
            note = f"{out[key].get('synth_s', '?')} s"
        except Exception as e:                          # a failed build is reported, not fatal
            out[key] = {"error": f"{type(e).__name__}: {e}"}
            note = "FAILED: " + out[key]["error"].splitlines()[0][:120]
        if on_result is not None:
            on_result(key, out[key])
        log(f"[dask] {i}/{len(futs)} {key}: {note} ({time.perf_counter() - t0:.0f} s elapsed)")
    return out


def synth_block(params, family: str, dsp_tiles, out_dir: str, options: dict = None) -> dict:
    """Yosys on one block generated for ``family`` with ``dsp_tiles`` DSP tiles (``options``:
    ``HwOptions`` fields to change, e.g. ``{"channel_window": False}``)."""
    import dataclasses
    from lepton_hdl.hw.common import DspBudget, dsp_budget
    from lepton_hdl.hw.options import FAMILY
    from .flow import synth_stats
    opts = dataclasses.replace(FAMILY[family], dsp_tiles=dsp_tiles, **(options or {}))
    budget = DspBudget(dsp_tiles if dsp_tiles is not None else 1 << 30, opts.dsp)
    with dsp_budget(budget):
        blk = params.op.hardware(params, opts)
    blk.specials += budget.instances
    blk.comb += budget.statements
    return synth_stats(blk, family, Path(out_dir))


def synth_graph(graph, family: str, dsp_tiles, out_dir: str) -> dict:
    """Yosys on a whole pipeline (quantized, folded graph) for ``family``."""
    import dataclasses
    from lepton_hdl.hw.lower import LoweredPipeline
    from lepton_hdl.hw.options import FAMILY
    from .flow import synth_stats
    opts = dataclasses.replace(FAMILY[family], dsp_tiles=dsp_tiles if dsp_tiles is not None else 1 << 30)
    return synth_stats(LoweredPipeline(graph, opts), family, Path(out_dir))

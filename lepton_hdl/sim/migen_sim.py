"""Drive stream blocks in Migen's simulator with seeded random stalls on valid and ready."""
from __future__ import annotations

import random
import time

from migen.sim import run_simulation

from .run import StreamResult


def run_stream_migen(dut, inputs: dict, n_out: int, seed=0, valid_prob=1.0, ready_prob=1.0,
                     timeout=200_000, source=None) -> StreamResult:
    """Feed ``inputs`` (``{endpoint: [beats]}``) into ``dut``; collect ``n_out`` beats from
    ``source`` (default ``dut.source``). Raises ``TimeoutError`` if the block hangs."""
    source = dut.source if source is None else source
    rng = random.Random(seed)
    res = StreamResult(beats=[], cycles=[], first_in=-1)
    state = {"cycle": 0}

    def driver(ep, beats, r, primary):
        for b in beats:
            while r.random() >= valid_prob:
                yield ep.valid.eq(0)
                yield
            yield ep.valid.eq(1)
            yield ep.data.eq(b)
            yield
            while not (yield ep.ready):
                yield
            if primary and res.first_in < 0:
                res.first_in = state["cycle"]
        yield ep.valid.eq(0)

    def monitor():
        while len(res.beats) < n_out:
            yield source.ready.eq(1 if rng.random() < ready_prob else 0)
            yield
            state["cycle"] += 1
            if state["cycle"] > timeout:
                raise TimeoutError(f"no progress after {timeout} cycles: {len(res.beats)}/{n_out} beats")
            if (yield source.valid) and (yield source.ready):
                res.beats.append((yield source.data))
                res.cycles.append(state["cycle"])

    gens = [monitor()]
    for i, (ep, beats) in enumerate(inputs.items()):
        gens.append(driver(ep, beats, random.Random(seed * 7919 + i + 1), i == 0))
    t0 = time.perf_counter()
    run_simulation(dut, gens)
    res.wall_s = time.perf_counter() - t0
    res.sim_cycles = state["cycle"]
    return res

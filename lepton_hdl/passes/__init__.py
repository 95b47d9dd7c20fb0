"""Graph -> Graph passes, run from one explicit ordered list (``default_passes``)."""
from __future__ import annotations

import time

from .check import check_invariants
from .fifos import size_fifos
from .fold_batchnorm import fold_batchnorm
from .fuse_activation import fuse_activation
from .parallelism import assign_parallelism
from .quantize import quantize


def default_passes(samples, w_bits=8, a_bits=8, fold=None, target_cycles=None, max_multipliers=None, fits=None,
                   weights="rom", fixed_shifts=None):
    """The compile flow, in order. ``samples``: float calibration inputs in stream layout."""
    return [
        fold_batchnorm,
        fuse_activation,
        quantize(samples, w_bits=w_bits, a_bits=a_bits, weights=weights, fixed_shifts=fixed_shifts),
        assign_parallelism(fold=fold, target_cycles=target_cycles, max_multipliers=max_multipliers, fits=fits),
        size_fifos,
        check_invariants,
    ]


def run_passes(g, passes, log=None):
    for p in passes:
        t0 = time.perf_counter()
        g = p(g)
        if log:
            log(f"[pass] {p.__name__:28s} {1e3 * (time.perf_counter() - t0):7.1f} ms")
    return g


__all__ = ["default_passes", "run_passes", "fold_batchnorm", "fuse_activation", "quantize",
           "assign_parallelism", "size_fifos", "check_invariants"]

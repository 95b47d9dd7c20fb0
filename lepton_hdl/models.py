"""Resolve a MODEL argument: a built-in example name or ``path/to/file.py:factory``.

A factory returns ``(model, samples)`` and optionally ``(x_eval, y_eval)`` and label names:
``(model, samples, (x_eval, y_eval), labels)``. ``samples`` calibrate the quantization.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

BUILTIN = {"digits": "lepton_hdl.examples.digits:factory"}


@dataclass
class ModelSpec:
    name: str
    model: Any
    samples: Any
    x_eval: Optional[np.ndarray] = None
    y_eval: Optional[np.ndarray] = None
    labels: Optional[tuple] = None


def load(spec: str, log=None) -> ModelSpec:
    target = BUILTIN.get(spec, spec)
    if ":" not in target:
        raise ValueError(f"MODEL '{spec}': expected one of {sorted(BUILTIN)} or path/to/file.py:factory")
    where, func = target.rsplit(":", 1)
    if where.endswith(".py"):
        path = Path(where)
        if not path.exists():
            raise FileNotFoundError(f"MODEL '{spec}': file {path} does not exist")
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(mod)
    else:
        mod = importlib.import_module(where)
    fn = getattr(mod, func, None)
    if fn is None or not callable(fn):
        raise ValueError(f"MODEL '{spec}': {where} has no callable '{func}'")
    out = fn(log=log) if "log" in inspect.signature(fn).parameters else fn()
    if not isinstance(out, tuple) or len(out) < 2:
        raise ValueError(f"MODEL '{spec}': {func}() must return (model, samples[, (x, y)[, labels]])")
    ms = ModelSpec(Path(where).stem if where.endswith(".py") else spec, out[0], out[1])
    if len(out) > 2 and out[2] is not None:
        ms.x_eval, ms.y_eval = np.asarray(out[2][0]), np.asarray(out[2][1])
    if len(out) > 3:
        ms.labels = tuple(out[3])
    return ms

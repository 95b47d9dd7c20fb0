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

BUILTIN = {"digits": "lepton_hdl.examples.digits:factory",
           # the digits topology trained with another seed (weights in RAM: a model to reload)
           "digits_seed1": "lepton_hdl.examples.digits:seed1_factory"}


@dataclass
class ModelSpec:
    name: str
    model: Any
    samples: Any
    x_eval: Optional[np.ndarray] = None
    y_eval: Optional[np.ndarray] = None
    labels: Optional[tuple] = None


def _exc(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def load(spec: str, log=None) -> ModelSpec:
    """Resolve ``spec``; every way it can fail is a ``ModelError`` naming the cause."""
    from .errors import LeptonError, ModelError
    target = BUILTIN.get(spec, spec)
    if ":" not in target:
        raise ModelError(f"MODEL '{spec}': expected one of {sorted(BUILTIN)} or path/to/file.py:factory")
    where, func = target.rsplit(":", 1)
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ModelError(f"MODEL '{spec}': file {path} does not exist")
        try:
            mod_spec = importlib.util.spec_from_file_location(path.stem, path)
            mod = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(mod)
        except Exception as e:
            raise ModelError(f"MODEL '{spec}': importing {path} failed ({_exc(e)})") from e
    else:
        try:
            mod = importlib.import_module(where)
        except Exception as e:
            raise ModelError(f"MODEL '{spec}': cannot import module {where} ({_exc(e)})") from e
    fn = getattr(mod, func, None)
    if fn is None or not callable(fn):
        raise ModelError(f"MODEL '{spec}': {where} has no callable '{func}'")
    try:
        out = fn(log=log) if "log" in inspect.signature(fn).parameters else fn()
    except LeptonError:
        raise
    except Exception as e:
        raise ModelError(f"MODEL '{spec}': {func}() raised {_exc(e)}") from e
    if not isinstance(out, tuple) or len(out) < 2:
        raise ModelError(f"MODEL '{spec}': {func}() returned {type(out).__name__}; it must return "
                         f"(model, samples[, (x, y)[, labels]])")
    import torch
    if not isinstance(out[0], torch.nn.Module):
        raise ModelError(f"MODEL '{spec}': {func}() returned a {type(out[0]).__name__} as the model; "
                         f"expected a torch.nn.Module")
    ms = ModelSpec(Path(where).stem if where.endswith(".py") else spec, out[0], out[1])
    if len(out) > 2 and out[2] is not None:
        try:
            ms.x_eval, ms.y_eval = np.asarray(out[2][0]), np.asarray(out[2][1])
        except Exception as e:
            raise ModelError(f"MODEL '{spec}': {func}()'s third item must be (x_eval, y_eval) ({_exc(e)})") from e
        if len(ms.x_eval) != len(ms.y_eval) or len(ms.x_eval) == 0:
            raise ModelError(f"MODEL '{spec}': {func}() gave {len(ms.x_eval)} eval inputs and {len(ms.y_eval)} "
                             f"labels; expected the same number, at least one")
    if len(out) > 3:
        ms.labels = tuple(out[3])
    return ms

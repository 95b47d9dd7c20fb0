"""Resolve a MODEL argument: a built-in example name, ``path/to/file.py:factory`` or an ONNX
file ``model.onnx`` (its calibration samples from a ``.npy`` file).

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
           "digits_seed1": "lepton_hdl.examples.digits:seed1_factory",
           # trained quantisation-aware at w4/a4: its quantization is given, not calibrated
           "digits_qat": "lepton_hdl.examples.digits_qat:factory"}


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


def load_samples(path) -> np.ndarray:
    """A ``.npy`` batch of calibration inputs (``InputError`` naming what is wrong)."""
    from .errors import InputError
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--samples {p}: no such file")
    try:
        x = np.load(p, allow_pickle=False)
    except Exception as e:
        raise InputError(f"--samples {p}: not a .npy array ({_exc(e)})") from e
    if x.dtype.kind not in "fiu":
        raise InputError(f"--samples {p}: a {x.dtype} array; expected numbers")
    if x.ndim not in (2, 4):
        raise InputError(f"--samples {p}: shape {x.shape}; expected a batch N x C x H x W or N x F")
    return x.astype(np.float32)


def load_onnx(spec: str, samples) -> ModelSpec:
    """An ONNX file as a model spec: the module the ONNX frontend builds, the ``.npy`` samples."""
    from .errors import InputError, ModelError
    from .onnx_frontend import to_module
    path = Path(spec)
    if not path.is_file():
        raise ModelError(f"MODEL '{spec}': file {path} does not exist")
    if samples is None:
        raise InputError(f"MODEL '{spec}': an ONNX model needs calibration inputs: --samples X.npy (a batch in the "
                         f"model's input layout)")
    return ModelSpec(path.stem, to_module(path), load_samples(samples))


def load(spec: str, log=None, samples=None) -> ModelSpec:
    """Resolve ``spec``; every way it can fail is a ``ModelError`` naming the cause. ``samples``:
    a ``.npy`` path, the calibration inputs of an ONNX ``spec``."""
    from .errors import InputError, LeptonError, ModelError
    if str(spec).lower().endswith(".onnx"):
        return load_onnx(spec, samples)
    if samples is not None:
        raise InputError(f"--samples is for ONNX models; MODEL '{spec}' brings its own")
    target = BUILTIN.get(spec, spec)
    if ":" not in target:
        raise ModelError(f"MODEL '{spec}': expected one of {sorted(BUILTIN)}, path/to/file.py:factory or model.onnx")
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
    except ModuleNotFoundError as e:
        from .cli import OPTIONAL_PACKAGES
        if (e.name or "").split(".")[0] in OPTIONAL_PACKAGES:
            raise                       # the CLI names the extra to install
        raise ModelError(f"MODEL '{spec}': {func}() raised {_exc(e)}") from e
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

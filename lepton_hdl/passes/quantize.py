from __future__ import annotations

import math

import numpy as np

from .. import floatref
from ..arith import IntType, check_bits, quantize_multipliers, weight_range
from ..errors import UnsupportedOpError
from ..ir import Graph, QTensor
from ..params import AddParams, Conv2dParams, PoolParams, Requant, RequantParams, linear_params


def calibrate(g: Graph, samples) -> dict:
    """Per node: (min, max) of its float output over ``samples`` (stream layout)."""
    lo, hi = {}, {}
    for x in samples:
        vals = floatref.execute(g, x, all_outputs=True)
        for k, v in vals.items():
            lo[k] = min(lo.get(k, np.inf), float(v.min()))
            hi[k] = max(hi.get(k, -np.inf), float(v.max()))
    return {k: (lo[k], hi[k]) for k in lo}


def tensor_q(lo: float, hi: float, bits: int, act=None) -> QTensor:
    """Scale and type of a tensor from its calibrated range: unsigned when it is never
    negative (e.g. after ReLU), signed symmetric otherwise."""
    if act is not None:
        lo, hi = max(lo, act[1]), min(hi, act[2])
    signed = lo < 0
    t = IntType(bits, signed)
    amax = max(abs(lo), abs(hi))
    qmax = t.qmax if not signed else (1 << (bits - 1)) - 1
    scale = amax / qmax if amax > 0 else 1.0
    return QTensor(scale, t)


def _clamp(act, q: QTensor):
    """Activation clamp in output integer units."""
    if act is None:
        return None, None
    _, lo, hi = act
    qlo = None if not math.isfinite(lo) else int(math.floor(lo / q.scale + 0.5))
    qhi = None if not math.isfinite(hi) else int(math.floor(hi / q.scale + 0.5))
    return qlo, qhi


def quantize_weights(w: np.ndarray, bits: int):
    """Symmetric per-output-channel quantization: integer weights and per-channel scales."""
    wr = weight_range(bits)
    amax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scale = np.where(amax > 0, amax / wr, 1.0)
    q = np.clip(np.floor(w / scale.reshape((-1,) + (1,) * (w.ndim - 1)) + 0.5), -wr, wr).astype(np.int64)
    return q, scale


def quantize(samples, w_bits: int = 8, a_bits: int = 8):
    """Make the pass: post-training quantization calibrated on ``samples`` (float inputs in
    stream layout). Per-channel symmetric weights of ``w_bits``, per-tensor activations of
    ``a_bits``; every node gets ``qtype``, every compute node its frozen ``params``."""
    check_bits("w_bits", w_bits)
    check_bits("a_bits", a_bits)
    samples = list(samples)
    if not samples:
        raise ValueError("quantization needs at least one calibration sample")

    def quantize_pass(g: Graph) -> Graph:
        """Quantize a float graph (BatchNorm folded, activations fused)."""
        rng = calibrate(g, samples)
        done = {}
        for n in g.nodes:
            a = n.attrs
            act = a.get("act")
            ins = [done[i] for i in n.inputs]
            if n.op == "input":
                n = n.with_(qtype=tensor_q(*rng[n.name], a_bits))
            elif n.op in ("conv2d", "linear"):
                x = ins[0]
                q = tensor_q(*rng[n.name], a_bits, act)
                wq, sw = quantize_weights(a["weight"], w_bits)
                bq = np.floor(a["bias"] / (x.qtype.scale * sw) + 0.5).astype(np.int64)
                mult, shift = quantize_multipliers(x.qtype.scale * sw / q.scale)
                rq = Requant(mult, shift, q.type, *_clamp(act, q))
                if n.op == "linear":
                    p = linear_params(x.shape, x.qtype.type, wq, bq, rq, w_bits=w_bits, name=n.label)
                else:
                    p = Conv2dParams(x.shape, x.qtype.type, wq, bq, rq, w_bits=w_bits, stride=a["stride"],
                                     padding=a["padding"], groups=a["groups"], name=n.label)
                n = n.with_(qtype=q, params=p)
            elif n.op == "maxpool":
                x = ins[0]
                n = n.with_(qtype=x.qtype, params=PoolParams(x.shape, x.qtype.type, "max", a["kernel"], a["stride"],
                                                             a["padding"], name=n.label))
            elif n.op in ("avgpool", "global_avgpool"):
                x = ins[0]
                k = a["kernel"] if n.op == "avgpool" else x.shape[:2]
                q = x.qtype
                mult, shift = quantize_multipliers([1.0 / (k[0] * k[1])])
                rq = Requant(mult, shift, q.type, *_clamp(act, q))
                kind = "avg" if n.op == "avgpool" else "global_avg"
                n = n.with_(qtype=q, params=PoolParams(x.shape, q.type, kind, k, a.get("stride"),
                                                       a.get("padding", 0), requant=rq, name=n.label))
            elif n.op == "flatten":
                n = n.with_(qtype=ins[0].qtype)
            elif n.op == "act":
                x = ins[0]
                lo, hi = a["lo"], a["hi"]
                t = IntType(x.qtype.type.bits, x.qtype.type.signed and lo < 0)
                q = QTensor(x.qtype.scale, t)
                rq = Requant((1,), 0, t, *_clamp(("act", lo, hi), q))
                n = n.with_(qtype=q, params=RequantParams(x.shape, x.qtype.type, rq, name=n.label))
            elif n.op == "add":
                xa, xb = ins
                if xa.shape != xb.shape:
                    raise UnsupportedOpError(f"add at '{n.label}': input shapes {xa.shape} and {xb.shape} differ")
                q = tensor_q(*rng[n.name], a_bits, act)
                mult, shift = quantize_multipliers([xa.qtype.scale / q.scale, xb.qtype.scale / q.scale])
                lo, hi = _clamp(act, q)
                n = n.with_(qtype=q, params=AddParams(n.shape, xa.qtype.type, xb.qtype.type, mult[0], mult[1],
                                                      shift, q.type, lo, hi, name=n.label))
            else:
                raise UnsupportedOpError(f"'{n.label}' ({n.op}) is left in the graph at quantization: "
                                         f"fold_batchnorm/fuse_activation must run first")
            done[n.name] = n
        return g.with_nodes([done[n.name] for n in g.nodes], w_bits=w_bits, a_bits=a_bits)

    return quantize_pass

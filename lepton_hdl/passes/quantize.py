from __future__ import annotations

import numpy as np

from .. import floatref
from ..arith import check_bits
from ..errors import UnsupportedOpError
from ..ir import Graph
from ..ops import QuantContext


def calibrate(g: Graph, samples) -> dict:
    """Per node: (min, max) of its float output over ``samples`` (stream layout)."""
    lo, hi = {}, {}
    for x in samples:
        vals = floatref.execute(g, x, all_outputs=True)
        for k, v in vals.items():
            lo[k] = min(lo.get(k, np.inf), float(v.min()))
            hi[k] = max(hi.get(k, -np.inf), float(v.max()))
    return {k: (lo[k], hi[k]) for k in lo}


def quantize(samples, w_bits: int = 8, a_bits: int = 8, weights: str = "rom", fixed_shifts=None):
    """Make the pass: post-training quantization calibrated on ``samples`` (float inputs in
    stream layout). Per-channel symmetric weights of ``w_bits``, per-tensor activations of
    ``a_bits``; every node gets ``qtype`` and every compute node its frozen ``params``, each
    by its op's rule (``Op.quantize``). ``weights="ram"``: parameters sized for any values
    (they are written at run time), requant shifts with headroom; ``fixed_shifts`` (node name
    -> shift): a build's shifts, for a weight image."""
    check_bits("w_bits", w_bits)
    check_bits("a_bits", a_bits)
    if weights not in ("rom", "ram"):
        raise ValueError(f"weights={weights!r}: 'rom' (frozen into the gateware) or 'ram' (written at run time)")
    # no samples: every tensor's quantization must be given (a QONNX model quantised throughout)
    samples = list(samples) if samples is not None else []

    def quantize_pass(g: Graph) -> Graph:
        """Quantize a float graph (BatchNorm folded, activations fused)."""
        runtime = weights == "ram"
        ranges = calibrate(g, samples) if samples else {}
        ctx = QuantContext(w_bits, a_bits, ranges, runtime=runtime, fixed_shifts=fixed_shifts)
        done = {}
        for n in g.nodes:
            if not n.op.lowered:
                raise UnsupportedOpError(f"'{n.label}' ({n.op.name}) is left in the graph at quantization: "
                                         f"fold_batchnorm/fuse_activation must run first")
            if runtime and not n.op.runtime_params:
                raise UnsupportedOpError(
                    f"weights in RAM: '{n.label}' ({n.op.name}) has parameters that depend on the model's "
                    f"scales and are not runtime-writable yet (convolutions, linear layers, pools and "
                    f"ReLU are): compile with weights='rom' (--weights rom)")
            q, params = n.op.quantize(n, [done[i] for i in n.inputs], ctx)
            given = n.attrs.get("given_q")
            if given is not None and (q.type.bits, q.type.signed) != (given[1], given[2]) or \
                    given is not None and abs(q.scale - given[0]) > 1e-9 * abs(given[0]):
                raise UnsupportedOpError(
                    f"'{n.label}' ({n.op.name}) keeps its input's quantization (scale {q.scale:g}, {q.type}); the "
                    f"Quant after it asks scale {given[0]:g}, {given[1]} bits: give it the same quantization as its "
                    f"input, or requantize with an activation between")
            done[n.name] = n.with_(qtype=q, params=params)
        return g.with_nodes([done[n.name] for n in g.nodes], w_bits=w_bits, a_bits=a_bits, weights=weights)

    return quantize_pass

"""First-order resource estimates of a whole graph, from each op's ``estimate`` plus the FIFOs
the lowering inserts.

These steer the choice of parallelism and refuse models that cannot fit a board before any
synthesis; ``lepton-hdl build`` reports the real figures from Yosys/nextpnr. Multipliers are
counted exactly (one per product lane plus one per requant lane); LUT/FF figures count datapath
bits (adder trees, operand muxes, registers), memory bits exact. Real LUT use is about 3.25x
the LUT figure on both ECP5 and iCE40 (measured on digits at several budgets and precisions;
``platforms/flow.py`` holds the calibration the fit check applies).
"""
from __future__ import annotations


def estimate(p) -> dict:
    """``{'mult', 'lut', 'ff', 'mem_bits'}`` of one block (its op's estimate)."""
    return p.op.estimate(p)


def fifo_bits(n) -> int:
    """Memory bits of the row and join FIFOs in front of node ``n``'s block."""
    if n.params is None:
        return 0
    specs = n.op.in_specs(n.params)
    join = n.attrs.get("join_fifos", ())
    row = n.attrs.get("row_fifo", 0)
    depths = [max(row, join[k] if k < len(join) else 0) for k in range(len(specs))]
    return sum(d * shape[2] * typ.bits for d, (shape, typ) in zip(depths, specs))


def total(g) -> dict:
    """The sum over every block of graph ``g``, FIFO memory included."""
    out = dict(mult=0, lut=0, ff=0, mem_bits=0)
    for n in g.nodes:
        if n.params is None:
            continue
        for k, v in n.op.estimate(n.params).items():
            out[k] += v
        out["mem_bits"] += fifo_bits(n)
    return out

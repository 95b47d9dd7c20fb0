"""The join of several streams into one block: a beat is taken from every input at once."""
from __future__ import annotations

from functools import reduce
from operator import and_


def join(m, sinks, ce):
    """Drive each sink's ready (``ce`` and every other input valid); return the joint valid."""
    for s in sinks:
        others = [o.valid for o in sinks if o is not s]
        m.comb += s.ready.eq(reduce(and_, others, ce))
    return reduce(and_, [s.valid for s in sinks])

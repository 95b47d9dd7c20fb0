"""The ops: one module per op kind, each owning everything about it (see ``base.Op``).

The registry below lists them; the frontend, the passes, the golden model, lowering, the C
generator and the reports walk ``Op`` methods and never branch on an op's class or name.
Adding an op is one module here plus its line in this list (``docs/architecture.md``).
"""
from .base import (REGISTRY, SKIP, Clamp, LaneFolded, Match, Op, OpParams, QuantContext, get, of, params_digest,
                   register, sinks_of)
from . import input, identity, flatten, batchnorm, clamp, conv, pool, add  # noqa: E402,F401  registry
from . import abs  # noqa: E402,F401
from . import table  # noqa: E402,F401
from . import mul  # noqa: E402,F401
from . import concat  # noqa: E402,F401
from . import upsample  # noqa: E402,F401
from . import quant  # noqa: E402,F401

from .add import AddParams  # noqa: E402
from .clamp import RequantParams  # noqa: E402
from .conv import Conv2dParams, linear_params  # noqa: E402
from .pool import PoolKind, PoolParams  # noqa: E402

INPUT = get("input")

__all__ = ["REGISTRY", "SKIP", "Clamp", "Match", "Op", "OpParams", "QuantContext", "get", "of", "register",
           "sinks_of", "params_digest", "INPUT", "AddParams", "RequantParams", "Conv2dParams", "linear_params",
           "PoolKind", "PoolParams"]

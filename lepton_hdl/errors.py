"""Errors a user can act on. Each message says what is wrong and how to fix it."""


class LeptonError(ValueError):
    """Base class of lepton_hdl's user-facing errors."""


class UnsupportedOpError(LeptonError):
    """The model uses an op, or an op setting, that lepton_hdl cannot turn into hardware."""


class TraceError(LeptonError):
    """The model cannot be traced to a static graph (data-dependent control flow or shapes)."""


class ParallelismError(LeptonError):
    """A requested pe/simd folding is impossible for its layer."""


class FitError(LeptonError):
    """The model does not fit the resource budget (board) it was compiled for."""


class ModelError(LeptonError):
    """A MODEL argument that does not resolve to a model: unknown name, missing file, a factory
    that raises or returns the wrong thing."""


class InputError(LeptonError):
    """A value given to the compiler is unusable: NaN/Inf in samples or weights, an empty batch,
    a non-positive cycle target or budget, bit widths out of range, an unknown board."""


class WeightsError(LeptonError):
    """A weight image that does not suit a build: another topology, bit widths or parameter
    ranges (the message names the first difference and the layer), or a corrupt image."""


class ToolMissing(RuntimeError):
    """An external tool (Verilator, RISC-V GCC, Yosys, nextpnr) is not installed."""


class InvariantError(LeptonError):
    """An internal guarantee was broken (a derived bound exceeded, a graph malformed): a bug in
    lepton_hdl or an edited parameter object, never silently ignored."""

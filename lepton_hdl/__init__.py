"""lepton_hdl: freeze a trained network into one fused streaming pipeline (Migen/LiteX)."""
from .errors import FitError, LeptonError, ParallelismError, ToolMissing, TraceError, UnsupportedOpError
from .pipeline import Pipeline, compile

__version__ = "0.1.0"
__all__ = ["compile", "Pipeline", "LeptonError", "UnsupportedOpError", "TraceError", "ParallelismError",
           "FitError", "ToolMissing"]

"""Simulation: frame <-> beat packing, Migen simulation and Verilator runs of stream blocks."""
from .frames import pack_frame, unpack_frame
from .run import StreamResult

__all__ = ["pack_frame", "unpack_frame", "StreamResult"]

"""Migen stream generators shared by the ops (``lepton_hdl.ops``).

Each block takes a frozen parameter object and exposes ``sink`` (or ``sinks``, in input order)
and ``source`` stream endpoints, one pixel per beat. The op that owns a parameter class builds
its block (``Op.hardware``); ``lower`` connects the blocks of a whole graph.
"""
from .options import FAMILY, Family, HwOptions, RequantSplit

__all__ = ["FAMILY", "Family", "HwOptions", "RequantSplit"]

"""Weights in RAM: the binary parameter image a running accelerator loads without a new
bitstream, and the compatibility rule between a build and a model.

A build compiled with ``weights="ram"`` keeps every convolution's and linear layer's weights,
biases and requant multipliers in writable memories; everything else the gateware fixes (shapes,
bit widths, folding, requant shifts and clamps, pools) forms the build's *signature*. A model is
compatible with the build when, quantised with its own calibration at the build's requant shifts,
its signature is the same; its image then holds the values of every parameter memory.

Image layout (32-bit little-endian words)::

    0  magic 0x4957504c ("LPWI")     4  payload words N
    1  format version (1)            5  CRC-32 (zlib) of the payload bytes
    2  topology hash, low word       6  header words (8)
    3  topology hash, high word      7  0
    8 .. 8+N-1: the payload: each parameter memory in graph order, each of its words in
       ceil(width / 32) words, LSB-first (``hw.lower.ParamLoader``)
"""
from __future__ import annotations

import dataclasses
import hashlib
import struct
import zlib

import numpy as np

from .errors import WeightsError

MAGIC = 0x4957504C
VERSION = 1
HEADER_WORDS = 8


def _fixed(p, runtime: bool):
    """The parts of a parameter object the gateware fixes, as comparable plain data."""
    out = {}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        if runtime and f.name in ("weight", "bias"):
            continue
        if runtime and f.name == "requant":
            out["requant shift"], out["requant output type"] = v.shift, str(v.out)
            out["requant clamp"] = (v.lo, v.hi)
            continue
        if isinstance(v, np.ndarray):
            v = (v.shape, hashlib.sha256(np.ascontiguousarray(v, dtype=np.int64).tobytes()).hexdigest()[:16])
        out[f.name] = v if isinstance(v, (int, str, tuple, type(None), bool)) else str(v)
    return out


def signature(graph) -> list:
    """What the gateware of a ``weights="ram"`` build fixes, node by node:
    ``[(node label, {field: value})]``."""
    sig = []
    for n in graph.nodes:
        entry = {"op": n.op.name, "shape": tuple(n.shape), "type": str(n.qtype.type),
                 "inputs": tuple(n.inputs)}
        if n.params is not None:
            entry.update(_fixed(n.params, bool(getattr(n.params, "runtime", False))))
        sig.append((n.label, entry))
    return sig


def topology_hash(graph) -> int:
    """64-bit hash of ``signature(graph)`` (the image header's, checked by the driver)."""
    return int.from_bytes(hashlib.sha256(repr(signature(graph)).encode()).digest()[:8], "little")


def first_difference(built, other):
    """A sentence naming the first difference between two signatures, or None."""
    if len(built) != len(other):
        return f"the model has {len(other)} nodes, the build {len(built)}"
    for (label, a), (olabel, b) in zip(built, other):
        if label != olabel and a.get("op") != b.get("op"):
            return f"node '{olabel}' ({b.get('op')}) stands where the build has '{label}' ({a.get('op')})"
        for k in a:
            if a[k] != b.get(k):
                return f"layer '{label}': {k} is {b.get(k)} in the model, {a[k]} in the build"
    return None


def payload_words(graph, layout) -> list:
    """The parameter memories' contents as 32-bit words, in the loader's order."""
    from .hw.mac import runtime_memories
    mems = {}
    for n in graph.nodes:
        if n.params is not None and getattr(n.params, "runtime", False):
            for name, width, words in runtime_memories(n.params):
                mems[(n.name, name)] = (width, words)
    out = []
    for node, name, width, depth in layout:
        w, words = mems[(node, name)]
        assert w == width and len(words) == depth, (node, name, w, width, len(words), depth)
        chunks = -(-width // 32)
        for word in words:
            out += [(word >> (32 * k)) & 0xFFFFFFFF for k in range(chunks)]
    return out


def image(graph, layout) -> bytes:
    """The weight image (header + payload) of ``graph``'s parameters for a loader ``layout``."""
    words = payload_words(graph, layout)
    payload = struct.pack(f"<{len(words)}I", *words)
    h = topology_hash(graph)
    header = struct.pack("<8I", MAGIC, VERSION, h & 0xFFFFFFFF, h >> 32, len(words), zlib.crc32(payload),
                         HEADER_WORDS, 0)
    return header + payload


def parse(blob: bytes, expect_hash: int = None, expect_words: int = None) -> list:
    """The payload words of a weight image, after the checks the driver makes (magic, version,
    topology, size, checksum); ``WeightsError`` naming the first that fails."""
    if len(blob) < 4 * HEADER_WORDS:
        raise WeightsError(f"weight image of {len(blob)} bytes: shorter than its {4 * HEADER_WORDS}-byte header")
    magic, version, lo, hi, n, crc, hw, _ = struct.unpack("<8I", blob[:32])
    if magic != MAGIC:
        raise WeightsError(f"not a lepton_hdl weight image (magic 0x{magic:08x})")
    if version != VERSION:
        raise WeightsError(f"weight image format {version}; this version reads format {VERSION}")
    if expect_hash is not None and (lo | hi << 32) != expect_hash:
        raise WeightsError(f"weight image for topology {lo | hi << 32:016x}, the build is {expect_hash:016x}")
    if len(blob) != 4 * (hw + n) or (expect_words is not None and n != expect_words):
        raise WeightsError(f"weight image holds {len(blob)} bytes for {n} payload words"
                           + (f"; the build loads {expect_words}" if expect_words is not None else ""))
    payload = blob[4 * hw:]
    if zlib.crc32(payload) != crc:
        raise WeightsError("weight image checksum mismatch: the payload is corrupt")
    return list(struct.unpack(f"<{n}I", payload))

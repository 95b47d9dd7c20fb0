"""Run a block in a simulator and compare every element with the golden model."""
from __future__ import annotations

import numpy as np
from lepton_hdl.sim.verilator import to_verilog as _to_verilog

from lepton_hdl import golden
from lepton_hdl.hw.options import HwOptions
from lepton_hdl.ops import sinks_of
from lepton_hdl.sim.frames import pack_frame, unpack_frame
from lepton_hdl.sim.migen_sim import run_stream_migen


def assert_equal(got: np.ndarray, want: np.ndarray, what=""):
    """``==`` on every element; on failure name the first mismatch in decimal and hex."""
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bad = np.argwhere(got != want)
    if bad.size:
        i = tuple(bad[0])
        g, w = int(got[i]), int(want[i])
        raise AssertionError(f"{what}: {len(bad)} mismatching elements; first at {i}: "
                             f"got {g} ({g & 0xffffffff:#x}) want {w} ({w & 0xffffffff:#x})")


def in_types(p):
    return [t for _, t in p.op.in_specs(p)]


def block(p, opts=None):
    """The block of parameter object ``p`` (its op's generator)."""
    return p.op.hardware(p, opts or HwOptions())


def run_frames(p, frames, sim="migen", seed=0, valid_prob=1.0, ready_prob=1.0, model=None, opts=None):
    """``frames``: list of inputs (a tuple ``(a, b)`` per frame for an add). Returns the
    decoded outputs and the raw ``StreamResult``."""
    n_px = p.op.out_spec(p)[0][0] * p.op.out_spec(p)[0][1]
    types = in_types(p)
    streams = [[] for _ in types]
    for fr in frames:
        fr = fr if isinstance(fr, tuple) else (fr,)
        for s, x, t in zip(streams, fr, types):
            s += pack_frame(x, t)
    if sim == "migen":
        dut = block(p, opts)
        sinks = sinks_of(dut)
        res = run_stream_migen(dut, dict(zip(sinks, streams)), n_px * len(frames), seed=seed,
                               valid_prob=valid_prob, ready_prob=ready_prob)
    else:
        res = model.run(streams, n_px * len(frames), seed=seed, valid_prob=valid_prob,
                        ready_prob=ready_prob)
    out_shape, out_type = p.op.out_spec(p)
    outs = [unpack_frame(res.beats[i * n_px:(i + 1) * n_px], out_shape, out_type)
            for i in range(len(frames))]
    return outs, res


def check_frames(p, frames, **kw):
    outs, res = run_frames(p, frames, **kw)
    for i, (fr, out) in enumerate(zip(frames, outs)):
        fr = fr if isinstance(fr, tuple) else (fr,)
        want = golden.run(p, *fr)
        assert_equal(out, want, f"{p.name} frame {i}")
    return res


def to_verilog(p) -> str:
    dut = block(p)
    sinks = sinks_of(dut)
    ios = set()
    for ep in sinks + [dut.source]:
        ios |= {ep.valid, ep.ready, ep.first, ep.last, ep.data}
    v = str(_to_verilog(dut, ios, name=p.name))
    assert "module " + p.name in v and "endmodule" in v
    return v

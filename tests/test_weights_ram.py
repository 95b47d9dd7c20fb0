"""Weights in RAM: a build whose convolution and linear parameters are written at run time.
The same gateware runs the compiled model (its memories' initial contents) and, after a weight
image is loaded, another model of the same topology, exact against each one's golden model, at
the same cycles per frame as weights in ROM; incompatible models and corrupt images are refused
with the first difference named."""
import json
import struct

import numpy as np
import pytest

import lepton_hdl
from conftest import require_tool
from lepton_hdl.errors import UnsupportedOpError, WeightsError
from lepton_hdl.models import load


@pytest.fixture(scope="module")
def digits():
    spec = load("digits")
    other = load("digits_seed1")
    ram = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=64, name="digits", weights="ram")
    return spec, other, ram


@pytest.mark.verilator
def test_reload_exact_same_cycles(digits):
    """ROM and RAM builds of one model: the same cycles per frame (RTL, equal to the bound).
    The RAM build runs its compiled weights exact, then another model's image, loaded through
    the parameter loader, exact against that model's golden (which differs), under random
    valid/ready stalls."""
    require_tool("verilator")
    spec, other, ram = digits
    rom = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=64, name="digits")
    assert ram.weights == "ram" and rom.weights == "rom" and ram.bound_cycles == rom.bound_cycles
    x = spec.x_eval[:12]
    q = ram.quantize_input(x)
    y_ram, info_ram = ram.simulate(q, integer=True)
    _, info_rom = rom.simulate(rom.quantize_input(x), integer=True)
    assert np.array_equal(y_ram, ram.golden_int(q))
    assert info_ram["cycles_per_frame"] == info_rom["cycles_per_frame"] == ram.bound_cycles
    b = ram.compatible(other.model, other.samples, name="digits_seed1")
    image = ram.weight_image(other.model, other.samples)
    qb = b.quantize_input(x)
    want = b.golden_int(qb)
    assert not np.array_equal(want, ram.golden_int(qb)), "the second model must compute something else"
    got, _ = ram.simulate(qb, integer=True, weight_image=image, valid_prob=0.7, ready_prob=0.6, seed=3)
    assert np.array_equal(got, want)
    # the RAM build's accumulators hold any weights of its bits; the ROM build's the trained ones
    for n in ram.graph.nodes:
        if getattr(n.params, "runtime", False):
            assert n.params.acc_bits >= rom.graph[n.name].params.acc_bits


def test_weight_image_format(digits):
    """Header (magic, version, topology hash, size, CRC-32); each corruption named."""
    from lepton_hdl import weights as W
    spec, other, ram = digits
    image = ram.weight_image(other.model, other.samples)
    h = W.topology_hash(ram.graph)
    words = W.parse(image, h, ram.param_words)
    assert len(image) == 4 * (W.HEADER_WORDS + ram.param_words) and len(words) == ram.param_words
    assert struct.unpack("<I", image[:4])[0] == W.MAGIC
    bad = bytearray(image)
    bad[40] ^= 0x01
    with pytest.raises(WeightsError, match="checksum"):
        W.parse(bytes(bad), h, ram.param_words)
    with pytest.raises(WeightsError, match="topology"):
        W.parse(image, h ^ 1, ram.param_words)
    with pytest.raises(WeightsError, match="bytes"):
        W.parse(image[:-4], h, ram.param_words)
    with pytest.raises(WeightsError, match="magic"):
        W.parse(b"\0" * 64)
    # the image of the compiled model itself reproduces the memories' initial contents
    own = W.parse(ram.weight_image(spec.model, spec.samples), h, ram.param_words)
    assert own == W.payload_words(ram.graph, ram.param_layout)


def test_incompatible_models_are_named(digits):
    """Another topology, a state dict of other shapes, a requant scale beyond the build's room,
    a ROM build, an op whose parameters are not runtime-writable: each a typed error naming the
    cause."""
    import torch.nn as nn
    spec, other, ram = digits

    class Wider(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                          nn.Conv2d(12, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Linear(64, 10)

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    with pytest.raises(WeightsError, match=r"layer .features\.0.: shape is \(8, 8, 12\) in the model, \(8, 8, 8\) in the build"):
        ram.weight_image(Wider().eval(), spec.samples)
    with pytest.raises(WeightsError, match="state dict"):
        ram.weight_image(Wider().state_dict(), spec.samples)
    assert len(ram.weight_image(other.model.state_dict(), other.samples)) == 32 + 4 * ram.param_words
    # a layer whose requant scale needs more than the build's shift leaves room for
    from lepton_hdl.passes import default_passes, run_passes
    from lepton_hdl.frontend import trace
    from lepton_hdl.pipeline import to_stream_layout
    import torch
    xs = torch.as_tensor(spec.samples, dtype=torch.float32)
    g = trace(spec.model, xs)
    passes = default_passes(list(to_stream_layout(xs.numpy(), g.input.shape, g.input.flat)), 8, 8,
                            weights="ram", fixed_shifts={"features_3": 40})
    with pytest.raises(WeightsError, match="layer 'features.3'.*rebuild"):
        run_passes(run_passes(g, passes[:2]), passes[2:3])
    rom = lepton_hdl.compile(spec.model, spec.samples, max_multipliers=64)
    with pytest.raises(WeightsError, match="weights='ram'"):
        rom.freeze(weights="ram")
    with pytest.raises(WeightsError, match="ROM"):
        rom.weight_image(other.model, other.samples)
    from lepton_hdl.examples import zoo
    m, x = zoo.make("residual")
    with pytest.raises(UnsupportedOpError, match="'add'.*not runtime-writable"):
        lepton_hdl.compile(m, x, weights="ram")


def test_cli_weights_command(tmp_path, capsys):
    """`lepton-hdl weights MODEL --for DIR --out FILE`: the image for a compile folder of a RAM
    build; a ROM build or a missing record is one line, exit status 2."""
    from lepton_hdl.cli import main
    from lepton_hdl import weights as W
    ram_dir, rom_dir = tmp_path / "ram", tmp_path / "rom"
    assert main(["compile", "digits", "--weights", "ram", "--max-multipliers", "64", "--out", str(ram_dir)]) == 0
    rec = json.loads((ram_dir / "lepton_build.json").read_text())
    assert rec["weights"] == "ram" and rec["param_words"] > 0
    out = tmp_path / "seed1.bin"
    assert main(["weights", "digits_seed1", "--for", str(ram_dir), "--out", str(out)]) == 0
    words = W.parse(out.read_bytes(), int(rec["topology"], 16), rec["param_words"])
    assert len(words) == rec["param_words"]
    assert main(["compile", "digits", "--max-multipliers", "64", "--out", str(rom_dir)]) == 0
    capsys.readouterr()
    assert main(["weights", "digits_seed1", "--for", str(rom_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ROM" in err[0] and "--weights ram" in err[0]
    assert main(["weights", "digits_seed1", "--for", str(tmp_path / "nothing"), "--out", str(out)]) == 2


@pytest.mark.slow
@pytest.mark.verilator
def test_soc_reload_demo(tmp_path):
    """The reload demo in the simulated SoC: digits on N images, digits_seed1's image loaded at
    run time by the firmware (no gateware rebuild between phases), the same images on it, a
    corrupted image refused with the loaded weights kept, then two updates sent by the host over
    the UART (one corrupted in transit, refused; one intact): 0 mismatches in every phase."""
    for tool in ("verilator", "riscv64-unknown-elf-gcc", "make"):
        require_tool(tool)
    from lepton_hdl.cli import main
    report = tmp_path / "reload.json"
    rc = main(["soc", "--board", "sim", "--model", "digits", "--weights", "ram", "--reload", "digits_seed1",
               "--images", "10", "--max-multipliers", "64", "--report", str(report),
               "--build-dir", str(tmp_path / "build")])
    r = json.loads(report.read_text())
    assert rc == 0 and r["ok"], r
    assert [p["model"] for p in r["phases"]] == ["digits", "digits_seed1", "digits_seed1 (after the corrupt image)",
                                                 "digits_seed1", "digits"]
    assert all(p["mismatches"] == 0 and p["images"] == 10 for p in r["phases"])
    # updates from the host over the UART: a frame with one bit flipped in transit is refused and
    # the loaded weights (digits_seed1) stay; the intact frame loads digits again
    assert [(u["result"], u["then_model"], u["mismatches"]) for u in r["uart_updates"]] == \
        [("checksum", "digits_seed1", 0), ("ok", "digits", 0)]
    assert all(p["accuracy"] == p["golden_accuracy"] for p in r["phases"])
    assert r["reload_rc"] == 0 and r["corrupt_refused"] == "checksum"
    assert r["start_during_load_refused"]          # a frame started mid-load: refused, the load goes on
    assert r["reload_bytes"] == 32 + 4 * lepton_hdl.compile(
        load("digits").model, load("digits").samples, max_multipliers=64, weights="ram").param_words
    assert 0 < r["reload_dma_cycles"] < r["reload_cycles"]
    # the accelerator ran at its bound: weights in RAM cost no cycles
    assert r["accel_hw_cycles"] > 0 and r["bound_cycles"] == 512

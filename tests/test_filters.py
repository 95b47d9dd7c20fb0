"""Image filters (``lepton_hdl.examples.filters``) on scikit-image photos: the quantized filters
against scipy's float ones (PSNR), the input taken as the photo's bytes, and the whole
``lepton-hdl filter`` flow in the simulated SoC (DMA in, filter, DMA out, firmware): 0 pixels
differing from the golden model, the pixel rate measured, PNGs written, a wrong output word
seen as FAIL."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lepton_hdl
from conftest import require_tool
from lepton_hdl.examples import filters as F

# PSNR floors (dB) of the 8-bit filters against scipy's float filters (the denoiser: against
# its own float model) on 48x48 crops; measured 44-53 dB
PSNR_FLOOR = dict(blur=40.0, sobel=35.0, sharpen=40.0, denoise=35.0)


@pytest.mark.parametrize("name,image", [("blur", "astronaut"), ("sobel", "camera"), ("sharpen", "coffee"),
                                        ("denoise", "astronaut")])
def test_filter_quality(name, image):
    img = F.image(image, 48)
    if name == "denoise":
        img = F.noisy(img)
    pipe = lepton_hdl.compile(F.build(name, img.shape[2]), F.calibration(img))
    x = torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]
    q = pipe.quantize_input(x)
    assert np.array_equal(q[0], np.round(img * 255).astype(np.int64)), "the photo's bytes are the input"
    y = pipe.dequantize(pipe.golden(x)[0])
    ref = F.reference(name, img)
    peak = 1.0 if name != "sobel" else float(ref.max())
    assert F.psnr(y, ref, peak) >= PSNR_FLOOR[name]
    if name == "denoise":            # it does denoise: closer to the clean photo than its input
        clean = F.image(image, 48)
        assert F.psnr(y, clean, 1.0) > F.psnr(img, clean, 1.0) + 2


def test_scipy_reference_matches_torch_float():
    """The scipy references are the same filters as the float modules (zero padding)."""
    img = F.image("astronaut", 40)
    x = torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]
    for name in ("blur", "sobel", "sharpen"):
        with torch.no_grad():
            got = F.build(name, 3)(x)[0].numpy().transpose(1, 2, 0)
        assert np.allclose(got, F.reference(name, img), atol=1e-5), name


def test_photos_are_bundled():
    for name in F.PHOTOS:
        a = F.image(name)
        assert a.ndim == 3 and a.shape[2] in (1, 3) and 0 <= a.min() and a.max() <= 1


@pytest.mark.slow
@pytest.mark.verilator
def test_filter_in_soc(tmp_path):
    """``lepton-hdl filter`` in the simulated SoC: exact, the pixel rate near the line-buffer
    pipeline's one a cycle, the PNGs written."""
    require_tool("verilator")
    require_tool("riscv64-unknown-elf-gcc")
    from PIL import Image
    from lepton_hdl.cli import main
    rep = tmp_path / "r.json"
    rc = main(["filter", "--filter", "sobel", "--image", "astronaut", "--size", "96", "--out", str(tmp_path / "png"),
               "--report", str(rep), "--build-dir", "build/soc-filter-test"])
    r = json.loads(rep.read_text())
    assert rc == 0 and r["ok"], r
    assert r["mismatches"] == 0 and r["cpu_mismatches"] == 0 and r["tuned_mismatches"] == 0
    assert r["bound_cycles"] == 96 * 96                      # the line-buffer generator: H*W
    # DMA included, one frame: the bound plus the pipeline's fill (a row and a few cycles)
    assert r["bound_cycles"] <= r["cycles"] <= r["bound_cycles"] + 2 * 96 + 120, r["cycles"]
    assert r["px_per_cycle"] >= 0.97
    assert r["speedup"] > 50 and r["psnr_db"] >= PSNR_FLOOR["sobel"]
    for k in ("input", "output", "diff", "side_by_side"):
        im = Image.open(r["files"][k])
        assert im.size[1] == 96
    assert not np.asarray(Image.open(r["files"]["diff"])).any(), "the difference image must be black"


@pytest.mark.slow
@pytest.mark.verilator
def test_filter_fault_is_seen(tmp_path):
    """A wrong output word: the firmware's verdict says FAIL and the host counts the pixel."""
    require_tool("verilator")
    from lepton_hdl import filtering
    r = filtering.run("sobel", "astronaut", size=96, out_dir=tmp_path, build_root="build/soc-filter-test",
                      defines=("LEPTON_INJECT_FAULT=5",), log=lambda m: None)
    assert not r["ok"] and r["mismatches"] == 1 and r["cpu_mismatches"] == 1, r


@pytest.mark.parametrize("argv,match", [
    (["--filter", "nosuch"], "unknown filter"),
    (["--filter", "blur", "--image", "nosuch"], "unknown image"),
    (["--filter", "blur", "--size", "0"], "--size 0: must be at least 1"),
    (["--filter", "blur", "--size", "3"], "--size 3: must be between 4 and 2048"),
    (["--filter", "blur", "--board", "ulx3s"], "only 'sim' runs firmware"),
])
def test_filter_bad_input(capsys, argv, match):
    from lepton_hdl.cli import main
    rc = main(["filter", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err

"""Image filters as plain ``nn.Module``s, compiled by the normal path (``lepton-hdl filter``):

* ``blur``: Gaussian blur, a depthwise ``size x size`` convolution (sigma 1, zero padding);
* ``sobel``: Sobel edge magnitude ``|gx| + |gy|`` of the luma (RGB weighted 0.299/0.587/0.114,
  folded into the two 3x3 kernels), then the sum of the magnitudes (a 1x1 convolution);
* ``sharpen``: unsharp mask ``x + amount * (x - blur(x))`` as one depthwise kernel, clamped to
  the pixel range;
* ``denoise``: a small learned denoiser (three 3x3 convolutions, the last one predicting the
  noise's negative, added back by a residual connection), trained in seconds on noisy crops of the
  scikit-image sample photos (not the demo's ``astronaut``); its weights ship in ``lepton_hdl/data/denoise.pt``
  (``python -m lepton_hdl.examples.filters train`` retrains them).

Pixels are floats in ``[0, 1]``: calibrated on ``samples`` that span the range, the input is
8-bit unsigned at scale ``1/255``, so the pipeline takes the photo's bytes unchanged.
``reference(name, image)`` is the float filter from scipy (``scipy.ndimage``, zero padding) the
quantized result is compared with (PSNR).

    lepton-hdl filter --board sim --filter sobel --image camera --out build/filter
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

FILTERS = ("blur", "sobel", "sharpen", "denoise")
LUMA = (0.299, 0.587, 0.114)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
BLUR_SIGMA, BLUR_SIZE = 1.0, 5
SHARPEN_SIGMA, SHARPEN_SIZE, SHARPEN_AMOUNT = 1.0, 3, 1.0
DENOISE_SIGMA = 0.08                     # noise the denoiser is trained for and demonstrated on
WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "denoise.pt"
TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "immunohistochemistry")


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """The normalised ``size x size`` Gaussian: scipy's ``gaussian_filter`` with radius
    ``size // 2`` (``truncate = radius / sigma``) uses the same one."""
    r = size // 2
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


def _depthwise(channels: int, kernel: np.ndarray):
    import torch
    import torch.nn as nn
    k = kernel.shape[0]
    conv = nn.Conv2d(channels, channels, k, padding=k // 2, groups=channels, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(np.broadcast_to(kernel, (channels, 1, k, k)).copy(), dtype=torch.float32))
    return conv


def blur(channels: int = 3, size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA):
    """Gaussian blur: one depthwise convolution."""
    import torch.nn as nn

    class GaussianBlur(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = _depthwise(channels, gaussian_kernel(size, sigma))

        def forward(self, x):
            return self.conv(x)

    return GaussianBlur().eval()


def sharpen(channels: int = 3, amount: float = SHARPEN_AMOUNT, size: int = SHARPEN_SIZE,
            sigma: float = SHARPEN_SIGMA):
    """Unsharp mask ``(1 + amount) x - amount * blur(x)`` as one kernel, clamped to [0, 1]."""
    import torch
    import torch.nn as nn
    k = -amount * gaussian_kernel(size, sigma)
    k[size // 2, size // 2] += 1 + amount

    class Sharpen(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = _depthwise(channels, k)

        def forward(self, x):
            return torch.clamp(self.conv(x), 0.0, 1.0)

    return Sharpen().eval()


def sobel(channels: int = 3):
    """Sobel edge magnitude ``|gx| + |gy|`` of the luma (of the one channel for a gray image)."""
    import torch
    import torch.nn as nn
    luma = np.array(LUMA if channels == 3 else [1.0 / channels] * channels)

    class Sobel(nn.Module):
        def __init__(self):
            super().__init__()
            self.grad = nn.Conv2d(channels, 2, 3, padding=1, bias=False)
            self.sum = nn.Conv2d(2, 1, 1, bias=False)
            w = np.stack([np.einsum("c,yx->cyx", luma, SOBEL_X), np.einsum("c,yx->cyx", luma, SOBEL_X.T)])
            with torch.no_grad():
                self.grad.weight.copy_(torch.tensor(w, dtype=torch.float32))
                self.sum.weight.fill_(1.0)

        def forward(self, x):
            return self.sum(torch.abs(self.grad(x)))

    return Sobel().eval()


def denoise_model(channels: int = 3, width: int = 8):
    """The denoiser's topology: ``x + net(x)`` clamped to [0, 1], ``net`` three 3x3
    convolutions (it learns the noise's negative)."""
    import torch
    import torch.nn as nn

    class Denoiser(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, channels, 3, padding=1))

        def forward(self, x):
            return torch.clamp(x + self.net(x), 0.0, 1.0)

    return Denoiser()


def denoise(channels: int = 3):
    """The shipped denoiser (``WEIGHTS``); a gray image uses its RGB weights summed over the
    input colours and averaged over the output ones."""
    import torch
    m = denoise_model(3)
    m.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    if channels == 3:
        return m.eval()
    g = denoise_model(channels)
    sd = {k: v.clone() for k, v in m.state_dict().items()}
    sd["net.0.weight"] = sd["net.0.weight"].sum(1, keepdim=True).repeat(1, channels, 1, 1) / channels
    sd["net.4.weight"] = sd["net.4.weight"].mean(0, keepdim=True).repeat(channels, 1, 1, 1)
    sd["net.4.bias"] = sd["net.4.bias"].mean().repeat(channels)
    g.load_state_dict(sd)
    return g.eval()


def noisy(image: np.ndarray, sigma: float = DENOISE_SIGMA, seed: int = 0) -> np.ndarray:
    """``image`` (floats in [0, 1]) with seeded Gaussian noise, clipped to [0, 1] and rounded to
    8-bit levels (what a sensor would deliver)."""
    rng = np.random.default_rng(seed)
    return np.round(np.clip(image + rng.normal(0, sigma, image.shape), 0, 1) * 255) / 255


def train(steps: int = 400, seed: int = 0, out: Path = WEIGHTS, log=print) -> float:
    """Train the denoiser on noisy 48x48 crops of four sample photos (not ``astronaut`` nor
    ``camera``, kept for the demo); returns the final training loss. About ten seconds on a
    laptop CPU."""
    import torch
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    photos = [image(n) for n in TRAIN_PHOTOS]
    m = denoise_model(3)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    loss = None
    for step in range(steps):
        batch = []
        for _ in range(16):
            p = photos[rng.integers(len(photos))]
            y0, x0 = rng.integers(0, p.shape[0] - 48), rng.integers(0, p.shape[1] - 48)
            batch.append(p[y0:y0 + 48, x0:x0 + 48])
        clean = torch.tensor(np.stack(batch), dtype=torch.float32).permute(0, 3, 1, 2)
        sig = float(rng.uniform(0.5, 1.5)) * DENOISE_SIGMA
        dirty = torch.clamp(clean + sig * torch.randn(clean.shape), 0, 1)
        loss = torch.mean((m(dirty) - clean) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and step % 100 == 0:
            log(f"[denoise] step {step}: mse {loss.item():.5f}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(m.state_dict(), out)
    return float(loss.item())


def build(name: str, channels: int = 3):
    """The filter ``name`` (one of ``FILTERS``) as a module in eval mode."""
    try:
        make = dict(blur=blur, sobel=sobel, sharpen=sharpen, denoise=denoise)[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}: choose one of {', '.join(FILTERS)}") from None
    return make(channels)


# --------------------------------------------------------------------------------------------
# photos and references

PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "moon", "page",
          "text", "coins", "brick", "grass", "gravel", "horse")


def image(name: str, size=None) -> np.ndarray:
    """A scikit-image sample photo (bundled with the package, no download) as floats in [0, 1],
    ``(H, W, C)``; ``size`` scales the shorter side to ``size`` pixels and crops the centre square
    (area averaging)."""
    import skimage.data
    if name not in PHOTOS:
        raise ValueError(f"unknown image {name!r}: choose one of {', '.join(PHOTOS)}")
    a = getattr(skimage.data, name)()
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    a = a[..., :3]
    a = a.astype(np.float64) / (255.0 if a.dtype != np.float64 or a.max() > 1 else 1.0)
    if size is not None:
        from skimage.transform import resize
        h, w = a.shape[:2]
        s = size / min(h, w)
        a = resize(a, (max(size, round(h * s)), max(size, round(w * s))), anti_aliasing=True, order=1)
        h, w = a.shape[:2]
        y0, x0 = (h - size) // 2, (w - size) // 2
        a = a[y0:y0 + size, x0:x0 + size]
    return np.round(np.clip(a, 0, 1) * 255) / 255


def reference(name: str, img: np.ndarray) -> np.ndarray:
    """The float filter by scipy (zero padding), ``(H, W, C_out)``; the denoiser's reference is
    its own float model."""
    from scipy import ndimage
    if name == "blur":
        return np.stack([ndimage.gaussian_filter(img[..., c], BLUR_SIGMA, mode="constant",
                                                 truncate=(BLUR_SIZE // 2) / BLUR_SIGMA)
                         for c in range(img.shape[2])], -1)
    if name == "sharpen":
        b = np.stack([ndimage.gaussian_filter(img[..., c], SHARPEN_SIGMA, mode="constant",
                                              truncate=(SHARPEN_SIZE // 2) / SHARPEN_SIGMA)
                      for c in range(img.shape[2])], -1)
        return np.clip(img + SHARPEN_AMOUNT * (img - b), 0, 1)
    if name == "sobel":
        y = img @ np.array(LUMA) if img.shape[2] == 3 else img.mean(-1)
        gx = ndimage.sobel(y, axis=1, mode="constant")
        gy = ndimage.sobel(y, axis=0, mode="constant")
        return (np.abs(gx) + np.abs(gy))[..., None]
    if name == "denoise":
        import torch
        m = build(name, img.shape[2])
        with torch.no_grad():
            return m(torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]).numpy()[0].transpose(1, 2, 0)
    raise ValueError(f"unknown filter {name!r}")


def calibration(img: np.ndarray):
    """Calibration samples for a filter on ``img``: the photo itself, plus a frame that spans
    the full pixel range (black and white), so the input scale is exactly 1/255."""
    import torch
    span = np.zeros_like(img)
    span[::2] = 1.0
    return torch.tensor(np.stack([img, span]), dtype=torch.float32).permute(0, 3, 1, 2)


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b`` in dB (``inf`` when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak ** 2 / mse)


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["train"]:
        print(f"final mse {train():.5f}; weights in {WEIGHTS}")
    else:
        print("usage: python -m lepton_hdl.examples.filters train")


# --------------------------------------------------------------------------------------------
# factories for `lepton-hdl compile/build` (video frames)

def _video_samples(h: int, w: int, channels: int, seed: int = 0):
    """Calibration frames for a video filter: a seeded random frame and one spanning black and
    white (the input scale exactly 1/255)."""
    rng = np.random.default_rng(seed)
    img = np.round(rng.random((h, w, channels)) * 255) / 255
    return calibration(img)


def sobel_1080p_factory():
    """Sobel edge magnitude on 1920x1080 RGB frames (``lepton-hdl build --board colorlight_i5
    --accel-only --model lepton_hdl/examples/filters.py:sobel_1080p_factory``)."""
    return sobel(3), _video_samples(1080, 1920, 3)


def blur_1080p_factory():
    """5x5 Gaussian blur on 1920x1080 RGB frames."""
    return blur(3), _video_samples(1080, 1920, 3)


def sobel_720p_factory():
    """Sobel edge magnitude on 1280x720 RGB frames."""
    return sobel(3), _video_samples(720, 1280, 3)

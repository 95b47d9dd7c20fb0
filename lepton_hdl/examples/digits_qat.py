"""The digits CNN trained quantisation-aware at w4/a4 (a small fake-quant in torch, no Brevitas).

Same topology as ``digits`` (conv3x3 1->8, ReLU, maxpool, conv3x3 8->16, ReLU, maxpool, linear
64->10). Training sees what the hardware computes: weights fake-quantised per output channel to
4-bit signed integers (narrow range, +-7), the input to 4-bit unsigned (scale 1/15), every
activation after a ReLU to 4-bit unsigned and the logits to 4-bit signed, at scales it learns
(LSQ); gradients pass the rounding straight through. It starts from the
float weights that ship with ``digits`` and fine-tunes for ``EPOCHS`` epochs.

The frozen model is a plain ``nn.Module`` whose quantization is given, not calibrated:
``QuantAct`` modules carry the activation scales and each layer's ``weight_quant`` its
integers, so ``lepton_hdl.compile`` honours them (as it does a QONNX model's ``Quant`` nodes)
and the hardware computes the trained integers.

    lepton-hdl build --board icebreaker --model digits_qat --accel-only
    python -m lepton_hdl.examples.digits_qat --train        # retrain (a few seconds)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .digits import LABELS, dataset

BITS = 4
EPOCHS = 40
SEED = 0
WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "digits_qat_w4a4.pt"


def _ste_round(x):
    """floor(x + 0.5) (the hardware's rounding) forward, the identity backward."""
    return x + ((x + 0.5).floor() - x).detach()


def _qmodel():
    import torch
    import torch.nn as nn
    from .digits import build

    class FakeQuant(nn.Module):
        """Activation fake-quantisation with a learned scale (LSQ: the scale's logarithm is a
        parameter; rounding passes gradients straight through), initialised from the float
        model's 99.9th percentile."""

        def __init__(self, signed, init=1.0):
            super().__init__()
            self.signed = signed
            self.qmax = (1 << (BITS - 1)) - 1 if signed else (1 << BITS) - 1
            self.qmin = -(1 << (BITS - 1)) if signed else 0
            self.log_scale = nn.Parameter(torch.tensor(float(np.log(init / self.qmax))))

        @property
        def scale(self):
            return float(self.log_scale.detach().exp())

        def forward(self, x):
            s = self.log_scale.exp()
            return torch.clamp(_ste_round(x / s), self.qmin, self.qmax) * s

    def wq(w):
        """Per-output-channel 4-bit weights (narrow, +-7) with straight-through rounding."""
        qmax = (1 << (BITS - 1)) - 1
        s = w.detach().abs().reshape(w.shape[0], -1).max(1).values.clamp_min(1e-8) / qmax
        s = s.reshape((-1,) + (1,) * (w.ndim - 1))
        return torch.clamp(_ste_round(w / s), -qmax, qmax) * s

    class QATDigits(nn.Module):
        def __init__(self):
            super().__init__()
            f = build()
            self.conv1, self.conv2 = f.features[0], f.features[3]
            self.fc = f.classifier
            self.a1, self.a2, self.out = FakeQuant(False), FakeQuant(False), FakeQuant(True)

        def init_scales(self, x):
            """Each activation scale from the float activations' 99.9th percentile on ``x``."""
            with torch.no_grad():
                a1 = torch.relu(self.conv1(x))
                a2 = torch.relu(self.conv2(nn.functional.max_pool2d(a1, 2)))
                o = self.fc(nn.functional.max_pool2d(a2, 2).flatten(1))
            for q, t in ((self.a1, a1), (self.a2, a2), (self.out, o.abs())):
                q.log_scale.data.fill_(float(np.log(np.percentile(t.numpy(), 99.9) / q.qmax)))

        def forward(self, x):
            x = torch.clamp(_ste_round(x * 15), 0, 15) / 15
            x = self.a1(torch.relu(nn.functional.conv2d(x, wq(self.conv1.weight), self.conv1.bias, padding=1)))
            x = nn.functional.max_pool2d(x, 2)
            x = self.a2(torch.relu(nn.functional.conv2d(x, wq(self.conv2.weight), self.conv2.bias, padding=1)))
            x = nn.functional.max_pool2d(x, 2).flatten(1)
            return self.out(nn.functional.linear(x, wq(self.fc.weight), self.fc.bias))

    return QATDigits()


def train(log=print, epochs: int = EPOCHS, seed: int = SEED):
    """Fine-tune the shipped float digits weights quantisation-aware; returns the QAT model."""
    import torch
    from .digits import trained_model
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    xtr, ytr, xte, yte = dataset()
    m = _qmodel()
    f = trained_model()
    m.conv1.load_state_dict(f.features[0].state_dict())
    m.conv2.load_state_dict(f.features[3].state_dict())
    m.fc.load_state_dict(f.classifier.state_dict())
    g = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    m.init_scales(x)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        m.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(x[idx]), y[idx]).backward()
            opt.step()
        sched.step()
    m.eval()
    with torch.no_grad():
        acc = float((m(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    log(f"[digits_qat] w{BITS}/a{BITS} fake-quant accuracy {100 * acc:.2f}% on the 360 held-out digits")
    return m


def freeze(m):
    """The QAT model as the plain module ``compile`` takes: ``QuantAct`` at the input, after each
    ReLU and on the logits, each layer's integer weights in ``weight_quant``."""
    import torch
    import torch.nn as nn
    from ..ops.quant import QuantAct

    def layer(src, new):
        w = src.weight.detach().numpy().astype(np.float64)
        qmax = (1 << (BITS - 1)) - 1
        s = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(1), 1e-8) / qmax
        q = np.clip(np.floor(w / s.reshape((-1,) + (1,) * (w.ndim - 1)) + 0.5), -qmax, qmax).astype(np.int64)
        new.weight.data.copy_(torch.as_tensor(q * s.reshape((-1,) + (1,) * (w.ndim - 1)), dtype=torch.float32))
        new.bias.data.copy_(src.bias.detach())
        new.weight_quant = dict(int=q, scale=s, bits=BITS)
        return new

    def act(fq, signed):
        return QuantAct(fq.scale, BITS, signed)

    return nn.Sequential(
        QuantAct(1 / 15, BITS, False),
        layer(m.conv1, nn.Conv2d(1, 8, 3, padding=1)), nn.ReLU(), act(m.a1, False), nn.MaxPool2d(2),
        layer(m.conv2, nn.Conv2d(8, 16, 3, padding=1)), nn.ReLU(), act(m.a2, False), nn.MaxPool2d(2),
        nn.Flatten(), layer(m.fc, nn.Linear(64, 10)), act(m.out, True)).eval()


def train_and_save(out: Path = WEIGHTS, log=print) -> Path:
    import torch
    m = train(log)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(m.state_dict(), out)
    log(f"[digits_qat] saved {out}")
    return out


def trained_model(path: Path = WEIGHTS):
    """The frozen QAT model from the shipped weights."""
    import torch
    from ..errors import ModelError
    if not path.exists():
        raise ModelError(f"digits_qat: no trained weights at {path}; train them with "
                         f"`python -m lepton_hdl.examples.digits_qat --train`")
    m = _qmodel()
    m.load_state_dict(torch.load(path, weights_only=True))
    return freeze(m.eval())


def factory(log=None):
    """``(model, calibration samples, (x_test, y_test), labels)``: quantization given, so the
    samples only trace it."""
    xtr, _, xte, yte = dataset()
    return trained_model(), xtr[:64], (xte, yte), LABELS


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="train the w4/a4 quantisation-aware digits model")
    ap.add_argument("--train", action="store_true", required=True)
    ap.add_argument("--out", default=str(WEIGHTS))
    a = ap.parse_args()
    train_and_save(Path(a.out))

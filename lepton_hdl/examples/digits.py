"""A small CNN trained on scikit-learn's ``load_digits`` (real 8x8 handwritten digits).

conv3x3 1->8, ReLU, maxpool 2, conv3x3 8->16, ReLU, maxpool 2, linear 64->10. Fixed split
(1437 train / 360 held out, stratified, ``random_state=0``), fixed seed.

The trained weights ship with the package (``lepton_hdl/data/digits.pt``, 11 kB): training is
not bit-reproducible across machines (thread counts, BLAS), so every figure in the README is for
these weights. Training is an explicit command::

    python -m lepton_hdl.examples.digits --train [--out FILE]

(a few seconds on a CPU; ``--out`` defaults to the shipped file).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

LABELS = tuple(str(i) for i in range(10))
EPOCHS = 60
SEED = 0


def dataset():
    """``(x_train, y_train, x_test, y_test)``; x float32 (N, 1, 8, 8) scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=360, random_state=0, stratify=d.target)
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)


def build():
    import torch.nn as nn

    class DigitsNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.classifier = nn.Linear(64, 10)

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    return DigitsNet()


def train(model, xtr, ytr, epochs=EPOCHS, seed=SEED):
    import torch
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "digits.pt"


def trained_model(log=None, path: Path = WEIGHTS):
    """The trained model: the weights shipped with the package."""
    import torch
    from ..errors import ModelError
    model = build()
    if not path.exists():
        raise ModelError(f"digits: no trained weights at {path}; train them with "
                         f"`python -m lepton_hdl.examples.digits --train`")
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


# the same topology trained with another seed: the model a weights-in-RAM build reloads
WEIGHTS_SEED1 = WEIGHTS.with_name("digits_seed1.pt")


def train_and_save(out: Path = WEIGHTS, log=print, seed: int = SEED) -> Path:
    """Train the model (fixed split, ``seed``) and save its weights to ``out``."""
    import torch
    log(f"[digits] training on load_digits ({EPOCHS} epochs, seed {seed}) -> {out}")
    xtr, ytr, xte, yte = dataset()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = train(build(), xtr, ytr, seed=seed)
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out)
    log(f"[digits] float accuracy {100 * acc:.2f}% on the 360 held-out images; saved {out}")
    return out


def factory(log=None):
    """``(model, calibration samples, (x_test, y_test), labels)`` for the CLI."""
    xtr, _, xte, yte = dataset()
    return trained_model(log), xtr[:256], (xte, yte), LABELS


def seed1_factory(log=None):
    """The digits topology trained with seed 1 (weights shipped in ``data/digits_seed1.pt``):
    ``lepton-hdl soc --model digits --weights ram --reload digits_seed1``."""
    xtr, _, xte, yte = dataset()
    return trained_model(log, WEIGHTS_SEED1), xtr[:256], (xte, yte), LABELS


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="train the digits example and save its weights")
    ap.add_argument("--train", action="store_true", required=True)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=None, help="default: data/digits.pt (seed 0), data/digits_seed1.pt (seed 1)")
    a = ap.parse_args()
    default = WEIGHTS if a.seed == SEED else WEIGHTS.with_name(f"digits_seed{a.seed}.pt")
    train_and_save(Path(a.out) if a.out else default, seed=a.seed)

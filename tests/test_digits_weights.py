"""The digits example's weights ship with the package, so its figures reproduce on any
machine; training them is an explicit command."""
import subprocess
import sys

import numpy as np
import torch

from lepton_hdl.examples import digits


def test_shipped_weights_reproduce_the_readme_accuracy():
    spec = digits.factory()
    model, (x, y) = spec[0], spec[2]
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    assert len(y) == 360 and int((pred == y).sum()) == 351        # 97.50%, the README's figure


def test_train_command_writes_loadable_weights(tmp_path):
    out = tmp_path / "d.pt"
    r = subprocess.run([sys.executable, "-m", "lepton_hdl.examples.digits", "--train", "--out", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "float accuracy" in r.stdout and out.exists()
    m = digits.trained_model(path=out)
    _, _, xte, yte = digits.dataset()
    with torch.no_grad():
        acc = float((m(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
    assert acc > 0.9
    assert all(np.isfinite(p.detach().numpy()).all() for p in m.parameters())

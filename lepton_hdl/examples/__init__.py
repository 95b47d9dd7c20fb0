"""Built-in example models. ``lepton-hdl compile digits`` uses ``digits.factory``."""


def seeded(make, seed: int):
    """``make()`` built with torch seeded by ``seed``, every BatchNorm given running statistics
    drawn at random (non-trivial folding), in eval mode: a real model's size and structure
    without training it."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    m = make()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    return m.eval()

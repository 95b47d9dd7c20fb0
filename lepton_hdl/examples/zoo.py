"""A zoo of small models covering every supported op, for tests and ``bench/compile.py``.

Each entry builds a randomly initialised model (seeded; BatchNorm statistics made
non-trivial) and its input shape. They are not trained: the zoo checks compilation and
bit-exactness, not accuracy.
"""
from __future__ import annotations


def _models():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 6, 5, padding=2)
            self.c2 = nn.Conv2d(6, 16, 5)
            self.f1 = nn.Linear(16 * 2 * 2, 32)
            self.f2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.c1(x)), 2)
            x = F.max_pool2d(F.relu(self.c2(x)), 2)
            x = torch.flatten(x, 1)
            return self.f2(F.relu(self.f1(x)))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1),
                                     nn.Linear(32, 16), nn.ReLU6(), nn.Linear(16, 10))

        def forward(self, x):
            return self.net(x)

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(8)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))

        def forward(self, x):
            x = self.stem(x)
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.head(F.relu(x + y))

    class DepthwiseSeparable(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU6(),
                nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.ReLU6(),
                nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.Hardtanh(-2.0, 2.0),
                nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16 * 2 * 2, 5))

        def forward(self, x):
            return self.net(x)

    class Variants(nn.Module):
        """Odd kernels, strides and paddings, a grouped conv, a clamp, a standalone ReLU."""
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(2, 6, (3, 5), stride=(1, 2), padding=(1, 2))
            self.b = nn.Conv2d(6, 6, 2, stride=2, groups=2)
            self.c = nn.Conv2d(6, 4, 1)
            self.pool = nn.MaxPool2d(3, stride=1, padding=1)
            self.fc = nn.Linear(4 * 5 * 3, 6)

        def forward(self, x):
            x = torch.clamp(self.a(x), -1.0, 1.5)
            x = self.b(x)
            x = self.pool(x).relu()
            x = self.c(x)
            return self.fc(x.view(x.size(0), -1))

    return {"lenet": (LeNet, (1, 16, 16)), "mlp": (MLP, (64,)), "residual": (Residual, (3, 8, 8)),
            "depthwise_separable": (DepthwiseSeparable, (3, 8, 8)), "variants": (Variants, (2, 10, 11))}


NAMES = ("lenet", "mlp", "residual", "depthwise_separable", "variants")


def make(name: str, seed: int = 0, n_samples: int = 32):
    """``(model, samples)`` for a zoo entry."""
    import torch
    cls, shape = _models()[name]
    torch.manual_seed(seed)
    model = cls()
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    samples = torch.randn((n_samples,) + shape, generator=torch.Generator().manual_seed(seed + 1))
    return model, samples


def factory(name="lenet"):
    return make(name)


def residual_factory():
    """For ``lepton-hdl soc --model lepton_hdl/examples/zoo.py:residual_factory``."""
    return make("residual")


def depthwise_factory():
    return make("depthwise_separable")


def tiny_factory():
    """A very small CNN (6x6 input) for quick synthesis checks."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)).eval()
    return m, torch.rand(16, 1, 6, 6)

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

    class EncoderDecoder(nn.Module):
        """U-Net style: a pooled encoder, a nearest x2 upsample, a skip joined by channel concat."""
        def __init__(self):
            super().__init__()
            self.e1 = nn.Conv2d(1, 4, 3, padding=1)
            self.e2 = nn.Conv2d(4, 8, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.d1 = nn.Conv2d(12, 4, 3, padding=1)
            self.out = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            a = F.relu(self.e1(x))
            b = F.relu(self.e2(F.max_pool2d(a, 2)))
            return self.out(F.relu(self.d1(torch.cat([a, self.up(b)], dim=1))))

    class SqueezeExcite(nn.Module):
        """A squeeze-and-excitation block: global pool, two FCs, a sigmoid gate times the map."""
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 8, 3, padding=1)
            self.f1 = nn.Linear(8, 4)
            self.f2 = nn.Linear(4, 8)
            self.head = nn.Linear(8, 5)

        def forward(self, x):
            x = F.relu(self.c(x))
            g = F.adaptive_avg_pool2d(x, 1).flatten(1)
            g = torch.sigmoid(self.f2(F.relu(self.f1(g)))).view(-1, 8, 1, 1)
            return self.head(F.adaptive_avg_pool2d(x * g, 1).flatten(1))

    class InvertedResidual(nn.Module):
        """A MobileNetV3 block: 1x1 expand, hardswish, depthwise 3x3, hardswish, 1x1 project, add."""
        def __init__(self):
            super().__init__()
            self.exp = nn.Conv2d(4, 8, 1)
            self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.bn = nn.BatchNorm2d(8)
            self.proj = nn.Conv2d(8, 4, 1)

        def forward(self, x):
            y = F.hardswish(self.bn(self.dw(F.hardswish(self.exp(x)))))
            return x + self.proj(y)

    class Sobel(nn.Module):
        """Edge magnitude |gx| + |gy| of a grey image (fixed Sobel kernels)."""
        def __init__(self):
            super().__init__()
            k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
            self.gx = nn.Conv2d(1, 1, 3, padding=1, bias=False)
            self.gy = nn.Conv2d(1, 1, 3, padding=1, bias=False)
            with torch.no_grad():
                self.gx.weight.copy_(k.view(1, 1, 3, 3))
                self.gy.weight.copy_(k.t().contiguous().view(1, 1, 3, 3))

        def forward(self, x):
            return torch.abs(self.gx(x)) + self.gy(x).abs()

    class Activations(nn.Module):
        """Every table activation side by side, joined by a concat."""
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 4, 3, padding=1)
            self.gelu = nn.GELU(approximate="tanh")

        def forward(self, x):
            y = self.c(x)
            return torch.cat([torch.sigmoid(y), torch.tanh(y), F.hardswish(y), F.hardsigmoid(y), F.silu(y),
                              F.gelu(y), self.gelu(y)], dim=1)

    class Gallery(nn.Module):
        """Every new op in one classifier (for the SoC test): hardswish, an SE gate, upsample,
        concat, abs."""
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 6, 3, padding=1)
            self.f1 = nn.Linear(6, 6)
            self.down = nn.Conv2d(6, 6, 3, padding=1)
            self.up = nn.Upsample(scale_factor=2)
            self.mix = nn.Conv2d(12, 6, 1)
            self.head = nn.Linear(6, 4)

        def forward(self, x):
            x = F.hardswish(self.stem(x))
            g = torch.sigmoid(self.f1(F.adaptive_avg_pool2d(x, 1).flatten(1))).view(-1, 6, 1, 1)
            x = x * g
            d = self.up(self.down(F.max_pool2d(x, 2)))
            y = torch.abs(self.mix(torch.cat([x, d], 1)))
            return self.head(F.adaptive_avg_pool2d(y, 1).flatten(1))

    return {"lenet": (LeNet, (1, 16, 16)), "mlp": (MLP, (64,)), "residual": (Residual, (3, 8, 8)),
            "depthwise_separable": (DepthwiseSeparable, (3, 8, 8)), "variants": (Variants, (2, 10, 11)),
            "encoder_decoder": (EncoderDecoder, (1, 8, 8)), "squeeze_excite": (SqueezeExcite, (3, 6, 6)),
            "inverted_residual": (InvertedResidual, (4, 6, 6)), "sobel": (Sobel, (1, 10, 10)),
            "activations": (Activations, (2, 5, 5)), "gallery": (Gallery, (3, 8, 8))}


NAMES = ("lenet", "mlp", "residual", "depthwise_separable", "variants", "encoder_decoder", "squeeze_excite",
         "inverted_residual", "sobel", "activations", "gallery")


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


def gallery_factory():
    """Every new op (table activations, SE gate multiply, upsample, concat, abs) in one model."""
    return make("gallery")


def tiny_factory():
    """A very small CNN (6x6 input) for quick synthesis checks."""
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)).eval()
    return m, torch.rand(16, 1, 6, 6)

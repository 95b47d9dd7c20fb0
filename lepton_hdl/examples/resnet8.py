"""The MLPerf Tiny image-classification ResNet-8 topology (3x32x32 input, 16/32/64 channels,
three residual stages, global average pool, FC 10), our own implementation with seeded
weights and non-trivial BatchNorm statistics: it checks compilation, folding and exactness at
a real model's size, not accuracy (training it is the real-size-models issue's).

    lepton-hdl compile lepton_hdl/examples/resnet8.py:factory --max-multipliers 256
"""
from __future__ import annotations


def _model():
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.sc = None
            if stride != 1 or cin != cout:
                self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
            return F.relu(y + (x if self.sc is None else self.sc(x)))

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            self.stage1 = Block(16, 16, 1)
            self.stage2 = Block(16, 32, 2)
            self.stage3 = Block(32, 64, 2)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.stage3(self.stage2(self.stage1(self.stem(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

    return ResNet8()


def factory(seed: int = 0, n_samples: int = 16):
    """``(model, samples)``: seeded weights, BatchNorm statistics drawn at random, uniform
    [0, 1) calibration images."""
    import torch
    from lepton_hdl.examples import seeded
    m = seeded(_model, seed)
    x = torch.rand((n_samples, 3, 32, 32), generator=torch.Generator().manual_seed(seed + 1))
    return m, x


def stage3_conv_factory(seed: int = 0, n_samples: int = 8):
    """ResNet-8's largest layer alone (stage 3's second 3x3 convolution, 8x8x64 -> 64, + ReLU),
    for timing it by itself: ``lepton-hdl build --board ulx3s --model
    lepton_hdl/examples/resnet8.py:stage3_conv_factory --accel-only --fold 0=1,36`` (the folding
    the ULX3S SoC build gives it)."""
    import torch
    import torch.nn as nn
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU()).eval()
    return m, torch.randn((n_samples, 64, 8, 8))

"""The MLPerf Tiny keyword-spotting DS-CNN topology (1x49x10 MFCC input; a 10x4 stride-2
convolution to 64 channels; four depthwise-separable blocks of a 3x3 depthwise and a 1x1
pointwise convolution, 64 channels; global average pool; FC 12), our own implementation with
seeded weights and non-trivial BatchNorm statistics: it checks compilation, folding and
exactness at a real model's size, not accuracy.

    lepton-hdl compile lepton_hdl/examples/dscnn.py:factory --board colorlight_i5
"""
from __future__ import annotations


def _model(channels: int = 64, blocks: int = 4, classes: int = 12):
    import torch.nn as nn

    def separable(c):
        return nn.Sequential(
            nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())

    class DSCNN(nn.Module):
        def __init__(self):
            super().__init__()
            # TensorFlow's 'same' padding of the reference gives 25 x 5; (5, 1) does too
            self.stem = nn.Sequential(nn.Conv2d(1, channels, (10, 4), 2, (5, 1), bias=False),
                                      nn.BatchNorm2d(channels), nn.ReLU())
            self.blocks = nn.Sequential(*[separable(channels) for _ in range(blocks)])
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(channels, classes)

        def forward(self, x):
            return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))

    return DSCNN()


def factory(seed: int = 0, n_samples: int = 16):
    """``(model, samples)``: seeded weights, BatchNorm statistics drawn at random, calibration
    inputs drawn like normalised MFCCs (zero mean, unit variance)."""
    import torch
    from lepton_hdl.examples import seeded
    m = seeded(_model, seed)
    x = torch.randn((n_samples, 1, 49, 10), generator=torch.Generator().manual_seed(seed + 1))
    return m, x

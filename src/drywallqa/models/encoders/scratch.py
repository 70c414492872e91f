"""``scratch``: a residual CNN trained from scratch (the encoder of the shipped ``fast`` model)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_encoder


def conv_bn_act(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    """ResNet basic block ``(B, C, H, W) -> (B, C, H, W)``."""

    conv_bn_pairs = (("conv2", "bn2"),)  # bn2 reads conv2's output straight: folded for inference (models.folding)

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = conv_bn_act(channels, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(self.conv1(x))))


def stage(cin: int, cout: int, depth: int) -> nn.Sequential:
    """A stride-2 convolution then ``depth`` residual blocks."""
    return nn.Sequential(conv_bn_act(cin, cout, 2), *[BasicBlock(cout) for _ in range(depth)])


@register_encoder("scratch")
class ScratchEncoder(nn.Module):
    """``(B, 3, S, S)`` RGB in 0..1 -> 5 features at strides 2..32 with ``config.encoder_channels`` channels
    (``config.encoder_depths`` residual blocks in the stages at strides 4..32)."""

    def __init__(self, config):
        super().__init__()
        if config.encoder_options:  # hed_vgg16's frozen_stages here froze nothing, without a word
            raise ValueError(f"the scratch encoder takes no encoder_options (hed_vgg16's are stages, frozen_stages, "
                             f"weights), got {sorted(config.encoder_options)}")
        ch = config.encoder_channels
        self.out_channels = tuple(ch)
        self.stem = nn.Sequential(conv_bn_act(3, ch[0], 2), conv_bn_act(ch[0], ch[0]))
        self.stages = nn.ModuleList(stage(ch[i], ch[i + 1], config.encoder_depths[i]) for i in range(4))
        # kept as the plain Sequential of earlier releases, so that their weights load unchanged
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(ch[4], ch[4], 1), nn.ReLU(inplace=True))
        self.register_buffer("pixel_mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixel_values):
        x = (pixel_values - self.pixel_mean) / self.pixel_std
        feats = [self.stem(x)]
        for s in self.stages:
            feats.append(s(feats[-1]))
        feats[-1] = feats[-1] + self.context(feats[-1])
        return feats

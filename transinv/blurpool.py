"""BlurPool (Zhang 2019, "Making convolutional networks shift-invariant again"): anti-aliased downsampling.

A max pool of stride 2 is a max (stride 1) followed by subsampling, and the subsampling aliases: an input shifted by
one pixel can give a very different output. BlurPool low-pass filters before it subsamples: max pool with stride 1,
then a fixed binomial blur [1, 2, 1] x [1, 2, 1] / 16 applied with stride 2 (reflect padding), channel by channel.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["BlurPool", "antialiased_max_pool"]


class BlurPool(nn.Module):
    """Blur each of ``channels`` channels with the 3x3 binomial filter, then keep every ``stride``-th pixel."""

    def __init__(self, channels: int, stride: int = 2):
        super().__init__()
        binomial = torch.tensor([1.0, 2.0, 1.0])
        kernel = binomial[:, None] * binomial[None, :] / 16
        self.channels, self.stride = channels, stride
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).clone())  # fixed, not trained

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, ceil(H / stride), ceil(W / stride))."""
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
        return nn.functional.conv2d(padded, self.kernel.to(x.dtype), stride=self.stride, groups=self.channels)


def antialiased_max_pool(channels: int) -> nn.Sequential:
    """What replaces VGG's ``MaxPool2d(2, 2)``: the max with stride 1, then BlurPool with stride 2 (same output size)."""
    return nn.Sequential(nn.MaxPool2d(kernel_size=2, stride=1), BlurPool(channels, stride=2))

"""Gaussian class clusters of the paper's shape (784 inputs, 10 classes by default).

Samples are m_c + N(0, sigma^2 I) with sigma^2 = 1/8 per input, about the mean square of MNIST-style
pixels in [0, 1], so that |x|^2 is about 100 for 784 inputs as for KMNIST images: the paper's learning
rate 0.01 is then stable for ND as it is on KMNIST. Class means have i.i.d. N(0, s^2) coordinates with
s chosen so that |m_a - m_b| is about ``separation`` noise units (separation * sigma); classes balanced.
"""

from __future__ import annotations

import math

import torch

from noether.data import Dataset

NOISE_STD = math.sqrt(1.0 / 8.0)


def clusters(samples: int, inputs: int, classes: int, separation: float, gen: torch.Generator) -> Dataset:
    """``samples`` points in R^inputs, labels 0..classes-1 in equal shares, shuffled."""
    scale = separation * NOISE_STD / math.sqrt(2.0 * inputs)
    means = torch.randn(classes, inputs, generator=gen, dtype=torch.float64) * scale
    labels = torch.arange(samples) % classes
    labels = labels[torch.randperm(samples, generator=gen)]
    x = means[labels] + NOISE_STD * torch.randn(samples, inputs, generator=gen, dtype=torch.float64)
    return Dataset(
        x, labels, None, classes, f"synthetic Gaussian clusters, {samples} samples, {inputs} inputs, {classes} classes"
    )

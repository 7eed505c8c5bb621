"""Gaussian class clusters of the paper's shape (784 inputs, 10 classes by default).

Class c has mean m_c with i.i.d. N(0, s^2) coordinates, s chosen so that |m_a - m_b| is about
``separation`` (in units of the unit-variance noise); samples are m_c + N(0, I), classes balanced.
"""

from __future__ import annotations

import math

import torch

from noether.data import Dataset


def clusters(samples: int, inputs: int, classes: int, separation: float, gen: torch.Generator) -> Dataset:
    """``samples`` points in R^inputs, labels 0..classes-1 in equal shares, shuffled."""
    scale = separation / math.sqrt(2.0 * inputs)
    means = torch.randn(classes, inputs, generator=gen, dtype=torch.float64) * scale
    labels = torch.arange(samples) % classes
    labels = labels[torch.randperm(samples, generator=gen)]
    x = means[labels] + torch.randn(samples, inputs, generator=gen, dtype=torch.float64)
    return Dataset(
        x, labels, None, classes, f"synthetic Gaussian clusters, {samples} samples, {inputs} inputs, {classes} classes"
    )

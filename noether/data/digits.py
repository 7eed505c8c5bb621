"""scikit-learn's 8x8 handwritten digits (1797 images, 64 inputs, 10 classes): installed with the package."""

from __future__ import annotations

import torch

from noether.data import Dataset, subset


def digits(samples: int, normalize: bool, gen: torch.Generator) -> Dataset:
    """A seeded subset of ``samples`` digits; pixels scaled from 0..16 to 0..1 when ``normalize``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.data, dtype=torch.float64)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    idx = subset(x.shape[0], samples, gen)
    x, y = x[idx], y[idx]
    if normalize:
        x = x / 16.0
    return Dataset(x, y, None, 10, f"scikit-learn digits, {len(idx)} samples, 64 inputs")

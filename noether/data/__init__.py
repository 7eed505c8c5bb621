"""Data sets for networks: inputs x_i (n x d_x) and targets, deterministic for the seed, never downloaded.

``load_data(data_spec, loss, seed, data_root)`` returns a ``Dataset`` whose targets suit the loss:
integer labels for ``nll``, one-hot rows (classification) or real values (rotation 'radius') for ``mse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor


@dataclass(frozen=True)
class Dataset:
    """Inputs (n x d_x, float64 on the CPU), labels (n, int64) or real targets (n x d_y), and a description."""

    inputs: Tensor
    labels: Tensor | None  # class labels, None for regression
    values: Tensor | None  # real targets (n x d_y), None for classification
    classes: int  # 0 for regression
    description: str

    @property
    def n(self) -> int:
        return int(self.inputs.shape[0])


def data_generator(seed: int) -> torch.Generator:
    """The generator every data set draws from: its own stream, apart from the initialisation's."""
    return torch.Generator().manual_seed(seed * 8 + 1)


def load_data(data, seed: int, data_root: Path | None = None) -> Dataset:
    """The Dataset a spec's ``data`` field describes."""
    gen = data_generator(seed)
    if data.kind == "digits":
        from noether.data.digits import digits

        return digits(data.samples, data.normalize, gen)
    if data.kind == "synthetic":
        from noether.data.synthetic import clusters

        return clusters(data.samples, data.inputs, data.classes, data.separation, gen)
    if data.kind == "rotation":
        from noether.data.rotation import rotation_data

        return rotation_data(data.dim, data.samples, data.target, data.augment, gen)
    if data.kind == "file":
        from noether.data.files import load_file_data

        return load_file_data(data.name, data.samples, data.normalize, gen, data_root)
    raise ValueError(f"unknown data kind '{data.kind}'")


def subset(n_total: int, n: int, gen: torch.Generator) -> Tensor:
    """Indices of a seeded random subset of n out of n_total samples (all of them, shuffled, if n >= n_total)."""
    return torch.randperm(n_total, generator=gen)[: min(n, n_total)]

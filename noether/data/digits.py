"""scikit-learn's 8x8 handwritten digits (1797 images, 64 inputs, 10 classes): installed with the package.

The CSV that ``sklearn.datasets.load_digits`` reads is loaded directly (importing scikit-learn costs
seconds); scikit-learn's own loader is the fallback.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from noether.data import Dataset, subset


@lru_cache(maxsize=1)
def _digits_array() -> np.ndarray:
    """(1797, 65): 64 pixel values 0..16 and the label."""
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
        if path.exists():
            with gzip.open(path, "rt") as fh:
                return np.loadtxt(fh, delimiter=",")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.hstack([bunch.data, bunch.target[:, None]])


def digits(samples: int, normalize: bool, gen: torch.Generator) -> Dataset:
    """A seeded subset of ``samples`` digits; pixels scaled from 0..16 to 0..1 when ``normalize``."""
    arr = _digits_array()
    x = torch.as_tensor(arr[:, :64], dtype=torch.float64)
    y = torch.as_tensor(arr[:, 64].astype(np.int64))
    idx = subset(x.shape[0], samples, gen)
    x, y = x[idx], y[idx]
    if normalize:
        x = x / 16.0
    return Dataset(x, y, None, 10, f"scikit-learn digits, {len(idx)} samples, 64 inputs")

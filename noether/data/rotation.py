"""Rotation-symmetric data in R^d (paper Sec. 6): isotropic Gaussian inputs, targets depending on |x| only.

The distribution is SO(d)-invariant; a finite sample is so only approximately. ``augment`` adds that many
randomly rotated copies of every sample (same target, since |Qx| = |x|), which brings the empirical
loss closer to the rotation-invariant one and the angular-momentum law closer to exact.
"""

from __future__ import annotations

import torch
from torch import Tensor

from noether.data import Dataset


def random_rotation(d: int, gen: torch.Generator) -> Tensor:
    """A Haar-random Q in SO(d) (QR of a Gaussian matrix, signs fixed, determinant +1)."""
    q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def rotation_data(dim: int, samples: int, target: str, augment: int, gen: torch.Generator) -> Dataset:
    """x ~ N(0, I_dim); 'radius': y = |x|^2 (regression); 'shells': y = 1 if |x| > median |x| else 0."""
    x = torch.randn(samples, dim, generator=gen, dtype=torch.float64)
    if augment:
        copies = [x] + [x @ random_rotation(dim, gen).T for _ in range(augment)]
        x = torch.cat(copies)
    r2 = (x * x).sum(dim=1)
    what = f"rotation-symmetric data in R^{dim}, {samples} samples" + (f" x {1 + augment} (rotated copies)" if augment else "")
    if target == "radius":
        return Dataset(x, None, r2[:, None], 0, what + ", target |x|^2")
    median = r2[:samples].median()
    labels = (r2 > median).to(torch.int64)
    return Dataset(x, labels, None, 2, what + ", target: inner or outer shell")

"""Analytic potentials L(w) on R^d with their exact gradients (no autograd: the toy runs are tiny and exact).

- sphere: L(w) = (|w|^2 - r^2)^2, grad = 4 (|w|^2 - r^2) w; SO(d)-invariant (paper Sec. 6.1, Figs. 3-6).
- quadratic: L(w) = 1/2 sum_i lambda_i w_i^2, grad = lambda * w; rotation-invariant only if all lambda_i agree.
- expression: L(w) typed by the user (``noether.models.expression``), its gradient by autograd on the parsed tree.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

LossAndGrad = Callable[[Tensor], tuple[Tensor, Tensor]]


def sphere(radius: float) -> LossAndGrad:
    """(|w|^2 - r^2)^2 and its gradient 4 (|w|^2 - r^2) w."""
    r2 = float(radius) ** 2

    def loss_and_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        s = torch.dot(w, w) - r2
        return s * s, (4.0 * s) * w

    return loss_and_grad


def quadratic(eigenvalues: Tensor) -> LossAndGrad:
    """1/2 sum_i lambda_i w_i^2 and its gradient lambda * w."""

    def loss_and_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        g = eigenvalues * w
        return 0.5 * torch.dot(w, g), g

    return loss_and_grad


def make_potential(potential, *, device, dtype) -> LossAndGrad:
    """The (loss, grad) function of a spec's potential."""
    if potential.kind == "sphere":
        return sphere(potential.radius)
    if potential.kind == "quadratic":
        return quadratic(torch.tensor(potential.eigenvalues, device=device, dtype=dtype))
    if potential.kind == "expression":
        from noether.models.expression import expression_potential

        return expression_potential(potential.expression)
    raise ValueError(f"unknown potential kind '{potential.kind}'")

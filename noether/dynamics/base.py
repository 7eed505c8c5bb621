"""What every dynamics shares: the observation of w_k a step reports, and small vector helpers.

A dynamics is a pair of pure functions (optax/jax-md style), held with the rest of what the lab knows
about its kind in a ``DynamicsKind`` record (``noether.dynamics.kind``):

- ``init(problem, cfg, params, velocity) -> State``: the state at k = 0 from w_0 and w'(0) (None: at rest);
- ``step(problem, cfg, state, batch) -> (State, Observation)``: one update; the observation describes
  the state it started from (w_k, L(w_k), grad L(w_k) where it was computed, w'(t_k), t_k, eta).

Reporting the state a step *starts* from lets a step return what it computed anyway (the gradient at
w_k) and, for two-step methods, a central-difference velocity (w_{k+1} - w_{k-1}) / (2 h), which is
second-order accurate at t_k.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from noether.expr import ExpressionError
from noether.structure import Params


class Observation(NamedTuple):
    """w_k as a step saw it."""

    params: Params  # w_k
    loss: Tensor  # L(w_k) (the minibatch loss for stochastic dynamics)
    grad: Params | None  # the gradient the step used at w_k (incl. an L2 weight-decay term), None if not at w_k
    velocity: Params | None  # estimate of w'(t_k); None for first-order dynamics
    t: float  # t_k
    lr: float | None  # eta of the step (dt^2 for leapfrog, its ND-equivalent eta)
    extra: dict[str, Any] | None = None


def gradient(problem, params: Params, batch: Tensor | None, weight_decay: float = 0.0) -> tuple[Tensor, Params]:
    """L(w) and grad L(w) + weight_decay * w (the L2 term of gd, sgd and momentum)."""
    loss, grad = problem.loss_and_grad(params, batch)
    if weight_decay:
        grad = torch._foreach_add(grad, params, alpha=weight_decay)
    return loss, grad


def zeros_like(params: Params) -> Params:
    return [torch.zeros_like(p) for p in params]


def central_velocity(new: Params, prev: Params, h: float) -> Params:
    """(w_{k+1} - w_{k-1}) / (2 h): w'(t_k) to second order."""
    v = torch._foreach_sub(new, prev)
    torch._foreach_mul_(v, 0.5 / h)
    return v


def coefficient(fn: Callable[[float], float], t: float) -> float:
    """k1(t) or k2(t); NaN where the expression is undefined (the run then ends as diverged)."""
    try:
        value = float(fn(t))
    except (ExpressionError, ZeroDivisionError, ValueError, OverflowError, TypeError):
        return math.nan
    return value

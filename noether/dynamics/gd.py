"""Gradient descent, the Euler discretisation of gradient flow w' = -grad L: w_{k+1} = w_k - eta grad L(w_k), t = k eta.

SGD is the same step on a seeded minibatch (the driver passes ``batch``). Weight decay adds the L2
term lambda w to the gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, gradient
from noether.dynamics.kind import GRADIENT_FLOW, DynamicsKind
from noether.structure import Params


class GDState(NamedTuple):
    params: Params  # w_k
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> GDState:
    return GDState(params, 0)


def step(problem, cfg, state: GDState, batch=None) -> tuple[GDState, Observation]:
    """w_{k+1} = w_k - eta (grad L(w_k) + lambda w_k)."""
    loss, grad = gradient(problem, state.params, batch, cfg.weight_decay)
    new = torch._foreach_add(state.params, grad, alpha=-cfg.lr)
    return GDState(new, state.k + 1), Observation(state.params, loss, grad, None, state.k * cfg.lr, cfg.lr)


GD = DynamicsKind(
    name="gd", config=spec.GD, init=init, step=step, flow=lambda cfg: GRADIENT_FLOW, order=1, time="k eta",
    label="Gradient descent (GD)", description="Euler discretisation of gradient flow, t = k eta",
)
SGD = DynamicsKind(
    name="sgd", config=spec.SGD, init=init, step=step, flow=lambda cfg: GRADIENT_FLOW, time="k eta",
    label="Stochastic gradient descent (SGD)", description="minibatch gradient descent, t = k eta",
)

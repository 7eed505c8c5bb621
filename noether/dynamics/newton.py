"""Newtonian dynamics w'' = -grad L, discretised as eq. 21: w_{k+2} = 2 w_{k+1} - w_k - eta grad L(w_{k+1}), t = k sqrt(eta).

This is momentum without damping (Stormer-Verlet in position form). The initial velocity v0 is honoured
to second order by w_{-1} = w_0 - h v0 - (h^2/2) grad L(w_0) with h = sqrt(eta): the first step is then
w_1 = w_0 + h v0 - (h^2/2) grad L(w_0) (Taylor), the trajectory equals velocity Verlet's (leapfrog) with
dt = h, and the central-difference velocity (w_{k+1} - w_{k-1}) / (2h) at k = 0 is exactly v0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, central_velocity
from noether.dynamics.kind import NEWTONIAN, DynamicsKind
from noether.structure import Params


class NewtonState(NamedTuple):
    params: Params  # w_k
    prev: Params  # w_{k-1}
    t: float  # t_k = k sqrt(eta)
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> NewtonState:
    h = math.sqrt(cfg.lr)
    _, grad = problem.loss_and_grad(params)
    prev = torch._foreach_add(params, grad, alpha=-0.5 * cfg.lr)
    if velocity is not None:
        torch._foreach_add_(prev, velocity, alpha=-h)
    return NewtonState(params, prev, 0.0, 0)


def step(problem, cfg, state: NewtonState, batch=None) -> tuple[NewtonState, Observation]:
    """w_{k+1} = 2 w_k - w_{k-1} - eta grad L(w_k)."""
    h = math.sqrt(cfg.lr)
    loss, grad = problem.loss_and_grad(state.params, batch)
    new = torch._foreach_mul(state.params, 2.0)
    torch._foreach_sub_(new, state.prev)
    torch._foreach_add_(new, grad, alpha=-cfg.lr)
    v = central_velocity(new, state.prev, h)
    k = state.k + 1
    return NewtonState(new, state.params, k * h, k), Observation(state.params, loss, grad, v, state.t, cfg.lr)


KIND = DynamicsKind(
    name="nd", config=spec.ND, init=init, step=step, flow=lambda cfg: NEWTONIAN, order=2, time="k sqrt(eta)",
    label="Newtonian dynamics (ND), eq. 21", description="Newtonian dynamics, eq. 21, t = k sqrt(eta)",
)

"""Velocity Verlet (leapfrog) for Newtonian dynamics w'' = -grad L: symplectic, second order, one gradient per step.

v_{k+1/2} = v_k - (dt/2) grad L(w_k), w_{k+1} = w_k + dt v_{k+1/2}, v_{k+1} = v_{k+1/2} - (dt/2) grad L(w_{k+1}).
Its positions are those of eq. 21 with eta = dt^2; its velocity v_k is second-order accurate.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from noether import spec
from noether.dynamics.base import Observation, zeros_like
from noether.dynamics.kind import NEWTONIAN, DynamicsKind
from noether.structure import Params


class LeapfrogState(NamedTuple):
    params: Params  # w_k
    velocity: Params  # v_k
    loss: Tensor  # L(w_k)
    grad: Params  # grad L(w_k)
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> LeapfrogState:
    loss, grad = problem.loss_and_grad(params)
    v = velocity if velocity is not None else zeros_like(params)
    return LeapfrogState(params, v, loss, grad, 0)


def step(problem, cfg, state: LeapfrogState, batch=None) -> tuple[LeapfrogState, Observation]:
    """Kick, drift, kick."""
    dt = cfg.dt
    half = torch._foreach_add(state.velocity, state.grad, alpha=-0.5 * dt)
    new = torch._foreach_add(state.params, half, alpha=dt)
    loss, grad = problem.loss_and_grad(new, batch)
    v = torch._foreach_add(half, grad, alpha=-0.5 * dt)
    obs = Observation(state.params, state.loss, state.grad, state.velocity, state.k * dt, dt * dt)
    return LeapfrogState(new, v, loss, grad, state.k + 1), obs


KIND = DynamicsKind(
    name="leapfrog", config=spec.Leapfrog, init=init, step=step, flow=lambda cfg: NEWTONIAN, order=2, time="k dt",
    label="Leapfrog (velocity Verlet)", description="velocity Verlet for Newtonian dynamics",
)

"""The general dynamics k2(t) w'' + k1(t) w' + grad L(w) = 0 (eq. 22), semi-implicit Euler with step dt.

With half-step velocities u: u_{k+1/2} = u_{k-1/2} + dt a_k, a_k = -(k1(t_k) u_{k-1/2} + grad L(w_k)) / k2(t_k),
w_{k+1} = w_k + dt u_{k+1/2}, t_k = t0 + k dt. For k1 = 0, k2 = 1 this is eq. 21 (ND) with eta = dt^2.
The initial velocity v0 is honoured to second order by u_{-1/2} = v0 - (dt/2) a(t0, w0, v0); the reported
velocity is (u_{k-1/2} + u_{k+1/2}) / 2, second-order accurate at t_k.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from noether.dynamics.base import Observation, coefficient, zeros_like
from noether.expr import parse_expression
from noether.structure import Params


class GeneralState(NamedTuple):
    params: Params  # w_k
    half_velocity: Params  # u_{k-1/2}
    t: float
    k: int


def _acceleration(u: Params, grad: Params, t: float, k1, k2) -> Params:
    c2 = coefficient(k2, t)
    a = torch._foreach_mul(u, -coefficient(k1, t) / c2)
    torch._foreach_add_(a, grad, alpha=-1.0 / c2)
    return a


def init(problem, cfg, params: Params, velocity: Params | None) -> GeneralState:
    k1, k2 = parse_expression(cfg.k1), parse_expression(cfg.k2)
    v0 = velocity if velocity is not None else zeros_like(params)
    _, grad = problem.loss_and_grad(params)
    u = torch._foreach_add(v0, _acceleration(v0, grad, cfg.t0, k1, k2), alpha=-cfg.dt / 2)
    return GeneralState(params, u, cfg.t0, 0)


def step(problem, cfg, state: GeneralState, batch=None) -> tuple[GeneralState, Observation]:
    """Kick the velocity with the force at w_k, then drift the position with the new velocity."""
    k1, k2 = parse_expression(cfg.k1), parse_expression(cfg.k2)
    loss, grad = problem.loss_and_grad(state.params, batch)
    u = torch._foreach_add(state.half_velocity, _acceleration(state.half_velocity, grad, state.t, k1, k2), alpha=cfg.dt)
    new = torch._foreach_add(state.params, u, alpha=cfg.dt)
    v = torch._foreach_add(state.half_velocity, u)
    torch._foreach_mul_(v, 0.5)
    obs = Observation(state.params, loss, grad, v, state.t, None)
    return GeneralState(new, u, cfg.t0 + (state.k + 1) * cfg.dt, state.k + 1), obs

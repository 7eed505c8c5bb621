"""The general dynamics k2(t) w'' + k1(t) w' + grad L(w) = 0 (eq. 22), a semi-implicit (central) scheme with step dt.

    k2(t_k) (w_{k+1} - 2 w_k + w_{k-1}) / dt^2 + k1(t_k) (w_{k+1} - w_{k-1}) / (2 dt) + grad L(w_k) = 0,  t_k = t0 + k dt.

In half-step velocities u_{k+1/2} = (w_{k+1} - w_k) / dt: the force is explicit, the friction implicit
(averaged over u_{k-1/2} and u_{k+1/2}), so each step costs one gradient and solves a scalar equation:
u_{k+1/2} = ((1 - c) u_{k-1/2} - (dt / k2) grad L(w_k)) / (1 + c) with c = dt k1 / (2 k2). Second order; for
k1 = 0, k2 = 1 it is eq. 21 (ND, Stormer-Verlet) with eta = dt^2. The reported velocity
v_k = (u_{k-1/2} + u_{k+1/2}) / 2 is the central difference; the initial velocity v0 is honoured exactly
by u_{-1/2} = v0 + (dt / 2) (k1 v0 + grad L(w_0)) / k2.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, coefficient, zeros_like
from noether.dynamics.kind import DynamicsKind, general_flow
from noether.expr import parse_expression
from noether.structure import Params


class GeneralState(NamedTuple):
    params: Params  # w_k
    half_velocity: Params  # u_{k-1/2}
    t: float
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> GeneralState:
    k1, k2 = parse_expression(cfg.k1), parse_expression(cfg.k2)
    v0 = velocity if velocity is not None else zeros_like(params)
    _, grad = problem.loss_and_grad(params)
    c1, c2 = coefficient(k1, cfg.t0), coefficient(k2, cfg.t0)
    u = torch._foreach_mul(v0, 1.0 + cfg.dt * c1 / (2.0 * c2))
    torch._foreach_add_(u, grad, alpha=cfg.dt / (2.0 * c2))
    return GeneralState(params, u, cfg.t0, 0)


def step(problem, cfg, state: GeneralState, batch=None) -> tuple[GeneralState, Observation]:
    """u_{k+1/2} = ((1 - c) u_{k-1/2} - (dt/k2) grad L(w_k)) / (1 + c), w_{k+1} = w_k + dt u_{k+1/2}."""
    k1, k2 = parse_expression(cfg.k1), parse_expression(cfg.k2)
    dt, t = cfg.dt, state.t
    loss, grad = problem.loss_and_grad(state.params, batch)
    c1, c2 = coefficient(k1, t), coefficient(k2, t)
    c = dt * c1 / (2.0 * c2)
    u = torch._foreach_mul(state.half_velocity, (1.0 - c) / (1.0 + c))
    torch._foreach_add_(u, grad, alpha=-dt / (c2 * (1.0 + c)))
    new = torch._foreach_add(state.params, u, alpha=dt)
    v = torch._foreach_add(state.half_velocity, u)
    torch._foreach_mul_(v, 0.5)
    obs = Observation(state.params, loss, grad, v, t, None)
    return GeneralState(new, u, cfg.t0 + (state.k + 1) * dt, state.k + 1), obs


KIND = DynamicsKind(
    name="general", config=spec.General, init=init, step=step, flow=lambda cfg: general_flow(cfg.k1, cfg.k2),
    order=2, time="t0 + k dt", label="General dynamics, eq. 22",
    description="k2 w'' + k1 w' + grad L = 0, semi-implicit central scheme",
)

"""Classical Runge-Kutta (order 4), the reference integrator for the continuous flows.

Flows, as first-order systems: gf w' = -grad L; nd (w, v)' = (v, -grad L); nagf (w, v)' = (v, -(3/t) v - grad L);
general (w, v)' = (v, -(k1(t) v + grad L) / k2(t)). Four gradients per step; t = t0 + k dt.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, coefficient, zeros_like
from noether.dynamics.kind import GRADIENT_FLOW, NESTEROV, NEWTONIAN, DynamicsKind, Flow, general_flow
from noether.structure import Params


class RK4State(NamedTuple):
    params: Params  # w_k
    velocity: Params | None  # v_k (second-order flows)
    t: float
    k: int


FLOWS = {"gf": GRADIENT_FLOW, "nd": NEWTONIAN, "nagf": NESTEROV}


def flow(cfg) -> Flow:
    """The flow it integrates: the spec's ``flow``, with the spec's k1(t), k2(t) for 'general'."""
    return general_flow(cfg.k1, cfg.k2) if cfg.flow == "general" else FLOWS[cfg.flow]


def init(problem, cfg, params: Params, velocity: Params | None) -> RK4State:
    if cfg.flow == "gf":
        return RK4State(params, None, cfg.t0, 0)
    return RK4State(params, velocity if velocity is not None else zeros_like(params), cfg.t0, 0)


def _acceleration(v: Params, grad: Params, t: float, k1, k2) -> Params:
    """-(k1(t) v + grad L) / k2(t)."""
    c2 = coefficient(k2, t)
    a = torch._foreach_mul(v, -coefficient(k1, t) / c2)
    torch._foreach_add_(a, grad, alpha=-1.0 / c2)
    return a


def step(problem, cfg, state: RK4State, batch=None) -> tuple[RK4State, Observation]:
    """y_{k+1} = y_k + dt/6 (K1 + 2 K2 + 2 K3 + K4)."""
    dt, t, w = cfg.dt, state.t, state.params
    loss, g1 = problem.loss_and_grad(w, batch)
    if cfg.flow == "gf":
        K1 = torch._foreach_neg(g1)
        K2 = torch._foreach_neg(problem.loss_and_grad(torch._foreach_add(w, K1, alpha=dt / 2), batch)[1])
        K3 = torch._foreach_neg(problem.loss_and_grad(torch._foreach_add(w, K2, alpha=dt / 2), batch)[1])
        K4 = torch._foreach_neg(problem.loss_and_grad(torch._foreach_add(w, K3, alpha=dt), batch)[1])
        new = _combine(w, K1, K2, K3, K4, dt)
        obs = Observation(w, loss, g1, K1, t, None)
        return RK4State(new, None, t + dt, state.k + 1), obs
    f = flow(cfg)
    k1, k2 = f.k1, f.k2
    v = state.velocity
    # stage i: position derivative Kw = v_i, velocity derivative Kv = a(t_i, w_i, v_i)
    Kw1, Kv1 = v, _acceleration(v, g1, t, k1, k2)
    w2, v2 = torch._foreach_add(w, Kw1, alpha=dt / 2), torch._foreach_add(v, Kv1, alpha=dt / 2)
    Kw2, Kv2 = v2, _acceleration(v2, problem.loss_and_grad(w2, batch)[1], t + dt / 2, k1, k2)
    w3, v3 = torch._foreach_add(w, Kw2, alpha=dt / 2), torch._foreach_add(v, Kv2, alpha=dt / 2)
    Kw3, Kv3 = v3, _acceleration(v3, problem.loss_and_grad(w3, batch)[1], t + dt / 2, k1, k2)
    w4, v4 = torch._foreach_add(w, Kw3, alpha=dt), torch._foreach_add(v, Kv3, alpha=dt)
    Kw4, Kv4 = v4, _acceleration(v4, problem.loss_and_grad(w4, batch)[1], t + dt, k1, k2)
    new_w = _combine(w, Kw1, Kw2, Kw3, Kw4, dt)
    new_v = _combine(v, Kv1, Kv2, Kv3, Kv4, dt)
    obs = Observation(w, loss, g1, v, t, None)
    return RK4State(new_w, new_v, t + dt, state.k + 1), obs


def _combine(y: Params, K1: Params, K2: Params, K3: Params, K4: Params, dt: float) -> Params:
    out = torch._foreach_add(y, K1, alpha=dt / 6)
    torch._foreach_add_(out, K2, alpha=dt / 3)
    torch._foreach_add_(out, K3, alpha=dt / 3)
    torch._foreach_add_(out, K4, alpha=dt / 6)
    return out


KIND = DynamicsKind(
    name="rk4", config=spec.RK4, init=init, step=step, flow=flow, order=4, time="t0 + k dt",
    label="Runge-Kutta 4 (reference)", description="classical Runge-Kutta on the {flow} flow",
)

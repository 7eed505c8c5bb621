"""Nesterov's accelerated gradient, eq. 20: w_k = y_{k-1} - eta grad L(y_{k-1}), y_k = w_k + (k-1)/(k+2) (w_k - w_{k-1}).

Its flow is NAGF, w'' + (3/t) w' + grad L = 0, with t = k sqrt(eta) (Su et al. 2014). Footnote 2: NAGF
cannot start with a velocity at t = 0, and a discrete run that starts at k = 1 throws the velocity away
((k-1)/(k+2) = 0). With t0 > 0 the index starts at k0 = round(t0 / sqrt(eta)) and w_{k0-1} =
w_{k0} - sqrt(eta) v0, so the initial velocity is honoured. The gradient is taken at y_k, not w_k, so
the observation's ``grad`` is None and L(w_k) costs one extra forward pass; ``extra['y']`` is y_k.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, central_velocity
from noether.dynamics.kind import NESTEROV, DynamicsKind
from noether.structure import Params


class NesterovState(NamedTuple):
    params: Params  # w_k
    prev: Params  # w_{k-1}
    k: int  # the index in eq. 20 (starts at k0)


def start_index(cfg) -> int:
    """k0 = round(t0 / sqrt(eta)) (0 when t0 = 0)."""
    return int(round(cfg.t0 / math.sqrt(cfg.lr)))


def init(problem, cfg, params: Params, velocity: Params | None) -> NesterovState:
    if velocity is None:
        return NesterovState(params, params, start_index(cfg))
    return NesterovState(params, torch._foreach_add(params, velocity, alpha=-math.sqrt(cfg.lr)), start_index(cfg))


def momentum_coefficient(k: int) -> float:
    """(k-1)/(k+2), and 0 for k = 0 (y_0 = w_0)."""
    return max(0.0, (k - 1) / (k + 2))


def step(problem, cfg, state: NesterovState, batch=None) -> tuple[NesterovState, Observation]:
    """y_k = w_k + (k-1)/(k+2) (w_k - w_{k-1}), w_{k+1} = y_k - eta grad L(y_k)."""
    h = math.sqrt(cfg.lr)
    c = momentum_coefficient(state.k)
    if c:
        y = torch._foreach_sub(state.params, state.prev)
        torch._foreach_mul_(y, c)
        torch._foreach_add_(y, state.params)
    else:
        y = state.params
    _, grad_y = problem.loss_and_grad(y, batch)
    new = torch._foreach_add(y, grad_y, alpha=-cfg.lr)
    with torch.no_grad():
        loss = problem.loss(state.params, batch)
    v = central_velocity(new, state.prev, h)
    # what the energy law's discrete balance reads (noether.laws.energy): w_{k-1}, w_{k+1}, beta_k, grad L(y_k)
    extra = {"y": y, "grad_y": grad_y, "prev": state.prev, "next": new, "beta": c, "h": h}
    obs = Observation(state.params, loss, None, v, state.k * h, cfg.lr, extra)
    return NesterovState(new, state.params, state.k + 1), obs


KIND = DynamicsKind(
    name="nag", config=spec.NAG, init=init, step=step, flow=lambda cfg: NESTEROV, order=1, time="k sqrt(eta)",
    label="Nesterov (NAG), eq. 20", description="Nesterov, eq. 20, discretises NAGF, t = k sqrt(eta)",
)

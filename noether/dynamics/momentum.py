"""Heavy-ball momentum: w_{k+1} = w_k - eta grad L(w_k) + beta (w_k - w_{k-1}), t = k sqrt(eta).

It discretises k2 w'' + k1 w' + grad L = 0 with k2 = 1, k1 = (1 - beta) / sqrt(eta) (beta = 1 is ND,
eq. 21). An initial velocity v0 sets w_{-1} = w_0 - sqrt(eta) v0; velocity is the central difference.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, central_velocity, gradient
from noether.dynamics.kind import DynamicsKind, constant_friction
from noether.structure import Params


class MomentumState(NamedTuple):
    params: Params  # w_k
    prev: Params  # w_{k-1}
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> MomentumState:
    if velocity is None:
        return MomentumState(params, params, 0)
    return MomentumState(params, torch._foreach_add(params, velocity, alpha=-math.sqrt(cfg.lr)), 0)


def step(problem, cfg, state: MomentumState, batch=None) -> tuple[MomentumState, Observation]:
    """w_{k+1} = w_k - eta (grad L(w_k) + lambda w_k) + beta (w_k - w_{k-1})."""
    h = math.sqrt(cfg.lr)
    loss, grad = gradient(problem, state.params, batch, cfg.weight_decay)
    delta = torch._foreach_sub(state.params, state.prev)
    new = torch._foreach_add(state.params, grad, alpha=-cfg.lr)
    torch._foreach_add_(new, delta, alpha=cfg.beta)
    v = central_velocity(new, state.prev, h)
    return MomentumState(new, state.params, state.k + 1), Observation(state.params, loss, grad, v, state.k * h, cfg.lr)


KIND = DynamicsKind(
    name="momentum", config=spec.Momentum, init=init, step=step, time="k sqrt(eta)",
    flow=lambda cfg: constant_friction((1.0 - cfg.beta) / math.sqrt(cfg.lr)),
    label="Heavy-ball momentum",
    description="heavy ball: k2 = 1, k1 = (1 - beta)/sqrt(eta), t = k sqrt(eta)",
)

"""Adam (Kingma & Ba), with decoupled weight decay (AdamW) when weight_decay > 0; t = k eta.

m_k = b1 m + (1 - b1) g, v_k = b2 v + (1 - b2) g^2, w_{k+1} = w_k - eta (m_k / (1 - b1^k)) / (sqrt(v_k / (1 - b2^k)) + eps)
- eta lambda w_k. No law of the paper predicts it: its preconditioner is not equivariant under the symmetries.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from noether import spec
from noether.dynamics.base import Observation, gradient, zeros_like
from noether.dynamics.kind import NO_FLOW, DynamicsKind
from noether.structure import Params


class AdamState(NamedTuple):
    params: Params
    mu: Params  # first moment
    nu: Params  # second moment
    k: int


def init(problem, cfg, params: Params, velocity: Params | None) -> AdamState:
    return AdamState(params, zeros_like(params), zeros_like(params), 0)


def step(problem, cfg, state: AdamState, batch=None) -> tuple[AdamState, Observation]:
    """One Adam update from the gradient at w_k."""
    loss, grad = gradient(problem, state.params, batch)
    k = state.k + 1
    mu = torch._foreach_mul(state.mu, cfg.beta1)
    torch._foreach_add_(mu, grad, alpha=1.0 - cfg.beta1)
    nu = torch._foreach_mul(state.nu, cfg.beta2)
    torch._foreach_addcmul_(nu, grad, grad, value=1.0 - cfg.beta2)
    denom = torch._foreach_sqrt(nu)
    torch._foreach_mul_(denom, 1.0 / math.sqrt(1.0 - cfg.beta2**k))
    torch._foreach_add_(denom, cfg.eps)
    new = torch._foreach_addcdiv(state.params, mu, denom, value=-cfg.lr / (1.0 - cfg.beta1**k))
    if cfg.weight_decay:
        torch._foreach_add_(new, state.params, alpha=-cfg.lr * cfg.weight_decay)
    return AdamState(new, mu, nu, k), Observation(state.params, loss, grad, None, state.k * cfg.lr, cfg.lr)


KIND = DynamicsKind(
    name="adam", config=spec.Adam, init=init, step=step, flow=lambda cfg: NO_FLOW, time="k eta",
    label="Adam / AdamW", description="no paper flow",
)

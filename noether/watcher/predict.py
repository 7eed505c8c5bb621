"""What each optimiser predicts for a law: exact discrete identities and the modified flow (docs/laws.md).

Notation (Kunin et al., "Neural Mechanics", ICLR 2021, Sec. 4-5): a law is ``Q = <theta, A theta>`` with A
= +1 on the first layer's tensors and -1 on the second's (rescale), +1 on one layer (scale), or the
matrix ``M`` (linear, GL(d)); translation is the vector ``s = <theta, 1>`` (the sum over classes). The
symmetry gives ``<grad L, A theta> = 0`` (``<grad L, 1> = 0``) at every theta, with any minibatch.
PyTorch's SGD with learning rate eta, momentum beta (dampening 0) and coupled weight decay lambda is

    v_{k+1} = beta v_k + g_k + lambda theta_k,   theta_{k+1} = theta_k - eta v_{k+1},   v_0 = 0,

and the time is ``t = sum_k eta_k``. Three predictions per law, one column each:

- ``:pred`` (gradient flow, ``theta' = -(grad L + lambda theta) / (1 - beta)``): ``Q`` constant without
  weight decay, ``Q(0) exp(-2 c lambda t)`` with it (``s(0) exp(-c lambda t)``), ``c = 1 / (1 - beta)``.
- ``:pred_discrete`` (exact, to float precision, every step): with ``K = <v, A v>`` the step's kinetic
  term and ``P_k = <A theta_k, v_{k+1}>``,
  ``P_k = beta (P_{k-1} - eta K_k) + lambda Q_k`` and ``Q_{k+1} = Q_k - 2 eta P_k + eta^2 K_{k+1}``
  (for beta = 0: ``Q_{k+1} = (1 - eta lambda)^2 Q_k + eta^2 <g, A g>``); translation:
  ``u_{k+1} = beta u_k + lambda s_k``, ``s_{k+1} = s_k - eta u_{k+1}``.
- ``:pred_modified`` (the modified flow, error O(eta^2) over a fixed time): momentum's second-order
  modified equation ``m theta'' + theta' = -c (grad L + lambda theta)``, ``m = eta (1 + beta) / (2 (1 - beta))``,
  projected on the symmetry and reduced to its slow manifold, gives
  ``Q' = -2 (c lambda + 2 m c^2 lambda^2) Q + 2 m K`` (``K = <theta', A theta'>``, measured) and
  ``s' = -c lambda (1 + m c lambda) s``, started after the momentum's lag ``eta beta / (1 - beta)``;
  for beta = 0 this is ``Q(t) = e^{-2 lambda (1 + eta lambda / 2) t} Q(0) + eta int e^{-2 lambda (1 + eta
  lambda / 2)(t - s)} <g, A g> ds`` (Kunin et al.'s eta-weighted gradient term).

Adam, AdamW, RMSprop and the rest: no prediction (their per-coordinate preconditioner is not
equivariant under the symmetry: ``<update, A theta> != 0``); the quantities are still measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Hyper:
    """One parameter group's hyperparameters, as the predictions need them."""

    lr: float
    weight_decay: float
    momentum: float


@dataclass(frozen=True)
class Support:
    """Whether an optimiser has predictions (``kind`` 'sgd'), and if not, why."""

    kind: str  # "sgd" or "none"
    reason: str = ""


NO_PREDICTION = {
    "Adam": "Adam's per-coordinate preconditioner is not equivariant under the symmetry: no law holds",
    "AdamW": "AdamW's per-coordinate preconditioner is not equivariant under the symmetry (its decoupled "
             "weight decay alone would give exp(-lambda eta t)): no law holds",
}


def support(optimizer: torch.optim.Optimizer) -> Support:
    """'sgd' for ``torch.optim.SGD`` (any momentum, coupled weight decay); 'none' with the reason otherwise."""
    name = type(optimizer).__name__
    if not isinstance(optimizer, torch.optim.SGD):
        return Support("none", NO_PREDICTION.get(name, f"{name} is not covered: no prediction (only SGD, with or "
                                                       "without momentum and weight decay, has laws)"))
    for g in optimizer.param_groups:
        if g.get("nesterov"):
            return Support("none", "SGD with Nesterov momentum is not covered: no prediction")
        if g.get("dampening", 0):
            return Support("none", "SGD with dampening is not covered: no prediction")
        if g.get("maximize"):
            return Support("none", "SGD with maximize=True is not covered: no prediction")
    return Support("sgd")


def hyper(group: dict) -> Hyper:
    lr = group["lr"]
    lr = float(lr.item()) if isinstance(lr, torch.Tensor) else float(lr)
    return Hyper(lr, float(group.get("weight_decay", 0.0)), float(group.get("momentum", 0.0)))


def coefficients(h: Hyper) -> tuple[float, float]:
    """(c, m): c = 1 / (1 - beta), m = eta (1 + beta) / (2 (1 - beta)), of the modified flow."""
    c = 1.0 / (1.0 - h.momentum)
    return c, h.lr * (1.0 + h.momentum) / (2.0 * (1.0 - h.momentum))


class QuadraticPrediction:
    """The three predictions of a quadratic law (rescale, scale, linear: Q a scalar or a d x d matrix).

    Call ``step(h, K_next, K_is_gradient)`` after every optimiser step with the step's kinetic term
    ``K_{k+1} = <v_{k+1}, A v_{k+1}>`` (or, for beta = 0, ``<g, A g>`` with ``K_is_gradient``); every
    tensor stays on the model's device and nothing synchronises.
    """

    def __init__(self, q0: torch.Tensor, p0: torch.Tensor | None = None, at_rest: bool = True):
        self.q0 = q0
        self.exact = q0.clone()
        self.modified = q0.clone()
        self.p = torch.zeros_like(q0) if p0 is None else p0  # <A theta_{k-1}, v_k> (0 at rest)
        self.k_prev = torch.zeros_like(q0)
        self.at_rest = at_rest
        self.t = 0.0
        self.decay_gf = 0.0  # int c lambda dt, for the gradient-flow prediction

    def step(self, h: Hyper, k_next: torch.Tensor, k_is_gradient: bool) -> None:
        eta, lam, beta = h.lr, h.weight_decay, h.momentum
        c, m = coefficients(h)
        if k_is_gradient:  # beta = 0: K = <g, A g> + lambda^2 Q (the cross term vanishes by the symmetry)
            k_exact = k_next + lam * lam * self.exact if lam else k_next
            k_mod = k_next + lam * lam * self.modified if lam else k_next
        else:
            k_exact = k_mod = k_next
        # exact: P_k = beta (P_{k-1} - eta K_k) + lambda Q_k;  Q_{k+1} = Q_k - 2 eta P_k + eta^2 K_{k+1}
        p = lam * self.exact
        if beta:
            p = p + beta * (self.p - eta * self.k_prev)
        self.exact = self.exact - 2 * eta * p + eta * eta * k_exact
        self.p, self.k_prev = p, k_exact
        # modified flow: Q' = -2 (c lambda + 2 m c^2 lambda^2) Q + 2 m K, the c lambda part after the lag
        rate = c * lam + 2 * m * c * c * lam * lam
        lag = eta * beta / (1 - beta) if self.at_rest else 0.0
        in_lag = max(0.0, min(self.t + eta, lag) - self.t)
        factor = math.exp(-2 * rate * eta + 2 * c * lam * in_lag)
        self.modified = factor * self.modified + (2 * m * eta) * k_mod
        self.t += eta
        self.decay_gf += c * lam * eta

    def gradient_flow(self) -> torch.Tensor:
        return self.q0 * math.exp(-2 * self.decay_gf) if self.decay_gf else self.q0


class TranslationPrediction:
    """The three predictions of the translation law: the exact vector s_k, and factors of s(0) for the flows."""

    def __init__(self, s0: torch.Tensor, u0: torch.Tensor | None = None):
        self.s0 = s0
        self.exact = s0.clone()
        self.u = torch.zeros_like(s0) if u0 is None else u0  # <1, v_k>, the momentum summed over classes
        self.at_rest = u0 is None
        self.modified = 1.0
        self.gf = 1.0
        self.t = 0.0

    def step(self, h: Hyper) -> None:
        eta, lam, beta = h.lr, h.weight_decay, h.momentum
        c, m = coefficients(h)
        if lam or beta:
            self.u = beta * self.u + lam * self.exact if beta else lam * self.exact
            self.exact = self.exact - eta * self.u
        lag = eta * beta / (1 - beta) if self.at_rest else 0.0
        in_lag = max(0.0, min(self.t + eta, lag) - self.t)
        self.modified *= math.exp(-c * lam * (1 + m * c * lam) * eta + c * lam * in_lag)
        self.gf *= math.exp(-c * lam * eta)
        self.t += eta

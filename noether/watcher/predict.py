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


def quadratic_transition(h: Hyper, k_is_gradient: bool, t: float, lag: float) -> tuple[list[list[float]], list[float]]:
    """One step of the quadratic predictions as a linear map: state (Q_exact, P, K_prev, Q_modified), input K.

    Exact (``P_k = beta (P_{k-1} - eta K_k) + lambda Q_k``, ``Q_{k+1} = Q_k - 2 eta P_k + eta^2 K_{k+1}``), and the
    modified flow ``Q' = -2 (c lambda + 2 m c^2 lambda^2) Q + 2 m K`` over one step (the ``c lambda`` decay only
    after the momentum's lag). For beta = 0 the input is ``<g, A g>`` and ``K = <g, A g> + lambda^2 Q``.
    """
    eta, lam, beta = h.lr, h.weight_decay, h.momentum
    c, m = coefficients(h)
    rate = c * lam + 2 * m * c * c * lam * lam
    in_lag = max(0.0, min(t + eta, lag) - t)
    f = math.exp(-2 * rate * eta + 2 * c * lam * in_lag)
    if k_is_gradient:  # beta = 0
        a = [[(1 - eta * lam) ** 2, 0.0, 0.0, 0.0], [lam, 0.0, 0.0, 0.0], [lam * lam, 0.0, 0.0, 0.0],
             [0.0, 0.0, 0.0, f + 2 * m * eta * lam * lam]]
        return a, [eta * eta, 0.0, 1.0, 2 * m * eta]
    a = [[1 - 2 * eta * lam, -2 * eta * beta, 2 * eta * eta * beta, 0.0], [lam, beta, -beta * eta, 0.0],
         [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, f]]
    return a, [eta * eta, 0.0, 1.0, 2 * m * eta]


class QuadraticPrediction:
    """The exact and modified-flow predictions of every quadratic law at once (rescale, scale, linear).

    Each law is a column (a linear law's d x d matrix is d^2 columns). ``push(h, K)`` stores a step's kinetic
    term ``K_{k+1} = <v_{k+1}, A v_{k+1}>`` (or ``<g, A g>`` for beta = 0) on the device; ``catch_up()``
    applies the buffered steps at once: the per-step linear maps (``quadratic_transition``) are multiplied
    in Python floats, then one small matrix product on the device. So a step costs one tensor copy.
    """

    def __init__(self, q0: torch.Tensor, p0: torch.Tensor | None = None, at_rest: bool = True,
                 input_map: torch.Tensor | None = None):
        self.q0 = q0  # (n,)
        self.input_map = input_map  # (n, m): K = input_map @ (pushed norms)^2, when inputs are per-tensor norms
        zeros = torch.zeros_like(q0)
        self.state = torch.stack([q0, zeros if p0 is None else p0, zeros, q0])  # (4, n)
        self.at_rest = at_rest
        self.t = 0.0
        self.decay_gf = 0.0  # int c lambda dt, for the gradient-flow prediction
        self.pending: list[tuple[Hyper, bool, list[torch.Tensor], float]] = []
        self._cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def push(self, h: Hyper, k_next: list[torch.Tensor], k_is_gradient: bool) -> None:
        self.pending.append((h, k_is_gradient, k_next, self.t))
        self.t += h.lr
        self.decay_gf += h.lr * h.weight_decay / (1.0 - h.momentum)

    def step(self, h: Hyper, k_next: torch.Tensor, k_is_gradient: bool) -> None:
        self.push(h, [k_next.reshape(-1)], k_is_gradient)
        self.catch_up()

    def catch_up(self) -> None:
        if not self.pending:
            return
        n = len(self.pending)
        dev, dt = self.state.device, self.state.dtype
        h0, g0 = self.pending[0][0], self.pending[0][1]
        lag = h0.lr * h0.momentum / (1 - h0.momentum) if self.at_rest else 0.0
        steady = self.pending[0][3] >= lag and all(h == h0 and g == g0 for h, g, _, _ in self.pending)
        key = (h0, g0, n)
        if steady and key in self._cache:  # a constant learning rate: the same maps every record
            total_t, w_t = self._cache[key]
        else:
            total = [[float(i == j) for j in range(4)] for i in range(4)]
            weights = []  # weights[j]: the 4-vector that input j reaches the state with
            for h, is_grad, _, t in self.pending:
                lag = h.lr * h.momentum / (1 - h.momentum) if self.at_rest else 0.0
                a, b = quadratic_transition(h, is_grad, t, lag)
                weights = [_matvec(a, w) for w in weights] + [b]
                total = _matmul(a, total)
            total_t = torch.tensor(total, dtype=dt, device=dev)
            w_t = torch.tensor(weights, dtype=dt, device=dev).reshape(n, 4).T.contiguous()
            if steady:
                self._cache[key] = (total_t, w_t)
        first = self.pending[0][2]
        if all(k is first for _, _, k, _ in self.pending):  # one input for every step (the cheap mode's sample)
            w_t = w_t.sum(1, keepdim=True)
            ks = torch.stack(first).reshape(1, -1).to(dt)
        else:  # (n, laws), or (n, tensors) of norms: each step pushed a list of tensors (per-tensor norms, or one row)
            ks = torch.stack([x for _, _, k, _ in self.pending for x in k]).reshape(n, -1).to(dt)
        if self.input_map is not None:
            ks = ks.square() @ self.input_map.T
        self.state = torch.addmm(w_t @ ks, total_t, self.state)
        self.pending = []

    @property
    def exact(self) -> torch.Tensor:
        self.catch_up()
        return self.state[0]

    @property
    def modified(self) -> torch.Tensor:
        self.catch_up()
        return self.state[3]

    def gradient_flow(self) -> torch.Tensor:
        return self.q0 * math.exp(-2 * self.decay_gf) if self.decay_gf else self.q0


def _matvec(a: list[list[float]], v: list[float]) -> list[float]:
    return [sum(a[i][j] * v[j] for j in range(4)) for i in range(4)]


def _matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(4)) for j in range(4)] for i in range(4)]


class TranslationPrediction:
    """The three predictions of the translation law: the exact vector s_k, and factors of s(0) for the flows.

    ``u_{k+1} = beta u_k + lambda s_k``, ``s_{k+1} = s_k - eta u_{k+1}``: a 2 x 2 linear map per step. Steps are
    only noted (``step``); the maps are multiplied in Python floats (cached for a constant learning rate) and
    applied to (s, u) on the device when a value is read.
    """

    def __init__(self, s0: torch.Tensor, u0: torch.Tensor | None = None):
        self.s0 = s0
        self._su = torch.stack([s0, torch.zeros_like(s0) if u0 is None else u0])
        self.at_rest = u0 is None
        self._modified = 1.0
        self._gf = 1.0
        self.t = 0.0
        self.pending: list[tuple[Hyper, float]] = []
        self._cache: dict[tuple, tuple[torch.Tensor | None, float, float]] = {}

    def step(self, h: Hyper) -> None:
        self.pending.append((h, self.t))
        self.t += h.lr

    def _catch_up(self) -> None:
        if not self.pending:
            return
        n, (h0, t0) = len(self.pending), self.pending[0]
        lag0 = h0.lr * h0.momentum / (1 - h0.momentum) if self.at_rest else 0.0
        steady = t0 >= lag0 and all(h == h0 for h, _ in self.pending)
        if steady and (h0, n) in self._cache:
            total_t, mod, gf = self._cache[(h0, n)]
        else:
            total, mod, gf = [[1.0, 0.0], [0.0, 1.0]], 1.0, 1.0
            for h, t in self.pending:
                eta, lam, beta = h.lr, h.weight_decay, h.momentum
                c, m = coefficients(h)
                a = [[1 - eta * lam, -eta * beta], [lam, beta]]
                total = [[sum(a[i][k] * total[k][j] for k in range(2)) for j in range(2)] for i in range(2)]
                lag = eta * beta / (1 - beta) if self.at_rest else 0.0
                in_lag = max(0.0, min(t + eta, lag) - t)
                mod *= math.exp(-c * lam * (1 + m * c * lam) * eta + c * lam * in_lag)
                gf *= math.exp(-c * lam * eta)
            identity = total == [[1.0, 0.0], [0.0, 1.0]]
            total_t = None if identity else torch.tensor(total, dtype=self._su.dtype, device=self._su.device)
            if steady:
                self._cache[(h0, n)] = (total_t, mod, gf)
        if total_t is not None:
            self._su = total_t @ self._su
        self._modified *= mod
        self._gf *= gf
        self.pending = []

    @property
    def exact(self) -> torch.Tensor:
        self._catch_up()
        return self._su[0]

    @property
    def modified(self) -> float:
        self._catch_up()
        return self._modified

    @property
    def gf(self) -> float:
        self._catch_up()
        return self._gf

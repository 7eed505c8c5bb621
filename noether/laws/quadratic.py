"""Quadratic laws Q(w) = sum_t c_t |w_t|^2 from a rescaling symmetry, with their prediction per flow.

A rescaling symmetry (W_h -> lambda W_h, W_{h+1} -> lambda^-p W_{h+1}, ...) has the symmetric generator
xi(w) = A w, A = diag(c_t) on the tensors involved, so <grad L(w), A w> = 0 for every w. Then

- gradient flow (Table 2): dQ/dt = 2 <w', A w> = -2 <grad L, A w> = 0, Q is conserved (eq. 31); with an
  L2 weight decay lambda, w' = -grad L - lambda w gives dQ/dt = -2 lambda Q: Q(t) = Q(0) exp(-2 lambda t);
- GD, its Euler discretisation w_{k+1} = w_k - eta g_k with g_k = grad L(w_k) + lambda w_k (what the step
  used, ``Snapshot.grad``): Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 sum_t c_t |g_t|^2 *exactly* (the first-order
  term -2 eta <grad L, A w> vanishes by the symmetry), accumulated every step as ``<id>:pred_discrete``; the
  same holds for SGD with the minibatch gradient, because each sample's loss has the symmetry;
- second-order flows k2 w'' + k1 w' + grad L + lambda w = 0 (Table 2, bottom rows): with P = <w, A w'> =
  Q'/2 and K = sum_t c_t |w_t'|^2 the residual law <k2 w'' + k1 w' + lambda w, A w> = 0 reads
  k2 (P' - K) + k1 P + lambda Q = 0; the runner integrates it along the run's own velocities
  (trapezoid rule) and integrates Q' = 2P, so for ND (k1 = 0): Q(t) = Q(0) + 2 int_0^t P, P' = K
  (the identity behind the ND bound, eq. 32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from noether.laws.base import Context, Snapshot
from noether.laws.conditions import exact_gd, second_order, weight_decay
from noether.laws.tracking import TrackedLaw, flow_rate, is_float64
from noether.laws.workspace import Workspace

MAX_NEURONS = 512  # per-neuron views carry the first MAX_NEURONS neurons of a layer (records stay streamable)
MAX_TERM_COLUMNS = 4  # a law's terms |w_t|^2 recorded beside it as '<id>:|W_2|^2' (the first four)


@dataclass(frozen=True)
class Term:
    """c |w_t|^2 for parameter tensor ``index``; ``neurons`` says how it splits per neuron of the layer."""

    index: int
    coef: float
    label: str  # e.g. "W_2", "b_2", "beta_2"
    neurons: str | None = None  # "rows" (W_h[i, :]), "cols" (W_{h+1}[:, i]), "entries" (b_h[i], beta_h[i])


def _fmt_coef(c: float) -> str:
    c = abs(c)
    if c == 1.0:
        return ""
    if float(c).is_integer():
        return f"{int(c)} "
    return f"{c:g} "


def formula(terms: list[Term], *, at: str = "") -> str:
    """Human form of sum_t c_t |w_t|^2, e.g. '|W_2|^2 + |b_2|^2 - 2 |W_3|^2'."""
    out = ""
    for i, term in enumerate(terms):
        piece = f"{_fmt_coef(term.coef)}|{term.label}{at}|^2"
        if i == 0:
            out = piece if term.coef > 0 else f"-{piece}"
        else:
            out += (" + " if term.coef > 0 else " - ") + piece
    return out


def default_tolerance(context: Context) -> float:
    """Relative drift (against the movement of the terms) under which a quadratic law holds.

    GD and SGD are judged by their exact discrete prediction: float precision of the trajectory
    (1e-9 in float64, 1e-3 in float32). RK4 follows its flow to O(dt^4): 1e-3. The other
    discretisations (ND, NAG, momentum, leapfrog, general) are compared with the flow's residual law
    integrated along the run: 5% of the movement.
    """
    if exact_gd(context):
        return 1e-9 if is_float64(context) else 1e-3
    if context.dynamics == "rk4":
        return 1e-3
    return 0.05


class QuadraticLaw(TrackedLaw):
    """Q(w) = sum_t c_t |w_t|^2 with its flow's prediction; optionally per neuron and in Fig. 2's 'delta' form."""

    def __init__(
        self,
        context: Context,
        ws: Workspace,
        terms: list[Term],
        *,
        per_neuron: bool = False,
        delta_form: bool = False,
        **kw,
    ) -> None:
        super().__init__(context, default_tolerance=kw.pop("default_tolerance", default_tolerance(context)), **kw)
        self.ws = ws
        self.terms = terms
        self.per_neuron = per_neuron
        self.delta_form = delta_form
        self.lam = weight_decay(context.spec)
        self.rate = flow_rate(context)
        self.k2 = context.k2 if context.k2 is not None else (lambda t: 1.0)
        self.discrete = exact_gd(context) and self.applicable
        self.integrate = second_order(context) and self.applicable
        self.every_step = self.discrete or self.integrate
        self._c: Tensor | None = None  # coefficient of every parameter tensor (0 if not in the law)
        self._abs_c: Tensor | None = None
        self._sq0: Tensor | None = None
        self._Q0: Tensor | None = None
        # GD's exact recursion: pred_k = D_k Q_0 + S_k
        self._D = 1.0
        self._S: Tensor | float = 0.0
        self._pending: Tensor | None = None
        self._a = 1.0
        # second-order flows: P = <w, A w'>, predicted Q
        self._P: Tensor | None = None
        self._Qp: Tensor | None = None
        self._f: Tensor | None = None
        self._t: float = 0.0

    # -- helpers ---------------------------------------------------------------------------------
    def _coefs(self, snap: Snapshot) -> Tensor:
        if self._c is None:
            ref = snap.params[0]
            c = torch.zeros(len(snap.params), dtype=torch.float64, device=ref.device)
            for term in self.terms:
                c[term.index] += term.coef
            self._c = c
        return self._c

    def _start(self, snap: Snapshot) -> None:
        if self._Q0 is None:
            c = self._coefs(snap)
            self._sq0 = self.ws.param_sq(snap)
            self._Q0 = (c * self._sq0).sum()

    def neurons(self, snap: Snapshot) -> Tensor:
        """The law per neuron i of the layer (d_h entries), summing to Q."""
        total = None
        for term in self.terms:
            if term.neurons == "rows":
                part = self.ws.rows_sq(snap, term.index)
            elif term.neurons == "cols":
                part = self.ws.cols_sq(snap, term.index)
            else:
                part = self.ws.squares(snap)[term.index]
            if total is None:
                total = part * term.coef  # a new tensor: the workspace's sums are shared
            elif term.coef == 1.0:
                total = total + part
            elif term.coef == -1.0:
                total = total - part
            else:
                total = torch.add(total, part, alpha=term.coef)
        return total

    # -- driver hooks ----------------------------------------------------------------------------
    def on_step(self, snap: Snapshot) -> None:
        self._start(snap)
        c = self._c
        if self.discrete:
            if self._pending is not None:
                self._S = self._a * self._S + self._pending
                self._D *= self._a
            gsq = self.ws.grad_sq(snap)
            if gsq is None or snap.lr is None:
                self.discrete = False
                return
            eta = float(snap.lr)
            self._pending = (eta * eta) * torch.dot(c, gsq)
            self._a = 1.0 - 2.0 * eta * self.lam
        if self.integrate:
            vsq = self.ws.velocity_sq(snap)
            if vsq is None:
                self.integrate = False
                return
            t = float(snap.t)
            K = torch.dot(c, vsq)
            lamQ = 0.0
            if self.lam:
                lamQ = self.lam * (c * self.ws.param_sq(snap)).sum() / float(self.k2(t))
            r = self.rate(t)
            if self._P is None:
                self._P = (c * self.ws.param_velocity_dot(snap)).sum()
                self._Qp = self._Q0
                self._f = K - r * self._P - lamQ
                self._t = t
                return
            dt = t - self._t
            g_new = K - lamQ
            P_new = (self._P + 0.5 * dt * (self._f + g_new)) / (1.0 + 0.5 * dt * r)
            self._Qp = self._Qp + dt * (self._P + P_new)
            self._P = P_new
            self._f = g_new - r * P_new
            self._t = t

    def prediction_now(self, snap: Snapshot) -> Tensor | None:
        """The flow's prediction of Q at this snapshot (None where it cannot be formed)."""
        if not self.applicable:
            return None
        flow = self.context.flow
        if flow == "gf":
            return self._Q0 * math.exp(-2.0 * self.lam * float(snap.t)) if self.lam else self._Q0
        if self.integrate and self._Qp is not None:
            return self._Qp
        return None

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        self._start(snap)
        c = self._c
        if self._abs_c is None:
            self._abs_c = c.abs()
        abs_c = self._abs_c
        sq = self.ws.param_sq(snap)
        dsq = sq - self._sq0
        Q = torch.dot(c, sq)
        scale = torch.dot(abs_c, dsq.abs())
        size = torch.dot(abs_c, sq)
        pred = self.prediction_now(snap)
        pred_d = None
        if self.discrete and self._pending is not None:
            pred_d = self._D * self._Q0 + self._S
        drift = None if pred is None else (Q - pred).abs()
        drift_d = None if pred_d is None else (Q - pred_d).abs()
        if drift_d is not None:  # GD, SGD: judged by the exact discrete prediction, GF's drift kept aside
            drift, drift_d = drift_d, drift
        out: dict[str, Tensor | float] = {}
        if self.delta_form:
            # Fig. 2: X(0) - X(t) against Y(0) - Y(t), with Q = X - Y and X the positive terms.
            pos = torch.clamp(c, min=0.0)
            neg = torch.clamp(c, max=0.0)
            value = -(pos * dsq).sum()
            out[self.id] = value
            if pred is not None:
                out[self.id + ":pred"] = (neg * dsq).sum() + self._Q0 - pred
            if pred_d is not None:
                out[self.id + ":pred_discrete"] = (neg * dsq).sum() + self._Q0 - pred_d
            self.track(value, drift=drift, scale=scale, size=size, drift_other=drift_d)
        else:
            out[self.id] = Q
            for term in self.terms[:MAX_TERM_COLUMNS]:  # Fig. 1's second axis: the norms that the law balances
                out[f"{self.id}:|{term.label}|^2"] = sq[term.index]
            if pred is not None:
                out[self.id + ":pred"] = pred
            if pred_d is not None:
                out[self.id + ":pred_discrete"] = pred_d
            self.track(Q, drift=drift, scale=scale, size=size, drift_other=drift_d)
        if self.per_neuron:
            out[self.id + ":neurons"] = self.neurons(snap)[:MAX_NEURONS]
        return out

    def discrete_relative_drift(self) -> float | None:
        """Relative drift from GD's exact discrete prediction (None unless the run is GD or SGD)."""
        return self.relative_drift() if self._max_abs_other is not None else None

    def flow_relative_drift(self) -> float | None:
        """Relative drift from the flow's prediction (GD: gradient flow's conservation)."""
        return self.other_relative_drift() if self._max_abs_other is not None else self.relative_drift()

    def extra_reason(self) -> str | None:
        rel = self.other_relative_drift()
        if rel is None:
            return None
        name = self.context.dynamics.upper()
        return (
            f"judged by {name}'s exact discrete prediction (:pred_discrete); the drift from gradient flow's prediction "
            f"(:pred) is {rel:.3g} relative: {name}'s O(eta) discretisation, it shrinks linearly with the step size"
        )


class SymmetryResidual(TrackedLaw):
    """<grad L(w), A w> / sum_t |c_t| |g_t| |w_t|: the symmetry itself, 0 on every step (Sec. 2.3).

    Measured on the gradient of the loss (a weight-decay term in ``Snapshot.grad`` is taken out).
    """

    kind = "zero"

    def __init__(self, context: Context, ws: Workspace, terms: list[Term], **kw) -> None:
        tol = 1e-9 if is_float64(context) else 1e-3
        super().__init__(context, default_tolerance=kw.pop("default_tolerance", tol), **kw)
        self.ws = ws
        self.terms = terms
        self.lam = weight_decay(context.spec)
        self._c: Tensor | None = None
        self._abs_c: Tensor | None = None
        self._one: Tensor | None = None
        self._zero: Tensor | None = None

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        wg = self.ws.param_grad_dot(snap)
        if wg is None:
            return {}
        gsq = self.ws.grad_sq(snap)
        if self.lam:  # Snapshot.grad includes the weight-decay term lambda w: take it out
            wsq = self.ws.param_sq(snap)
            gsq = torch.clamp(gsq - 2.0 * self.lam * wg + self.lam**2 * wsq, min=0.0)
            wg = wg - self.lam * wsq
        if self._c is None:
            ref = snap.params[0]
            c = torch.zeros(len(snap.params), dtype=torch.float64, device=ref.device)
            for term in self.terms:
                c[term.index] += term.coef
            self._c = c
        c = self._c
        if self._one is None:
            self._one, self._zero = torch.ones((), dtype=c.dtype, device=c.device), torch.zeros((), dtype=c.dtype, device=c.device)
            self._abs_c = c.abs()
        num = torch.dot(c, wg)
        den = torch.dot(self._abs_c, self.ws.grad_param_norms(snap) if not self.lam else (gsq * self.ws.param_sq(snap)).sqrt())
        value = num / (den + 1e-300)
        self.track(value, scale=self._one)
        return {self.id: value, self.id + ":pred": self._zero}

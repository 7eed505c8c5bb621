"""Linear layers (Table 4, eq. 41-43): the balance *matrix* W_h W_h^T - W_{h+1}^T W_{h+1}.

sigma_h(x) = c x commutes with every invertible G: W_h -> G W_h, b_h -> G b_h, W_{h+1} -> W_{h+1} G^-1 leaves
f_w unchanged (GL(d_h)). The generators X in gl(d_h) give, with A = k2 w'' + k1 w' + lambda w, the matrix
residual law A_{W_h} W_h^T + a_{b_h} b_h^T - W_{h+1}^T A_{W_{h+1}} = 0 (eq. 41). For

    M = W_h W_h^T + b_h b_h^T - W_{h+1}^T W_{h+1}     (d_h x d_h)

- gradient flow: M is constant (eq. 42; decays as M(0) exp(-2 lambda t) with weight decay lambda);
- GD (G = grad L + lambda w, what the step used): M_{k+1} = (1 - 2 eta lambda) M_k
  + eta^2 (G_h G_h^T + g_b g_b^T - G_{h+1}^T G_{h+1}) exactly;
- second-order flows: N = W_h V_h^T + b_h v_b^T - V_{h+1}^T W_{h+1} (M' = N + N^T) obeys
  k2 (N' - Kmat) + k1 N + lambda M = 0 with Kmat = V_h V_h^T + v_b v_b^T - V_{h+1}^T V_{h+1}; for ND this is
  eq. 43, M'' / 2 = Kmat (symmetrised), integrated along the run's velocities.

The series column is |M(t) - M(0)|_F (its prediction |M_pred(t) - M(0)|_F); the drift is the matrix
distance |M(t) - M_pred(t)|_F, relative to the movement |A(t) - A(0)|_F + |B(t) - B(0)|_F of its two terms
A = W_h W_h^T + b_h b_h^T and B = W_{h+1}^T W_{h+1}.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Context, Law, Snapshot
from noether.laws.conditions import exact_gd, second_order, weight_decay
from noether.laws.entry import CatalogueEntry
from noether.laws.homogeneity import layer_power
from noether.laws.quadratic import QuadraticLaw, default_tolerance
from noether.laws.tracking import TrackedLaw, flow_rate, not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

MATRIX_MAX = 16
ACTIVATION_NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "swish": "Swish", "tanh": "tanh", "gelu": "GELU"}

ENTRIES = [
    CatalogueEntry(
        id="linear_balance",
        title="Balance matrix of a linear layer",
        ids=["linear_balance/h{h}"],
        symmetry="GL(d_h): W_h -> G W_h, b_h -> G b_h, W_{h+1} -> W_{h+1} G^-1",
        condition="sigma_h linear (kind 'linear', or x^1)",
        quantity="M = W_h W_h^T + b_h b_h^T - W_{h+1}^T W_{h+1} (d_h x d_h); column |M(t) - M(0)|_F",
        predictions={
            "gf": "constant (eq. 42); M(0) exp(-2 lambda t) with weight decay; GD exactly "
            "M_{k+1} = (1 - 2 eta lambda) M_k + eta^2 (G_h G_h^T + g_b g_b^T - G_{h+1}^T G_{h+1}), G = grad L + lambda w",
            "nd": "eq. 43: M''/2 = W_h' W_h'^T - W_{h+1}'^T W_{h+1}' (+ b_h' b_h'^T), integrated along the run",
            "nagf": "k2 (N' - Kmat) + k1 N = 0 with k1 = 3/t, M' = N + N^T (eq. 41), integrated",
            "general": "k2 (N' - Kmat) + k1 N + lambda M = 0 (eq. 41), integrated",
            "none": "no prediction: Adam's preconditioner is not GL(d_h)-equivariant (shown only)",
        },
        columns=["linear_balance/h{h}", "linear_balance/h{h}:pred", "linear_balance/h{h}:pred_discrete (gd, sgd)",
                 "linear_balance/h{h}:matrix (d_h <= 16)"],
        paper="Table 4, eq. 41-43",
        tolerance="matrix drift against the movement of its two terms: as balance",
    ),
]


class LinearBalance(TrackedLaw):
    """M = W_h W_h^T + b_h b_h^T - W_{h+1}^T W_{h+1} with its prediction per flow (Table 4)."""

    def __init__(self, context: Context, ws: Workspace, structure: Structure, h: int, **kw) -> None:
        super().__init__(context, default_tolerance=default_tolerance(context), **kw)
        self.ws = ws
        self.iW = structure.W(h)
        self.ib = structure.b(h)
        self.iU = structure.W(h + 1)
        self.lam = weight_decay(context.spec)
        self.rate = flow_rate(context)
        self.k2 = context.k2 if context.k2 is not None else (lambda t: 1.0)
        self.discrete = exact_gd(context) and self.applicable
        self.integrate = second_order(context) and self.applicable
        self.every_step = self.discrete or self.integrate
        self._A0: Tensor | None = None
        self._B0: Tensor | None = None
        self._M0: Tensor | None = None
        self._D = 1.0
        self._S: Tensor | float = 0.0
        self._pending: Tensor | None = None
        self._a = 1.0
        self._N: Tensor | None = None
        self._Mp: Tensor | None = None
        self._F: Tensor | None = None
        self._t = 0.0

    def _terms(self, xs: list[Tensor]) -> tuple[Tensor, Tensor]:
        """(A, B) = (W_h W_h^T + b_h b_h^T, W_{h+1}^T W_{h+1}) of ``xs`` (parameters, gradients or velocities), in float64."""
        W, U = xs[self.iW].double(), xs[self.iU].double()
        A = W @ W.T
        if self.ib is not None:
            b = xs[self.ib].double()
            A = A + torch.outer(b, b)
        return A, U.T @ U

    def _start(self, snap: Snapshot) -> None:
        if self._M0 is None:
            self._A0, self._B0 = self._terms(snap.params)
            self._M0 = self._A0 - self._B0

    def on_step(self, snap: Snapshot) -> None:
        self._start(snap)
        if self.discrete:
            if self._pending is not None:
                self._S = self._a * self._S + self._pending
                self._D *= self._a
            if snap.grad is None or snap.lr is None:
                self.discrete = False
                return
            eta = float(snap.lr)
            Ag, Bg = self._terms(snap.grad)
            self._pending = (eta * eta) * (Ag - Bg)
            self._a = 1.0 - 2.0 * eta * self.lam
        if self.integrate:
            if snap.velocity is None:
                self.integrate = False
                return
            t = float(snap.t)
            Av, Bv = self._terms(snap.velocity)
            Kmat = Av - Bv
            W, U = snap.params[self.iW].double(), snap.params[self.iU].double()
            V, VU = snap.velocity[self.iW].double(), snap.velocity[self.iU].double()
            lamM = 0.0
            if self.lam:
                A, B = self._terms(snap.params)
                lamM = (self.lam / float(self.k2(t))) * (A - B)
            r = self.rate(t)
            if self._N is None:
                N = W @ V.T - VU.T @ U
                if self.ib is not None:
                    N = N + torch.outer(snap.params[self.ib].double(), snap.velocity[self.ib].double())
                self._N, self._Mp, self._t = N, self._M0, t
                self._F = Kmat - r * N - lamM
                return
            dt = t - self._t
            G = Kmat - lamM
            N_new = (self._N + 0.5 * dt * (self._F + G)) / (1.0 + 0.5 * dt * r)
            S = self._N + N_new
            self._Mp = self._Mp + 0.5 * dt * (S + S.T)
            self._N, self._F, self._t = N_new, G - r * N_new, t

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        self._start(snap)
        A, B = self._terms(snap.params)
        M = A - B
        M0 = self._M0
        value = (M - M0).norm()
        scale = (A - self._A0).norm() + (B - self._B0).norm()
        size = A.norm() + B.norm()
        pred = None
        if self.applicable and self.context.flow == "gf":
            pred = M0 * (math.exp(-2.0 * self.lam * float(snap.t)) if self.lam else 1.0)
        elif self.integrate and self._Mp is not None:
            pred = self._Mp
        out: dict[str, Tensor | float] = {self.id: value}
        drift_d = None
        if self.discrete and self._pending is not None:
            Md = self._D * M0 + self._S
            out[self.id + ":pred_discrete"] = (Md - M0).norm()
            drift_d = (M - Md).norm()
        if pred is not None:
            out[self.id + ":pred"] = (pred - M0).norm()
            drift = (M - pred).norm()
            self.track(value, drift=drift, drift_discrete=drift_d, scale=scale, size=size)
        else:
            self.track(value, scale=scale, size=size)
        if M.shape[0] <= MATRIX_MAX:
            out[self.id + ":matrix"] = M
        return out

    discrete_relative_drift = QuadraticLaw.discrete_relative_drift
    flow_relative_drift = QuadraticLaw.flow_relative_drift
    extra_reason = QuadraticLaw.extra_reason


def _prediction_text(context: Context) -> str:
    """The short prediction for this run's flow: under weight decay gradient flow's M decays, it is not constant."""
    text = {"gf": "M constant (eq. 42)", "nd": "M''/2 = W'W'^T - ... (eq. 43), integrated",
            "nagf": "residual law eq. 41 with k1 = 3/t, integrated",
            "general": "residual law eq. 41, integrated"}.get(context.flow, ENTRIES[0].predictions["none"])
    lam = weight_decay(context.spec)
    if lam and context.flow == "gf":
        text = f"M decays as M(0) exp(-2 lambda t), lambda = {lam:g} (eq. 42 with weight decay)"
    return text


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """One balance matrix per linear hidden layer."""
    laws: list[Law] = []
    na: list[LawSummary] = []
    if spec.model is None:
        return laws, na
    adam = context.flow == "none"
    for h in range(1, structure.depth):
        act = structure.layer(h).activation
        linear = act.kind == "linear" or (act.kind == "power" and int(act.p) == 1)
        linear = linear and not structure.layer(h).batch_norm  # BatchNorm is per neuron: no GL(d_h)
        if not linear:
            continue
        laws.append(
            LinearBalance(
                context, ws, structure, h, id=f"linear_balance/h{h}", family="linear_balance",
                name=f"|M(t) - M(0)|_F, M = W_{h} W_{h}^T" + (f" + b_{h} b_{h}^T" if structure.b(h) is not None else "")
                + f" - W_{h + 1}^T W_{h + 1}",
                symmetry=f"GL({structure.layer(h).fan_out}) acting between W_{h} and W_{h + 1}",
                prediction=_prediction_text(context),
                applicable=not adam, reason=ENTRIES[0].predictions["none"] if adam else None,
            )
        )
    if not laws and structure.depth >= 2:
        hidden = range(1, structure.depth)
        names = " and ".join(dict.fromkeys(activation_name(structure.layer(h).activation) for h in hidden))
        if all(layer_power(structure, h) is not None for h in hidden):
            why = f"{names} {'have' if ' and ' in names else 'has'} only the diagonal rescalings: see balance"
        else:
            why = f"{names}: GL(d_h) needs a linear activation"
        na.append(not_applicable(context, id="linear_balance", family="linear_balance", name="W_h W_h^T - W_{h+1}^T W_{h+1}",
                                 symmetry="GL(d_h)", reason=f"no linear hidden layer ({why})"))
    return laws, na


def activation_name(act: Any) -> str:
    """sigma_h as the explanations name it: ReLU, LeakyReLU, x^2, RePU(2), Swish, tanh, GELU."""
    if act.kind == "power":
        return f"x^{act.p:g}"
    if act.kind == "repu":
        return f"RePU({act.p:g})"
    return ACTIVATION_NAMES.get(act.kind, act.kind)

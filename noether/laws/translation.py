"""Translation of the last layer under a softmax / cross-entropy output (Kunin et al. 2021, Sec. 4, eq. 7-8).

softmax(z + c 1) = softmax(z) for every c, so the cross-entropy loss ('nll') is unchanged by
W_K -> W_K + 1 a^T, b_K -> b_K + alpha 1 (any a in R^{d_{K-1}}, alpha in R): adding the same row to every
class of the last layer. The generators are the all-ones directions, so the gradient's sum over classes
vanishes, 1^T grad_{W_K} L = 0 and 1^T grad_{b_K} L = 0, and the quantity (one entry per neuron j of layer
K-1, and one for the bias)

    s = (sum_i W_K[i, j])_j  and  sum_i b_K[i]

- gradient flow: s is constant; with an L2 weight decay lambda (w' = -grad L - lambda w): s' = -lambda s,
  s(t) = s(0) exp(-lambda t), so |s|^2 decays as exp(-2 lambda t);
- GD and SGD (G = grad L + lambda w, what the step used; a minibatch's loss has the symmetry too):
  s_{k+1} = (1 - eta lambda) s_k *exactly* (a linear law: no eta^2 term), so without weight decay s does
  not move at all; with it, (1 - eta lambda)^k drifts from exp(-lambda t) by O(eta lambda^2 t);
- second-order flows k2 w'' + k1 w' + grad L + lambda w = 0: with p = s', k2 p' + k1 p + lambda s = 0,
  integrated along the run (trapezoid rule) from s(0) and p(0) = the sum over classes of the initial
  velocity: from rest and without weight decay s stays constant;
- Adam: the per-coordinate preconditioner does not keep the sum over classes (no prediction, shown only).

The series column is |s(t)| (the bias entry included), its prediction |s_pred(t)|; the drift is the
distance |s(t) - s_pred(t)|, relative to the movement |W_K(t) - W_K(0)|_F + |b_K(t) - b_K(0)| of the
class rows whose sum it is.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Columns, Context, Law, Snapshot
from noether.laws.conditions import exact_gd, exactly, second_order, weight_decay
from noether.laws.entry import CatalogueEntry
from noether.laws.quadratic import MAX_NEURONS, QuadraticLaw, default_tolerance
from noether.laws.tracking import TrackedLaw, flow_rate, not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

_NONE = "no prediction: Adam's per-coordinate preconditioner does not keep the sum over classes (shown only)"

ENTRIES = [
    CatalogueEntry(
        id="translation",
        title="Translation of the last layer (softmax output)",
        ids=["translation"],
        symmetry="W_K -> W_K + 1 a^T, b_K -> b_K + alpha 1: the same row added to every class "
        "(softmax(z + c 1) = softmax(z))",
        condition="a network with the cross-entropy loss 'nll' (log-softmax + NLL); not 'mse'",
        quantity="s = (sum_i W_K[i, j])_j and sum_i b_K[i], the sums over classes; column |s(t)|, per neuron j "
        "of layer K-1 in :neurons",
        predictions={
            "gf": "s constant; s(0) exp(-lambda t) with weight decay (|s|^2 as exp(-2 lambda t)); GD and SGD "
            "exactly s_{k+1} = (1 - eta lambda) s_k (:pred_discrete): without weight decay s never moves",
            "nd": "s'' = 0 (k2 = 1, k1 = 0): s(0) + s'(0) t, integrated along the run; constant from rest",
            "nagf": "s'' + (3/t) s' = 0, integrated; constant from rest",
            "general": "k2 s'' + k1 s' + lambda s = 0, integrated; constant from rest without weight decay",
            "none": _NONE,
        },
        columns=["translation", "translation:pred", "translation:pred_discrete (gd, sgd)",
                 "translation:neurons (the first 512 neurons of layer K-1)"],
        paper="not in the paper: Kunin et al., Neural Mechanics (ICLR 2021), Sec. 4 and 5 (translation symmetry)",
        tolerance="as balance: drift |s - s_pred| against the movement |W_K(t) - W_K(0)|_F + |b_K(t) - b_K(0)|",
    ),
]


class Translation(TrackedLaw):
    """s = sums over classes of W_K's columns and of b_K, with its prediction per flow."""

    def __init__(self, context: Context, structure: Structure, **kw) -> None:
        super().__init__(context, default_tolerance=default_tolerance(context), **kw)
        K = structure.depth
        self.iW = structure.W(K)
        self.ib = structure.b(K)
        self.lam = weight_decay(context.spec)
        self.rate = flow_rate(context)
        self.k2 = context.k2 if context.k2 is not None else (lambda t: 1.0)
        # GD, SGD: s_{k+1} = (1 - eta lambda) s_k; without weight decay s_k = s_0, nothing to accumulate
        self.discrete = exact_gd(context) and self.applicable
        self.integrate = second_order(context) and self.applicable
        self.every_step = (self.discrete and self.lam != 0.0) or self.integrate
        self._W0: Tensor | None = None
        self._b0: Tensor | None = None
        self._s0: Tensor | None = None
        self._D = 1.0  # prod_k (1 - eta_k lambda) over the steps done
        self._a: float | None = None  # this step's factor, folded in at the next step
        self._sp: Tensor | None = None  # second-order flows: predicted s, its rate p, and p's slope
        self._p: Tensor | None = None
        self._f: Tensor | None = None
        self._t = 0.0

    def _sums(self, xs: list[Tensor]) -> Tensor:
        """(sum_i x_K[i, j])_j followed by sum_i b_K[i], in float64 (parameters or velocities)."""
        parts = [xs[self.iW].double().sum(0)]
        if self.ib is not None:
            parts.append(xs[self.ib].double().sum().reshape(1))
        return torch.cat(parts)

    def _start(self, snap: Snapshot) -> None:
        if self._s0 is None:
            self._W0 = snap.params[self.iW].detach().clone()
            self._b0 = None if self.ib is None else snap.params[self.ib].detach().clone()
            self._s0 = self._sums(snap.params)

    def on_step(self, snap: Snapshot) -> None:
        self._start(snap)
        if self.discrete and self.lam:
            if self._a is not None:
                self._D *= self._a
            if snap.lr is None:
                self.discrete = False
                return
            self._a = 1.0 - float(snap.lr) * self.lam
        if self.integrate:
            if snap.velocity is None:
                self.integrate = False
                return
            t = float(snap.t)
            r = self.rate(t)
            if self._p is None:
                self._sp, self._p, self._t = self._s0, self._sums(snap.velocity), t
                self._f = -r * self._p - (self.lam / float(self.k2(t))) * self._sp
                return
            # trapezoid rule on s' = p, k2 p' + k1 p + lambda s = 0 (the lambda term at the predicted s)
            dt = t - self._t
            c = self.lam / float(self.k2(t))
            # solve p_new = p + dt/2 (f + (-r p_new - c s_new)), s_new = s + dt/2 (p + p_new) for p_new
            s_part = self._sp + 0.5 * dt * self._p
            p_new = (self._p + 0.5 * dt * (self._f - c * s_part)) / (1.0 + 0.5 * dt * r + 0.25 * dt * dt * c)
            self._sp = s_part + 0.5 * dt * p_new
            self._p, self._f, self._t = p_new, -r * p_new - c * self._sp, t

    def _prediction(self, snap: Snapshot) -> Tensor | None:
        if not self.applicable:
            return None
        if self.context.flow == "gf":
            return self._s0 * math.exp(-self.lam * float(snap.t)) if self.lam else self._s0
        if self.integrate and self._sp is not None:
            return self._sp
        return None

    def measure(self, snap: Snapshot) -> Columns:
        self._start(snap)
        W = snap.params[self.iW]
        s = self._sums(snap.params)
        value = s.norm()
        scale = (W.double() - self._W0.double()).norm()
        size = W.double().norm()
        if self.ib is not None:
            b = snap.params[self.ib].double()
            scale = scale + (b - self._b0.double()).norm()
            size = size + b.norm()
        out: dict[str, Tensor | float] = {self.id: value}
        pred = self._prediction(snap)
        drift_d = None
        if self.discrete:
            sd = self._s0 * self._D  # s_k = prod_{j<k} (1 - eta_j lambda) s_0 (on_step folded in step k-1's factor)
            out[self.id + ":pred_discrete"] = sd.norm()
            drift_d = (s - sd).norm()
        if pred is not None:
            out[self.id + ":pred"] = pred.norm()
            drift = (s - pred).norm()
            self.track(value, drift=drift, drift_discrete=drift_d, scale=scale, size=size)
        else:
            self.track(value, scale=scale, size=size)
        neurons = s[: W.shape[1]]
        out[self.id + ":neurons"] = neurons if neurons.shape[0] <= MAX_NEURONS else neurons[:MAX_NEURONS]
        return out

    discrete_relative_drift = QuadraticLaw.discrete_relative_drift
    flow_relative_drift = QuadraticLaw.flow_relative_drift
    extra_reason = QuadraticLaw.extra_reason


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """The translation law of a network trained with the cross-entropy loss."""
    if spec.model is None:
        return [], []
    if spec.loss != "nll":
        return [], [
            not_applicable(context, id="translation", family="translation", name="|s|, s = sum over classes of W_K, b_K",
                           symmetry="translation of the last layer",
                           reason=f"the loss '{spec.loss}' changes when the same constant is added to every output "
                           "(only softmax + cross-entropy, 'nll', is invariant)")
        ]
    adam = context.flow == "none"
    K = structure.depth
    bias = structure.b(K) is not None
    name = f"|s|, s = sum over classes of W_{K}" + (f" and b_{K}" if bias else "")
    prediction = {
        "gf": "s constant under gradient flow",
        "nd": "s'' = 0, integrated (constant from rest)",
        "nagf": "s'' + (3/t) s' = 0, integrated (constant from rest)",
        "general": "k2 s'' + k1 s' + lambda s = 0, integrated (constant from rest)",
    }.get(context.flow, _NONE)
    lam = weight_decay(spec)
    if context.flow == "gf":
        if lam:
            prediction = f"decays as s(0) exp(-lambda t), lambda = {lam:g}"
        if exact_gd(context):
            prediction += f"; {exactly(context)} s_{{k+1}} = (1 - eta lambda) s_k (dotted)"
    law = Translation(
        context, structure, id="translation", family="translation", name=name,
        symmetry=f"W_{K} -> W_{K} + 1 a^T" + (f", b_{K} -> b_{K} + alpha 1" if bias else "") + " (softmax output)",
        prediction=prediction, applicable=not adam, reason=_NONE if adam else None,
    )
    return [law], []

"""Time-translation symmetry (Sec. 5, 7): energy, the ND bound on the balances, the velocity bound.

- ``energy``: E = k2 |w'|^2 / 2 + L(w). ND's Lagrangian does not depend on time, so E is conserved;
  NAGF's does, and dE/dt = -(3/t) |w'|^2 (eq. 35): the runner predicts
  E(t) = E(t0) - int_t0^t (3/s) |w'(s)|^2 ds along the run; in general dE/dt = (k2'/2 - k1) |w'|^2.
- ``nd_bound`` (eq. 32-34): under ND from rest, S(t) = sum_h |Q_h(t)| / 2 with Q_h the balance of layer h
  obeys S'' <= sum_h |K_h| <= (1 + p_max) |w'|^2 <= 2 (1 + p_max) (L(w(0)) - L*), so
  S(t) - S(0) <= (1 + p_max) (L(w(0)) - L*) t^2 (= 2 (L(w(0)) - L*) t^2 for ReLU; L* = 0 for nll/mse,
  which only loosens it).
- ``velocity_bound`` (eq. 49): from rest, energy never grows under ND and NAGF, so |w'|^2 <= 2 L(w(0)) and
  the mean speed (1/m) sum_i |w_i'| <= sqrt(2 L(w(0)) / m): wider networks move less (Sec. 7, NTK).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Context, Law, Snapshot
from noether.laws.conditions import at_rest, k2_is_one, minibatch, weight_decay
from noether.laws.entry import CatalogueEntry
from noether.laws.homogeneity import layer_power, layer_terms
from noether.laws.ntk import NTKDrift, ntk_reason
from noether.laws.tracking import TrackedLaw, is_float64, not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

# why there is no energy law, as a run's summary says it (its verdict already reads "not applicable")
NO_ENERGY = {
    "gf": "gradient flow is first order (no kinetic energy; the loss only decreases)",
    "none": "Adam has no Lagrangian",
}

ENTRIES = [
    CatalogueEntry(
        id="energy",
        title="Energy",
        ids=["energy"],
        symmetry="time translation of the Lagrangian (exact for ND)",
        condition="second-order dynamics (nd, leapfrog, nag, momentum, general, rk4 of those) with full-batch "
        "gradients",
        quantity="E = k2 |w'|^2 / 2 + L(w) (+ lambda |w|^2 / 2 with weight decay)",
        predictions={
            "gf": f"not applicable: {NO_ENERGY['gf']}",
            "nd": "conserved (Sec. 7)",
            "nagf": "decreases: E(t) = E(t0) - int (3/s) |w'(s)|^2 ds (eq. 35); NAG (eq. 20) is judged by the "
            "scheme's own balance step by step (friction (1 - beta_k^2)|u_k|^2/2, eta |g|^2/2, L's change as the "
            "trapezoid work of its gradient: O(eta) over a fixed time), eq. 35 along the run is O(sqrt eta) off",
            "general": "E(t) = E(t0) + int (k2'/2 - k1) |w'|^2 ds, integrated along the run",
            "none": f"not applicable ({NO_ENERGY['none']})",
        },
        columns=["energy", "energy:pred"],
        paper="Sec. 5 (eq. 32 proof), eq. 35, Sec. 7",
        tolerance="relative to how far E moves (the chart's scale) or the movement of |w'|^2/2 and L, whichever is "
        "larger: 1e-3 (rk4), 0.05 (nd, leapfrog), 0.01 (nag, against its discrete balance), 0.1 (general)",
    ),
    CatalogueEntry(
        id="nd_bound",
        title="ND bound on the balances",
        ids=["nd_bound"],
        symmetry="rescalings + time translation",
        condition="a network under ND, started at rest (w'(0) = 0), full batch, a balance law in every hidden layer",
        quantity="S(t) - S(0), S = sum_h |Q_h| / 2, Q_h the balance of layer h",
        predictions={
            "gf": "not applicable (Q_h is conserved)",
            "nd": "S(t) - S(0) <= (1 + p_max) (L(w(0)) - L*) t^2, = 2 (L(w(0)) - L*) t^2 for 1-homogeneous layers "
            "(eq. 32-34), L* = 0",
            "nagf": "not applicable (an open question in the paper)",
            "general": "not applicable",
            "none": "not applicable",
        },
        columns=["nd_bound", "nd_bound:pred (the bound)"],
        paper="eq. 32-34",
        tolerance="violation relative to the bound: 0.05",
    ),
    CatalogueEntry(
        id="velocity_bound",
        title="Velocity bound",
        ids=["velocity_bound"],
        symmetry="time translation (energy never grows)",
        condition="nd, nag, or k2 = 1 and k1 >= 0 (momentum), started at rest, full batch",
        quantity="mean speed (1/m) sum_i |w_i'|",
        predictions={
            "gf": "not applicable (first order)",
            "nd": "<= sqrt(2 L(w(0)) / m) (eq. 49)",
            "nagf": "<= sqrt(2 L(w(0)) / m) (Remark 1: the energy decreases, eq. 35)",
            "general": "<= sqrt(2 L(w(0)) / m) when k2 = 1 and k1 >= 0",
            "none": "not applicable",
        },
        columns=["velocity_bound", "velocity_bound:pred (the bound)"],
        paper="eq. 49, Remark 1",
        tolerance="violation relative to the bound: 0.05",
    ),
]


def _energy_tolerance(context: Context) -> float:
    if context.dynamics == "rk4":
        return 1e-6 if is_float64(context) else 1e-3
    if context.flow == "nd":
        return 0.05
    if context.dynamics == "nag":  # judged by the scheme's own balance, O(eta) (NAG._nag_step)
        return 0.01
    return 0.1


class Energy(TrackedLaw):
    """E = k2 |w'|^2/2 + L(w) (+ lambda |w|^2/2), conserved under ND, decreasing by (3/t)|w'|^2 under NAGF (eq. 35)."""

    def __init__(self, context: Context, ws: Workspace, **kw) -> None:
        super().__init__(context, default_tolerance=_energy_tolerance(context), **kw)
        self.ws = ws
        self.lam = weight_decay(context.spec)
        self.k1 = context.k1
        self.k2 = context.k2 if context.k2 is not None else (lambda t: 1.0)
        self.every_step = context.flow in ("nagf", "general")
        self._E0: Tensor | None = None
        self._kin0: Tensor | None = None
        self._pot0: Tensor | None = None
        self._I: Tensor | float = 0.0
        self._last: tuple[float, Tensor] | None = None
        self._lo: Tensor | None = None
        self._hi: Tensor | None = None
        # NAG (eq. 20): the scheme's own energy balance (``_nag_step``), E^u predicted now and after this step
        self.discrete = context.dynamics == "nag" and not self.lam and not minibatch(context.spec)
        self._U: Tensor | None = None
        self._U_next: Tensor | None = None
        self._u_sq: Tensor | None = None
        self._g_prev: list[Tensor] | None = None

    def _k2(self, t: float) -> float:
        return float(self.k2(t)) if self.context.flow == "general" else 1.0

    def _rate(self, t: float) -> float:
        """c(t) in dE/dt = c(t) |w'|^2."""
        flow = self.context.flow
        if flow == "nagf":
            return -3.0 / t if t > 0 else 0.0
        if flow == "general":
            try:
                h = 1e-6 * max(1.0, abs(t))
                lo = t - h if t - h > 0 else t
                dk2 = (float(self.k2(t + h)) - float(self.k2(lo))) / (t + h - lo)
                return 0.5 * dk2 - float(self.k1(t))
            except (ValueError, ArithmeticError):
                return 0.0
        return 0.0

    def _parts(self, snap: Snapshot) -> tuple[Tensor, Tensor] | None:
        vsq = self.ws.velocity_sq(snap)
        if vsq is None:
            return None
        kin = 0.5 * self._k2(float(snap.t)) * vsq.sum()
        pot = snap.loss.detach()
        if self.lam:
            pot = pot + 0.5 * self.lam * self.ws.param_sq(snap).sum()
        return kin, pot

    def on_step(self, snap: Snapshot) -> None:
        vsq = self.ws.velocity_sq(snap)
        if vsq is None:
            return
        t = float(snap.t)
        f = self._rate(t) * vsq.sum()
        if self._last is not None:
            t0, f0 = self._last
            self._I = self._I + 0.5 * (t - t0) * (f0 + f)
        self._last = (t, f)
        if self.discrete:
            self._nag_step(snap)

    def _nag_step(self, snap: Snapshot) -> None:
        """NAG's energy balance step by step (eq. 20 with u_k = (w_k - w_{k-1}) / h, g_k = grad L(y_k)).

        Exactly, E^u_k = |u_k|^2/2 + L(w_k) changes by
            -(1 - beta_k^2) |u_k|^2 / 2   (the friction: beta_k = (k-1)/(k+2) = 1 - 3 h / t_{k+2})
            - eta |g_k|^2 / 2             (the gradient step's own kinetic energy)
            + L(w_{k+1}) - L(w_k) - <g_k, w_{k+1} - w_k>.
        The last term is where the time-translation symmetry enters (L does not depend on t): L's change is
        the work of its gradient along the step, by the trapezoid rule with the gradients at the step's two
        ends, grad L(w_k) = g_{k-1} + O(eta) (w_k = y_{k-1} - eta g_{k-1}) and grad L(w_{k+1}) = g_k + O(eta):
        <(g_{k-1} - g_k) / 2, w_{k+1} - w_k>, an O(h^3) error per step, O(h^2) over a fixed time.
        """
        ex = snap.extra or {}
        u = torch._foreach_sub(snap.params, ex["prev"])
        torch._foreach_mul_(u, 1.0 / ex["h"])
        u_sq = torch.stack(torch._foreach_norm(u)).double().square().sum()
        g = ex["grad_y"]
        g_prev = self._g_prev if self._g_prev is not None else (self._grad_at(snap.params) or g)
        step = torch._foreach_sub(ex["next"], snap.params)
        diff = torch._foreach_sub(g_prev, g)
        work = torch.stack([torch.dot(a.reshape(-1), b.reshape(-1)) for a, b in zip(diff, step, strict=True)]).double().sum()
        g_sq = torch.stack(torch._foreach_norm(g)).double().square().sum()
        beta = float(ex["beta"])
        if self._U is None:
            self._U = 0.5 * u_sq + snap.loss.detach().double()
        else:
            self._U = self._U_next
        self._u_sq = u_sq
        self._U_next = self._U - 0.5 * (1.0 - beta * beta) * u_sq - 0.5 * float(snap.lr) * g_sq + 0.5 * work
        self._g_prev = [x.detach().clone() for x in g]

    def _grad_at(self, params: list[Tensor]) -> list[Tensor] | None:
        """grad L(w) through ``context.loss_fn`` (once, at the start: the gradient before the first step)."""
        if self.context.loss_fn is None:
            return None
        with torch.enable_grad():
            ps = [p.detach().requires_grad_(True) for p in params]
            return [g.detach() for g in torch.autograd.grad(self.context.loss_fn(ps), ps)]

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        parts = self._parts(snap)
        if parts is None:
            return {}
        kin, pot = parts
        E = kin + pot
        if self._E0 is None:
            self._E0, self._kin0, self._pot0 = E, kin, pot
            self._I = 0.0
        # the chart's own scale: how far E (and its prediction) moves over the run, not E's size
        self._lo = E if self._lo is None else torch.minimum(self._lo, E)
        self._hi = E if self._hi is None else torch.maximum(self._hi, E)
        scale = torch.maximum(self._hi - self._lo, (kin - self._kin0).abs() + (pot - self._pot0).abs())
        size = kin + pot.abs()
        out: dict[str, Tensor | float] = {self.id: E}
        if self.applicable:
            flow = self._E0 + self._I
            if self.discrete and self._U is not None:
                # NAG: the scheme's own balance, on the measured (central-velocity) kinetic energy
                pred = self._U + 0.5 * (2.0 * kin - self._u_sq)
                out[self.id + ":pred"] = pred
                self.track(E, pred=pred, scale=scale, size=size, drift_other=(E - flow).abs())
            else:
                out[self.id + ":pred"] = flow
                self.track(E, pred=flow, scale=scale, size=size)
        else:
            self.track(E, scale=scale, size=size)
        return out

    def extra_reason(self) -> str | None:
        rel = self.other_relative_drift()
        if rel is None:
            return None
        return (
            "judged by NAG's own energy balance (eq. 20 step by step: friction (1 - beta_k^2)|u_k|^2/2, the step's "
            f"eta |g|^2/2, L's change as the trapezoid work of its gradient); eq. 35 integrated along the run "
            f"(E(t0) - int (3/s)|w'|^2 ds) is {rel:.3g} off relative: NAG follows NAGF only to O(sqrt eta) (its "
            "gradient at the extrapolated y_k damps like sqrt(eta) grad^2 L), and it shrinks linearly with sqrt(eta)"
        )


class NDBound(TrackedLaw):
    """S(t) - S(0) <= (1 + p_max) (L(w(0)) - L*) t^2 with S = sum_h |Q_h| / 2 (eq. 32-34)."""

    kind = "bound"

    def __init__(self, context: Context, ws: Workspace, structure: Structure, **kw) -> None:
        super().__init__(context, default_tolerance=0.05, **kw)
        self.ws = ws
        K = structure.depth
        self.rows = [layer_terms(structure, h) for h in range(1, K)]
        self.p_max = max(layer_power(structure, h) for h in range(1, K))
        self._C: Tensor | None = None
        self._S0: Tensor | None = None
        self._L0: Tensor | None = None
        self._t0 = 0.0

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        if self._C is None:
            ref = snap.params[0]
            C = torch.zeros(len(self.rows), len(snap.params), dtype=torch.float64, device=ref.device)
            for i, terms in enumerate(self.rows):
                for term in terms:
                    C[i, term.index] += term.coef
            self._C = C
        S = (self._C @ self.ws.param_sq(snap)).abs().sum() * 0.5
        t = float(snap.t)
        if self._S0 is None:
            self._S0, self._L0, self._t0 = S, snap.loss.detach(), t
        value = S - self._S0
        bound = (1.0 + self.p_max) * torch.clamp(self._L0, min=0.0) * (t - self._t0) ** 2
        self.track(value, pred=bound, scale=bound)
        return {self.id: value, self.id + ":pred": bound}


class VelocityBound(TrackedLaw):
    """Mean speed (1/m) sum_i |w_i'| <= sqrt(2 L(w(0)) / m) from rest (eq. 49)."""

    kind = "bound"

    def __init__(self, context: Context, ws: Workspace, **kw) -> None:
        super().__init__(context, default_tolerance=0.05, **kw)
        self.ws = ws
        self.lam = weight_decay(context.spec)
        self._bound: Tensor | None = None
        self._m = 0

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        if snap.velocity is None:
            return {}
        if self._bound is None:
            self._m = sum(p.numel() for p in snap.params)
            L0 = snap.loss.detach()
            if self.lam:
                L0 = L0 + 0.5 * self.lam * self.ws.param_sq(snap).sum()
            self._bound = torch.sqrt(2.0 * torch.clamp(L0, min=0.0) / self._m)
        if hasattr(torch, "_foreach_norm"):
            l1 = torch.stack(torch._foreach_norm(snap.velocity, 1)).sum()
        else:  # pragma: no cover
            l1 = torch.stack([v.abs().sum() for v in snap.velocity]).sum()
        value = l1 / self._m
        self.track(value, pred=self._bound, scale=self._bound)
        return {self.id: value, self.id + ":pred": self._bound}


def _velocity_bound_reason(spec: Any, context: Context) -> str | None:
    """Why eq. 49 does not apply to this run (None if it does)."""
    if context.flow in ("gf", "none"):
        return "needs second-order dynamics (ND, NAG, momentum): gradient flow has no kinetic energy"
    if not k2_is_one(context):
        return "needs k2 = 1 and k1 >= 0 (energy that never grows)"
    if not at_rest(spec):
        return "needs w'(0) = 0 (start at rest: initial velocity 0)"
    if minibatch(spec):
        return "needs full-batch gradients (the energy argument uses one loss)"
    return None


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """Energy, ND bound, velocity bound (and the NTK kernel drift, judged by the velocity bound)."""
    laws: list[Law] = []
    na: list[LawSummary] = []
    flow = context.flow
    # energy
    if flow in ("nd", "nagf", "general") and not minibatch(spec):
        laws.append(
            Energy(context, ws, id="energy", family="energy", name="E = k2 |w'|^2 / 2 + L(w)",
                   symmetry="time translation", prediction={
                       "nd": "conserved",
                       "nagf": "NAG's discrete balance of eq. 35 (E(t0) - int (3/s) |w'|^2 ds), step by step"
                       if context.dynamics == "nag" else "E(t0) - int (3/s) |w'|^2 ds (eq. 35)",
                       "general": "E(t0) + int (k2'/2 - k1) |w'|^2 ds"}[flow])
        )
    else:
        reason = NO_ENERGY.get(flow, "needs full-batch gradients (a minibatch changes the potential every step)")
        na.append(not_applicable(context, id="energy", family="energy", name="|w'|^2/2 + L(w)",
                                 symmetry="time translation", reason=reason))
    # nd bound (networks)
    if spec.model is not None:
        K = structure.depth
        missing = [h for h in range(1, K) if layer_power(structure, h) is None]
        reason = None
        if flow != "nd":
            reason = "eq. 32-34 is proven for ND only (NAGF: an open question in the paper)"
        elif K < 2 or missing:
            reason = f"needs a balance law in every hidden layer (missing in layer(s) {missing})"
        elif not at_rest(spec):
            reason = "needs w'(0) = 0 (start at rest)"
        elif minibatch(spec):
            reason = "needs full-batch gradients"
        if reason is None:
            laws.append(NDBound(context, ws, structure, id="nd_bound", family="nd_bound",
                                name="sum_h |Q_h(t)|/2 - sum_h |Q_h(0)|/2", symmetry="rescalings + time translation",
                                prediction="<= (1 + p_max) (L(w(0)) - L*) t^2, L* = 0 (eq. 34)"))
        else:
            na.append(not_applicable(context, id="nd_bound", family="nd_bound", name="S(t) - S(0)",
                                     symmetry="rescalings + time translation", reason=reason))
    # velocity bound and NTK kernel drift
    reason = _velocity_bound_reason(spec, context)
    bound = None
    if reason is None:
        bound = VelocityBound(context, ws, id="velocity_bound", family="velocity_bound",
                              name="(1/m) sum_i |w_i'|", symmetry="time translation",
                              prediction="<= sqrt(2 L(w(0)) / m) (eq. 49)")
        laws.append(bound)
    else:
        na.append(not_applicable(context, id="velocity_bound", family="velocity_bound",
                                 name="(1/m) sum_i |w_i'|", symmetry="time translation", reason=reason))
    if spec.model is not None:
        why = reason or ntk_reason(context)
        if why is None:
            laws.append(NTKDrift(context, bound))
        else:
            na.append(not_applicable(context, id="ntk_drift", family="ntk_drift", name="|H(t) - H(0)|_F / |H(0)|_F",
                                     symmetry="time translation (via eq. 49)", reason=why))
    return laws, na


"""Verification (Algorithm 1, step 4): measure every discovered law along a run of the spec's own dynamics.

The discovered laws are ordinary catalogue-style laws (``noether.laws.tracking.TrackedLaw``): they are
added to a ``noether.simulate.Simulation`` of the spec, which runs the same driver loop, dynamics and
record cadence as any run, and they report in the same ``LawSummary`` form (drift relative to the
movement of the law's terms, verdict against a tolerance) next to the catalogue's own laws.

Each law evaluates its quantities through the candidate families' pairings (no m x m matrix):
Q_k = sum_j C_jk <w, A_j w> / 2, J_k = sum_j C_jk <w', A_j w>, r_k = sum_j C_jk <grad L, A_j w>.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from noether.discovery.quantities import LawPlan
from noether.discovery.search import Found, GeneratorSet
from noether.laws.base import Context, Snapshot
from noether.laws.tracking import TrackedLaw, is_float64

MAX_VALUES = 256  # per-quantity values carried by a record


class Evaluator:
    """Sum_j C_jk <x, A_j w> for the generators of some sets, from one pairing per candidate involved."""

    def __init__(self, found: Found, sets: list[GeneratorSet]):
        self.found = found
        index = torch.cat([s.index for s in sets])
        self.union, inverse = torch.unique(index, return_inverse=True)
        self.parts: list[tuple[Tensor, Tensor | None]] = []
        start = 0
        for s in sets:
            self.parts.append((inverse[start : start + len(s.index)], s.C))
            start += len(s.index)

    def pairings(self, w, x) -> Tensor:
        """<x, A_j w> for every candidate involved (float64, on the CPU)."""
        return self.found.pairings(w, [t[None] for t in x], self.union)[0].cpu()

    def terms(self, w, x) -> Tensor:
        """The elementary terms of every pairing involved, (candidates, t)."""
        return self.found.terms(w, [t[None] for t in x], self.union)[0].cpu()

    def movement(self, T: Tensor, T0: Tensor) -> Tensor:
        """Per generator: sum_j |C_jk| sum_t |T_jt - T0_jt| (how far its terms moved)."""
        return self.weighted((T - T0).abs().sum(-1))

    def bounds(self, w, x) -> Tensor:
        """|x on the coordinates A_j moves| * |A_j w| for every candidate involved."""
        out = torch.zeros(len(self.union), dtype=torch.float64)
        for k, pos, local in self.found.split(self.union):
            fam = self.found.families[k]
            out[pos] = fam.scales(w, [t[None] for t in x])[0, local].to(torch.float64).cpu()
        return out

    def combine(self, P: Tensor) -> Tensor:
        """Per generator: sum_j C_jk P_j."""
        out = []
        for pos, C in self.parts:
            p = P[pos]
            out.append(p if C is None else p @ C)
        return torch.cat(out)

    def weighted(self, P: Tensor) -> Tensor:
        """Per generator: sum_j |C_jk| |P_j| (the size of its terms)."""
        out = []
        for pos, C in self.parts:
            p = P[pos].abs()
            out.append(p if C is None else p @ C.abs())
        return torch.cat(out)


def _quantity_tolerance(context: Context) -> float:
    """As the catalogue's quadratic laws: relative drift against the movement of the terms."""
    floor = 1e-9 if is_float64(context) else 1e-4
    if context.dynamics == "rk4":
        return max(1e-3, floor)
    if context.dynamics == "sgd":
        return 0.1
    return max(0.05, floor)


def _weight_decay(context: Context) -> float:
    cfg = context.spec.dynamics
    if cfg.kind in ("gd", "sgd", "momentum"):
        return float(getattr(cfg, "weight_decay", 0.0) or 0.0)
    return 0.0


class DiscoveredLawTracker(TrackedLaw):
    """One discovered law, measured at the records of a run."""

    family = "discovered"

    def __init__(self, plan: LawPlan, found: Found, context: Context, *, data_tolerance: float | None):
        info = plan.info
        self.kind_of_law = info.kind
        self.level = info.level
        self.eval = Evaluator(found, plan.sets)
        self.count = info.count
        self.lam = _weight_decay(context)
        self.flow = context.flow
        applicable, reason, tol, kind, prediction = self._plan(info, context, data_tolerance)
        self.kind = kind
        note = f"discovered ({info.level} level), {info.count} generator(s)"
        if info.matches:
            note += "; matches " + ", ".join(info.matches)
        elif info.new:
            note += "; new (no catalogue law of this spec)"
        super().__init__(
            context,
            id=info.id,
            family="discovered",
            name=info.name,
            symmetry=info.symmetry,
            prediction=prediction,
            default_tolerance=tol,
            applicable=applicable,
            reason=reason,
            note=note,
        )
        self._P0: Tensor | None = None
        self._Q0: Tensor | None = None
        self._t0: float | None = None
        self.per_neuron = info.coefficients is not None

    def _plan(self, info, context: Context, data_tol: float | None):
        flow, dyn = context.flow, context.dynamics
        sgd_data = dyn == "sgd" and info.level == "data"
        if info.kind == "quantity":
            tol = _quantity_tolerance(context)
            if flow != "gf":
                return False, f"w^T A w / 2 is conserved under gradient flow only (this run: {flow})", tol, "conserved", "not conserved (residual law only)"
            pred = "conserved" + (" (decays as exp(-2 lambda t) with weight decay)" if self.lam else "")
            if sgd_data:
                return True, None, tol, "conserved", pred + "; SGD breaks data symmetries (needs the whole orbit)"
            return True, None, tol, "conserved", pred
        if info.kind == "charge":
            tol = _quantity_tolerance(context)
            if flow == "nd":
                return True, None, tol, "conserved", "conserved"
            if flow == "gf":
                return True, None, tol, "zero", "0 (w' = -grad L is orthogonal to A w)"
            if flow == "nagf":
                cfg = context.spec.dynamics
                if getattr(cfg, "t0", 0.0) <= 0:
                    return False, "NAG from t0 = 0 throws the initial velocity away (footnote 2); set dynamics.t0 > 0", tol, "conserved", "decays as t^-3 (eq. 46)"
                return True, None, tol, "conserved", "decays as t^-3 (eq. 46)"
            return False, f"no closed-form prediction for the {flow} flow (the residual law applies)", tol, "conserved", "-"
        precise = 1e-9 if is_float64(context) else 1e-4
        if dyn == "nag":
            return False, "NAG evaluates grad L at y_k, not at w_k: the residual is not measured", precise, "zero", "-"
        if info.level == "data":
            tol = 3.0 * (data_tol or 0.05)
            pred = "0 up to the finite sample's symmetry defect"
            if dyn in ("sgd",) or getattr(context.spec.dynamics, "batch_size", None):
                pred += "; minibatch gradients are not invariant (needs the whole orbit)"
            return True, None, tol, "zero", pred
        return True, None, precise * 10, "zero", "0 at every step (the loss is invariant)"

    # -- measurement -----------------------------------------------------------------------------
    def _velocity(self, snap: Snapshot):
        if snap.velocity is not None:
            return snap.velocity
        if self.flow == "gf" and snap.grad is not None:
            return [-g for g in snap.grad]
        return None

    def _loss_grad(self, snap: Snapshot):
        if snap.grad is None:
            return None
        if self.lam:
            return [g - self.lam * w for g, w in zip(snap.grad, snap.params, strict=True)]
        return snap.grad

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        w = snap.params
        if self.kind_of_law == "quantity":
            T = self.eval.terms(w, w) / 2
            Q = self.eval.combine(T.sum(-1))
            if self._P0 is None:
                self._P0, self._Q0 = T, Q
            pred = self._Q0 * (math.exp(-2.0 * self.lam * float(snap.t)) if self.lam else 1.0)
            size = self.eval.weighted(T.abs().sum(-1))
            return self._track(Q, pred, self.eval.movement(T, self._P0), size, snap)
        if self.kind_of_law == "charge":
            v = self._velocity(snap)
            if v is None:
                return {}
            T = self.eval.terms(w, v)
            J = self.eval.combine(T.sum(-1))
            if self._P0 is None:
                self._P0, self._Q0, self._t0 = T, J, float(snap.t)
            if self.kind == "zero":  # GF: J = -<grad L, A w>, judged against its Cauchy-Schwarz bound
                bound = self.eval.weighted(self.eval.bounds(w, v))
                return self._track(J, torch.zeros_like(J), bound, bound, snap)
            pred = self._Q0
            if self.flow == "nagf":
                t0, t = self._t0, float(snap.t)
                pred = self._Q0 * ((t0 / t) ** 3 if t0 > 0 and t > 0 else 1.0)
            size = self.eval.weighted(T.abs().sum(-1))
            return self._track(J, pred, self.eval.movement(T, self._P0), size, snap)
        g = self._loss_grad(snap)
        if g is None:
            return {}
        r = self.eval.combine(self.eval.pairings(w, g))
        bound = self.eval.weighted(self.eval.bounds(w, g))
        rel = r.abs() / bound.clamp_min(1e-300)
        worst = rel.max()
        self.track(worst, drift=worst, scale=torch.ones((), dtype=worst.dtype), size=torch.ones((), dtype=worst.dtype))
        return {self.id: worst, self.id + ":pred": torch.zeros((), dtype=worst.dtype)}

    def _track(self, value: Tensor, pred: Tensor, move: Tensor, size: Tensor, snap: Snapshot) -> dict[str, Tensor]:
        drift = (value - pred).abs()
        self.track(value.sum(), drift=drift.max(), scale=move.max(), size=size.max())
        denom = max(float(move.max()), 64.0 * self.eps * float(size.max()), 1e-300)
        out = {
            self.id: value.sum(),
            self.id + ":pred": pred.sum(),
            self.id + ":drift": drift.max() / denom,
        }
        if self.count <= MAX_VALUES:
            out[self.id + (":neurons" if self.per_neuron else ":values")] = value
        return out


def trackers(plans: list[LawPlan], found: Found, context: Context) -> list[DiscoveredLawTracker]:
    """One tracker per discovered law."""
    return [DiscoveredLawTracker(plan, found, context, data_tolerance=found.data_tolerance) for plan in plans]

"""The bookkeeping every law shares: initial and final value, drift from the prediction, scale, verdict.

Drift is measured against the law's *prediction* (a constant for a conserved quantity, a decaying curve,
a bound...). Its relative size is taken against the **movement of the law's terms**, not against the
quantity itself: ``|W_2|^2 - |W_3|^2`` sits near 0 at a standard initialisation while both terms move,
so dividing by the quantity would turn rounding into "broken". For a law whose terms are
``T_1 .. T_n`` (e.g. ``|W_h|^2`` and ``p |W_{h+1}|^2``)

    relative drift = max_t |value(t) - prediction(t)| / max_t sum_i |T_i(t) - T_i(0)|,

floored at a few ulps of the terms' size (``sum_i |T_i|``) so that a run that barely moves is judged by
float precision, not by 0/0. A law *holds* when its relative drift is at most its tolerance
(``spec.tolerance`` if set, else the law's default for this dynamics and dtype), else it is *broken*.

Everything here stays a tensor until ``summary()``: ``measure`` is called at every record and must not
synchronise with the device (no ``.item()``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from noether.dynamics import DYNAMICS
from noether.laws.base import Bank, Columns, Context, Snapshot
from noether.summary import LawSummary


def describe_dynamics(context: Context) -> str:
    """A one-line name of the run's dynamics for the summary, e.g. 'nd (Newtonian dynamics, eq. 21, ...)'."""
    kind = DYNAMICS.get(context.dynamics)
    return kind.describe(context.flow) if kind is not None else context.dynamics


def eps_of(context: Context) -> float:
    """Machine epsilon of the run's dtype."""
    dtype = context.spec.dtype
    return float(torch.finfo(torch.float64 if dtype == "float64" else torch.float32).eps)


def is_float64(context: Context) -> bool:
    return context.spec.dtype == "float64"


class TrackedLaw:
    """Base class of the catalogue's laws: tensor-side drift statistics and the final verdict.

    Subclasses set the descriptive attributes, implement ``measure`` (calling ``self.track``) and,
    when ``every_step`` is True, ``on_step`` (the ``Law`` protocol of ``noether.laws.base``).
    """

    id: str
    family: str
    name: str
    symmetry: str
    prediction: str
    every_step: bool = False
    bank: Bank | None = None  # set by laws whose scalar columns a bank measures (noether.laws.quadratic)
    kind: str = "conserved"  # "conserved" (|value - pred|), "bound" (value <= pred), "zero" (|value|)

    def __init__(
        self,
        context: Context,
        *,
        id: str,
        family: str,
        name: str,
        symmetry: str,
        prediction: str,
        default_tolerance: float,
        applicable: bool = True,
        reason: str | None = None,
        note: str | None = None,
    ) -> None:
        self.context = context
        self.id = id
        self.family = family
        self.name = name
        self.symmetry = symmetry
        self.prediction = prediction
        self.applicable = applicable  # False: measured and shown, but the paper predicts nothing here
        self.reason = reason
        self.note = note  # how it was judged, appended to the summary's reason
        spec_tol = context.spec.tolerance
        self.tolerance = float(spec_tol) if spec_tol is not None else float(default_tolerance)
        self.tolerance_source = "spec.tolerance" if spec_tol is not None else "default for this law and dynamics"
        self.eps = eps_of(context)
        self.stats = Tracker()  # a bank's shared Tracker for laws measured together (then ``slot`` is set)
        self.slot: int | None = None  # this law's entry in ``stats``' vectors, None for a law of its own

    # -- driver hooks --------------------------------------------------------------------------
    def on_step(self, snap: Snapshot) -> None:
        """Default: nothing to accumulate."""

    def measure(self, snap: Snapshot) -> Columns:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- bookkeeping ---------------------------------------------------------------------------
    def track(
        self,
        value: Tensor,
        *,
        pred: Tensor | None = None,
        drift: Tensor | None = None,
        scale: Tensor | None = None,
        size: Tensor | None = None,
        drift_other: Tensor | None = None,
        drift_discrete: Tensor | None = None,
    ) -> None:
        """Record one measurement: the value, its drift from the prediction, the movement and size of its terms.

        ``drift_discrete``: the drift from the exact step-by-step prediction (GD, SGD); where given, the law is
        judged by it and the flow's ``drift`` is kept aside as the other drift."""
        if drift is None and pred is not None:
            if self.kind == "bound":
                drift = torch.clamp(value - pred, min=0.0)
            else:
                drift = (value - pred).abs()
        if drift is None and self.kind == "zero":
            drift = value.abs()
        self.stats.track(value, drift=drift, scale=scale, size=size, drift_other=drift_other,
                         drift_discrete=drift_discrete)

    def _stat(self, name: str) -> Tensor | None:
        x = getattr(self.stats, name)
        return x if x is None or self.slot is None else x[self.slot]

    @property
    def _initial(self) -> Tensor | None:
        return self._stat("initial")

    @property
    def _final(self) -> Tensor | None:
        return self._stat("final")

    @property
    def _max_abs(self) -> Tensor | None:
        return self._stat("max_abs")

    @property
    def _max_scale(self) -> Tensor | None:
        return self._stat("max_scale")

    @property
    def _max_size(self) -> Tensor | None:
        return self._stat("max_size")

    @property
    def _max_abs_other(self) -> Tensor | None:
        """Running max of the drift from a second prediction (e.g. GF's, for GD)."""
        return self._stat("max_abs_other")

    @property
    def _measured(self) -> int:
        return self.stats.measured

    def _relative(self, max_abs: float, scale: float | None, size: float | None) -> float:
        floor = 64.0 * self.eps * (size or 0.0)
        denom = max(scale or 0.0, floor)
        if denom == 0.0:
            return 0.0 if max_abs == 0.0 else math.inf
        return max_abs / denom

    def relative_drift(self) -> float | None:
        """Max |value - prediction| relative to the terms' movement (what the verdict judges)."""
        return self._rel_of(self._max_abs)

    def other_relative_drift(self) -> float | None:
        """The same against the second prediction (GD: gradient flow's), None if there is none."""
        return self._rel_of(self._max_abs_other)

    def _rel_of(self, max_abs: Tensor | None) -> float | None:
        if max_abs is None:
            return None
        scale = float(self._max_scale) if self._max_scale is not None else 0.0
        size = float(self._max_size) if self._max_size is not None else 0.0
        return self._relative(float(max_abs), scale, size)

    def extra_reason(self) -> str | None:
        """Subclasses add how the law was judged (e.g. the discrete identity's residual, a symmetry defect)."""
        return None

    def summary(self) -> LawSummary:
        """The verdict: holds when the relative drift is within the tolerance, broken otherwise."""
        initial = _as_float(self._initial)
        final = _as_float(self._final)
        max_abs = _as_float(self._max_abs)
        scale = _as_float(self._max_scale)
        size = _as_float(self._max_size)
        max_rel = None if max_abs is None else self._relative(max_abs, scale, size)
        notes = [n for n in (self.note, self.extra_reason()) if n]
        if final is not None and not math.isfinite(final):
            notes.append("non-finite values at the end (the run diverged) were left out")
            final = None
        base = dict(
            id=self.id,
            name=self.name,
            family=self.family,
            symmetry=self.symmetry,
            dynamics=describe_dynamics(self.context),
            prediction=self.prediction,
            initial=_finite_or_none(initial),
            final=_finite_or_none(final),
            max_abs_drift=_finite_or_none(max_abs),
            max_rel_drift=_finite_or_none(max_rel),
        )
        if not self.applicable:
            reason = "; ".join([self.reason or "the paper makes no prediction here", *notes])
            return LawSummary(**base, verdict="not applicable", tolerance=None, reason=reason)
        if self._measured == 0:
            return LawSummary(**base, verdict="not applicable", tolerance=None, reason="no record was measured")
        if max_abs is None:
            reason = "; ".join(["no prediction could be formed from the snapshots (missing velocity?)", *notes])
            return LawSummary(**base, verdict="not applicable", tolerance=None, reason=reason)
        bad = [x for x in (initial, max_abs) if x is not None and not math.isfinite(x)]
        if bad or max_rel is None or math.isnan(max_rel):
            reason = "; ".join(["non-finite values", *notes])
            return LawSummary(**base, verdict="broken", tolerance=self.tolerance, reason=reason)
        verdict = "holds" if max_rel <= self.tolerance else "broken"
        how = f"relative drift {max_rel:.3g} {'<=' if verdict == 'holds' else '>'} tolerance {self.tolerance:g} ({self.tolerance_source})"
        return LawSummary(**base, verdict=verdict, tolerance=self.tolerance, reason="; ".join([how, *notes]))


class Tracker:
    """Running statistics of a law's measurements, tensor-side: initial and final value, maxima of the drift,
    of the terms' movement (scale) and of their size.

    The values may be 0-dim (one law) or 1-D (a bank of laws measured together, one entry per law: the laws
    read their entry). Non-finite drifts (a diverging run) are left out of the maxima without a device
    synchronisation: ``torch.fmax`` ignores NaN.
    """

    __slots__ = ("initial", "final", "max_abs", "max_scale", "max_size", "max_abs_other", "measured")

    def __init__(self) -> None:
        self.initial: Tensor | None = None
        self.final: Tensor | None = None
        self.max_abs: Tensor | None = None
        self.max_scale: Tensor | None = None
        self.max_size: Tensor | None = None
        self.max_abs_other: Tensor | None = None
        self.measured = 0

    def track(
        self,
        value: Tensor,
        *,
        drift: Tensor | None = None,
        scale: Tensor | None = None,
        size: Tensor | None = None,
        drift_other: Tensor | None = None,
        drift_discrete: Tensor | None = None,
    ) -> None:
        if drift_discrete is not None:  # GD, SGD: judged by the exact discrete prediction, the flow's drift aside
            drift, drift_other = drift_discrete, drift
        if value.requires_grad:
            value = value.detach()
        if self.initial is None:
            self.initial = value
        self.final = value
        self.measured += 1
        self.max_abs = _running_max(self.max_abs, drift)
        self.max_scale = _running_max(self.max_scale, scale)
        self.max_size = _running_max(self.max_size, size)
        self.max_abs_other = _running_max(self.max_abs_other, drift_other)


def _running_max(current: Tensor | None, new: Tensor | None) -> Tensor | None:
    """max(current, new), ignoring NaN (``torch.fmax``)."""
    if new is None:
        return current
    if new.requires_grad:
        new = new.detach()
    return new if current is None else torch.fmax(current, new)


def _as_float(x: Tensor | None) -> float | None:
    if x is None:
        return None
    return float(x.detach().double().cpu().reshape(-1)[0]) if x.numel() == 1 else float(x.detach().double().norm())


def _finite_or_none(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return x


def not_applicable(
    context: Context | None, *, id: str, family: str, name: str, symmetry: str, reason: str, prediction: str = "-"
) -> LawSummary:
    """A summary line for a law that does not apply to this spec, with the reason."""
    return LawSummary(
        id=id,
        name=name,
        family=family,
        symmetry=symmetry,
        dynamics=describe_dynamics(context) if context is not None else "",
        prediction=prediction,
        verdict="not applicable",
        reason=reason,
    )


def flow_rate(context: Context) -> Callable[[float], float]:
    """r(t) = k1(t) / k2(t) for the second-order flows, as a Python function (0 where undefined or infinite,
    e.g. NAGF's 3/t at t = 0; 0 for first-order flows)."""
    k1, k2 = context.k1, context.k2
    if k1 is None or k2 is None:
        return lambda t: 0.0

    def r(t: float) -> float:
        try:
            value = float(k1(t)) / float(k2(t))
        except (ValueError, ZeroDivisionError, ArithmeticError):
            return 0.0
        return value if math.isfinite(value) else 0.0

    return r

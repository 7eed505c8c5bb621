"""How a law's error scales with a swept parameter: the error of each run, the log-log fit, the expected order.

A sweep varies one field (the learning rate, the width, the seed...) over a grid. For each law that has a
prediction, each run gives one number, its *error*: the largest |Q(t) - prediction(t)| over a time window
shared by every run of the sweep, ``[t_0, T]`` with ``T`` the smallest final time of the runs. A common
window matters: a learning-rate sweep with a fixed number of steps runs each member for a different time
``t = k eta``, and comparing the drift of GD at eta over ``[0, 300 eta]`` with the drift at eta / 2 over
``[0, 150 eta]`` mixes the order of the scheme with the length of the run.

Across the sweep the errors are fitted as ``log error = slope * log value + c`` (least squares), and the
slope is set beside the one the theory expects: GD is the Euler discretisation of gradient flow, so the
distance between GD's conserved quantities and the flow's constants is first order in eta (slope 1,
paper Sec. 4.1 and Table 2); under Newtonian dynamics the balance is not conserved but bounded, no power
law is expected; the NTK drift falls as the width grows (Sec. 7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Fit:
    """``log y = slope * log x + intercept`` over ``n`` points; ``r2`` the share of variance explained."""

    slope: float
    intercept: float
    r2: float
    n: int

    def at(self, x: float) -> float:
        """The fitted y at x."""
        return math.exp(self.intercept) * x ** self.slope


@dataclass(frozen=True)
class Expected:
    """The order the theory gives for one law, one dynamics and one swept field (slope None: no power law)."""

    slope: float | None
    reason: str
    rounding: bool = False  # the law holds exactly at every step: what is left is rounding, no trend to fit


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """A nested spec as ``{"dynamics.lr": 0.05, "model.widths": [..], ...}`` (lists are leaves)."""
    if not isinstance(obj, dict):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def swept_paths(specs: list[dict[str, Any]], ignore: tuple[str, ...] = ("name",)) -> list[str]:
    """The dotted spec fields whose values differ between the runs, in the specs' own order."""
    flats = [flatten(s) for s in specs]
    paths: list[str] = []
    for flat in flats:
        for path in flat:
            if path not in paths and path not in ignore:
                paths.append(path)
    return [p for p in paths if len({repr(f.get(p)) for f in flats}) > 1]


def numeric_value(value: Any) -> float | None:
    """A swept value as a number to put on a log axis: numbers as they are, a width list as its widest
    hidden layer, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list) and len(value) > 2 and all(isinstance(v, int) for v in value):
        return float(max(value[1:-1]))
    return None


def window_error(t: list[float] | np.ndarray, value: list[float] | np.ndarray, prediction: list[float] | np.ndarray,
                 t_end: float) -> float | None:
    """max |value - prediction| over the records with t <= t_end (finite ones only); None if there are none."""
    t = np.asarray(t, dtype=float)
    diff = np.abs(np.asarray(value, dtype=float) - np.asarray(prediction, dtype=float))
    keep = (t <= t_end * (1 + 1e-12) + 1e-300) & np.isfinite(diff)
    if not keep.any():
        return None
    return float(diff[keep].max())


def fit_loglog(x: list[float | None], y: list[float | None]) -> Fit | None:
    """Least-squares line through (log x, log y) over the points with x > 0 and y > 0; None under 2 points
    or when every x is the same."""
    pts = [(math.log(a), math.log(b)) for a, b in zip(x, y, strict=True)
           if a is not None and b is not None and a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]
    if len(pts) < 2:
        return None
    lx = np.array([p[0] for p in pts])
    ly = np.array([p[1] for p in pts])
    if np.ptp(lx) == 0:
        return None
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    total = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / total if total > 0 else 1.0
    return Fit(float(slope), float(intercept), r2, len(pts))


FIRST_ORDER = ("balance", "balance_sum", "linear_balance", "chain", "scale")


def expected_order(family: str, dynamics: str, path: str, weight_decay: float = 0.0) -> Expected:
    """What the theory says of a law's error against a swept field (the paper's sections in the reason)."""
    if family == "translation" and not weight_decay and dynamics not in ("adam", "mixed"):
        return Expected(None, "the class sums of the last layer do not move at all without weight decay (the"
                              " gradient's sum over classes is 0): only rounding is left, no trend is expected",
                        rounding=True)
    if path in ("dynamics.lr", "dynamics.dt"):
        if dynamics in ("gd", "sgd") and family == "translation":
            return Expected(1.0, "GD follows s_{k+1} = (1 - eta lambda) s_k exactly; over a fixed time it is"
                                 " first order in eta away from the flow's exp(-lambda t) (Kunin et al.)")
        if dynamics in ("gd", "sgd") and family in FIRST_ORDER:
            return Expected(1.0, "GD is the Euler step of gradient flow: over a fixed time its distance from the"
                                 " flow's constant is first order in eta (Sec. 4.1)")
        if family in ("residual", "rotation_residual", "scale_residual"):
            return Expected(None, "the residual is zero at every step for any eta (the loss is invariant): only"
                                  " rounding is left, no trend is expected", rounding=True)
        if dynamics == "nd":
            return Expected(None, "under Newtonian dynamics the balance is not conserved but bounded (Sec. 4.1):"
                                  " no power law in eta is expected")
        return Expected(None, f"no order is stated for {family} under {dynamics}")
    if path == "model.widths" and family == "ntk_drift":
        return Expected(None, "the NTK drift falls as the width grows (Sec. 7): the slope should be negative")
    if path == "seed":
        return Expected(None, "seeds are repeats: the spread shows the run-to-run variation, not a law")
    return Expected(None, f"no order is stated for {family} against {path}")


def _get(spec: dict[str, Any], path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _floats(values: list[Any]) -> list[float]:
    return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan for v in values]


def analyse_sweep(runs: list[dict[str, Any]], laws: list[dict[str, Any]]) -> dict[str, Any]:
    """A sweep's analysis, as plain data.

    ``runs``: each with ``id``, ``spec`` (a dict) and ``series`` (columns ``t``, ``<law>``, ``<law>:pred``;
    empty for a run that has not ended). ``laws``: ``id``, ``name`` and ``family`` of each law to fit.
    Returns the swept paths, the main one (the first that is not the seed), the runs ordered by their
    value on it (``x``), the common window's end ``t_end``, and per law the points (run, x, error), the
    fit and the expected slope with its reason.
    """
    specs = [r.get("spec") or {} for r in runs]
    paths = swept_paths(specs)
    main = next((p for p in paths if p != "seed"), paths[0] if paths else None)
    ordered = []
    for run in runs:
        value = _get(run.get("spec") or {}, main) if main else None
        ordered.append({**run, "value": value, "x": numeric_value(value)})
    ordered.sort(key=lambda r: (r["x"] is None, r["x"] if r["x"] is not None else 0.0, r["id"]))
    ended = [r for r in ordered if any(t is not None for t in (r.get("series") or {}).get("t") or [])]
    t_end = min((max(t for t in r["series"]["t"] if t is not None) for r in ended), default=None)
    kinds = {_get(s, "dynamics.kind") or "?" for s in specs}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    weight_decay = max((float(_get(s, "dynamics.weight_decay") or 0.0) for s in specs), default=0.0)
    fits = []
    for law in laws:
        points = []
        for run in ended:
            cols = run["series"]
            if law["id"] not in cols or f"{law['id']}:pred" not in cols:
                continue
            err = window_error(cols["t"], _floats(cols[law["id"]]), _floats(cols[f"{law['id']}:pred"]), t_end)
            points.append({"id": run["id"], "x": run["x"], "error": err})
        if not points:
            continue
        fit = fit_loglog([p["x"] for p in points], [p["error"] for p in points]) if main else None
        expected = expected_order(law.get("family", ""), kind, main or "", weight_decay)
        fits.append({"id": law["id"], "name": law.get("name", law["id"]), "family": law.get("family", ""),
                     "points": points, "fit": None if fit is None or expected.rounding else fit.__dict__,
                     "expected": expected.slope, "reason": expected.reason, "rounding": expected.rounding})
    return {"paths": paths, "main": main, "dynamics": kind, "t_end": t_end,
            "runs": [{k: v for k, v in r.items() if k != "series"} for r in ordered], "fits": fits}

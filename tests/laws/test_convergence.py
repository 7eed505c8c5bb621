"""Every (law, dynamics) pair with a prediction: its error shrinks at the scheme's order as the step halves.

For each pair the run covers the same physical time with step h, h/2, h/4; the error is the largest
|value - prediction| over the records, and the slope of log(error) against log(h) is the fitted order.
GD's exact discrete identities are exact (rounding, whatever the step): their flow's prediction (GF) is the
one with an order. Sec. 8: "under GD the laws of GF hold up to O(eta) over a fixed physical time".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from .helpers import column, net_spec, run, slope

TOY = {"potential": {"kind": "sphere", "dim": 3},
       "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]}, "dtype": "float64"}
T = 2.0  # physical time of every run


def toy(kind: str, h: float, **dyn) -> dict:
    """The rotation toy of Sec. 6.1 under ``kind`` with step h in physical time (eta = h^2 for ND and NAG)."""
    lr = h if kind == "gd" else h * h
    return TOY | {"dynamics": {"kind": kind, "lr": lr, **dyn}, "steps": round(T / h), "record_every": 1}


def net(kind: str, h: float) -> dict:
    """A small ReLU network (Fig. 1's law on a 6-8-8-3 net) with step h in physical time."""
    lr = h if kind == "gd" else h * h
    dyn = {"kind": kind, "lr": lr} | ({"t0": 0.5} if kind == "nag" else {})
    return net_spec([6, 8, 8, 3], dynamics=dyn, steps=round(T / h), record_every=1, model={"init_gain": 1.5})


def error(records: list[dict], value: str, pred: str) -> float:
    return float(np.max(np.abs(column(records, value) - column(records, pred))))


def flow_error(law_id: str) -> Callable:
    """GD: the distance from gradient flow's prediction (the exact discrete one is the verdict's)."""
    return lambda records: error(records, law_id, law_id + ":pred")


def energy_flow_error(records: list[dict]) -> float:
    """NAG: eq. 35 integrated along the run, E(t0) - int (3/s)|w'|^2 ds (trapezoid over every step)."""
    t, E, vsq = column(records, "t"), column(records, "energy"), 2 * (column(records, "energy") - column(records, "loss"))
    integral = np.concatenate([[0.0], np.cumsum(0.5 * np.diff(t) * (3 / t[1:] * vsq[1:] + 3 / t[:-1] * vsq[:-1]))])
    return float(np.max(np.abs(E - (E[0] - integral))))


CASES = [
    # (law, dynamics, spec factory, error, expected order, base step)
    ("energy", "nag (its discrete balance)", lambda h: toy("nag", h, t0=1.0), lambda r: error(r, "energy", "energy:pred"), 2, 0.02),
    ("energy", "nag (eq. 35 along the run)", lambda h: toy("nag", h, t0=1.0), energy_flow_error, 1, 0.02),
    ("energy", "nd (conserved)", lambda h: toy("nd", h), lambda r: error(r, "energy", "energy:pred"), 2, 0.02),
    ("angular_momentum", "nag (t^-3)", lambda h: toy("nag", h, t0=1.0),
     lambda r: error(r, "angular_momentum", "angular_momentum:pred"), 1, 0.02),
    ("balance", "gd (gradient flow's constant)", lambda h: net("gd", h), flow_error("balance/h1"), 1, 0.04),
    ("balance", "nd (residual law integrated)", lambda h: net("nd", h), lambda r: error(r, "balance/h1", "balance/h1:pred"), 2, 0.04),
    ("balance", "nag (residual law integrated)", lambda h: net("nag", h), lambda r: error(r, "balance/h1", "balance/h1:pred"), 1, 0.04),
]


@pytest.mark.parametrize(("law", "dynamics", "make", "err", "order", "h"), CASES, ids=[f"{c[0]}-{c[1].split()[0]}-{i}" for i, c in enumerate(CASES)])
def test_prediction_error_shrinks_at_the_schemes_order(law, dynamics, make, err, order, h):
    steps = [h, h / 2, h / 4]
    errors = []
    for s in steps:
        records, summary, _ = run(make(s))
        errors.append(err(records))
    fitted = slope(steps, errors)
    assert fitted == pytest.approx(order, abs=0.3), f"{law} under {dynamics}: errors {errors}, fitted order {fitted:.2f}"


def test_gd_exact_discrete_balance_is_exact_at_every_step_size():
    """GD's step-by-step identity (:pred_discrete) has no order: it holds to rounding whatever the step."""
    for h in (0.04, 0.02):
        records, summary, _ = run(net("gd", h))
        Q = column(records, "balance/h1")
        assert error(records, "balance/h1", "balance/h1:pred_discrete") < 1e-10 * max(1.0, np.max(np.abs(Q)))
        assert summary["balance/h1"].verdict == "holds"


def test_nag_energy_prediction_stays_physical_where_eq_35_along_the_run_does_not():
    """toy-nag (t0 = 0.5): eq. 35 integrated along NAG's run went below 0 (-0.029) while E stayed positive;
    the scheme's own balance follows E to a few 1e-6 of its fall and ends where E ends."""
    spec = TOY | {"dynamics": {"kind": "nag", "lr": 1e-4, "t0": 0.5}, "steps": 3000, "record_every": 3}
    records, summary, _ = run(spec)
    E, pred = column(records, "energy"), column(records, "energy:pred")
    assert energy_flow_error(records) > 0.01 * (E[0] - E[-1])  # the flow's integral: O(sqrt eta) off
    assert np.max(np.abs(E - pred)) < 1e-4 * (E[0] - E[-1])
    assert pred.min() > -1e-4 * E[0]
    assert summary["energy"].verdict == "holds"

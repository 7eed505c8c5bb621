"""noether.scaling: a sweep's error per run over a common window, the log-log fit, and GD's first order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import noether
from noether.scaling import expected_order, fit_loglog, flatten, numeric_value, swept_paths, window_error
from noether.sweep import expand


def test_fit_recovers_a_power_law_and_its_prefactor():
    x = [0.1, 0.05, 0.025, 0.0125]
    fit = fit_loglog(x, [3.0 * v ** 1.5 for v in x])
    assert fit.slope == pytest.approx(1.5, abs=1e-9)
    assert fit.at(0.2) == pytest.approx(3.0 * 0.2 ** 1.5, rel=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.n == 4


def test_fit_skips_points_a_log_axis_cannot_draw_and_refuses_a_single_x():
    fit = fit_loglog([1.0, 2.0, 4.0, 8.0], [1.0, 0.0, 16.0, float("nan")])
    assert fit.n == 2 and fit.slope == pytest.approx(2.0)
    assert fit_loglog([2.0, 2.0], [1.0, 3.0]) is None
    assert fit_loglog([1.0], [1.0]) is None


def test_window_error_looks_only_up_to_the_common_time():
    t = [0.0, 1.0, 2.0, 3.0]
    assert window_error(t, [1.0, 1.1, 1.3, 9.0], [1.0] * 4, t_end=2.0) == pytest.approx(0.3)
    assert window_error(t, [float("nan")] * 4, [1.0] * 4, t_end=3.0) is None


def test_swept_paths_are_the_fields_that_differ():
    base = {"model": {"widths": [64, 12, 12, 10]}, "data": {"kind": "digits", "samples": 60},
            "dynamics": {"kind": "gd", "lr": 0.1}, "steps": 5}
    specs = [s.model_dump(mode="json") for _, s in expand(base, {"dynamics.lr": [0.1, 0.05], "seed": [0, 1]})]
    assert swept_paths(specs) == ["dynamics.lr", "seed"]
    assert flatten({"a": {"b": 1, "c": [1, 2]}}) == {"a.b": 1, "a.c": [1, 2]}
    assert numeric_value([64, 12, 40, 10]) == 40.0 and numeric_value(True) is None and numeric_value(0.5) == 0.5


def test_expected_orders_name_the_paper():
    gd = expected_order("balance", "gd", "dynamics.lr")
    assert gd.slope == 1.0 and "Euler" in gd.reason
    assert expected_order("balance", "nd", "dynamics.lr").slope is None
    assert expected_order("residual", "gd", "dynamics.lr").slope is None


def test_gd_balance_error_against_the_flow_constant_is_first_order_in_eta_over_a_common_window():
    """The physics the sweep page draws: a GD learning-rate sweep of a ReLU net with a FIXED number of steps
    (each run covers a different time k eta); over the common window [0, T_min] the distance of every
    balance from gradient flow's constant falls as eta^1. Over each run's own window it would not (the
    longest runs are the ones with the largest eta)."""
    base = {"model": {"widths": [64, 16, 16, 10], "activation": "relu", "bias": False},
            "data": {"kind": "digits", "samples": 120}, "loss": "nll", "dynamics": {"kind": "gd", "lr": 0.1},
            "steps": 400, "record_every": 1, "dtype": "float64", "seed": 0}
    lrs = [0.1, 0.05, 0.025, 0.0125]
    runs = {}
    for _label, spec in expand(base, {"dynamics.lr": lrs}):
        records = list(noether.simulate(spec))
        runs[spec.dynamics.lr] = records
    t_end = min(r[-1]["t"] for r in runs.values())
    for law in ("balance/h1", "balance/h2", "balance_sum"):
        common = [window_error([r["t"] for r in runs[lr]], [r[law] for r in runs[lr]],
                               [r[f"{law}:pred"] for r in runs[lr]], t_end) for lr in lrs]
        own = [window_error([r["t"] for r in runs[lr]], [r[law] for r in runs[lr]],
                            [r[f"{law}:pred"] for r in runs[lr]], math.inf) for lr in lrs]
        assert fit_loglog(lrs, common).slope == pytest.approx(1.0, abs=0.1), (law, common)
        assert abs(fit_loglog(lrs, own).slope - 1.0) > abs(fit_loglog(lrs, common).slope - 1.0), (law, own)
        assert np.all(np.diff(common) < 0)


def _lr_sweep(base: dict, lrs: list[float]) -> list[dict]:
    runs = []
    for _label, spec in expand(base, {"dynamics.lr": lrs}):
        records = list(noether.simulate(spec))
        cols = {k: [r.get(k) for r in records] for k in records[-1]}
        runs.append({"id": f"lr-{spec.dynamics.lr}", "spec": spec.model_dump(mode="json"), "series": cols})
    return runs


TRANSLATION = {"id": "translation", "name": "|s|", "family": "translation"}
CE_NET = {"model": {"widths": [64, 12, 10], "activation": "relu", "bias": True},
          "data": {"kind": "digits", "samples": 100}, "loss": "nll", "steps": 200, "record_every": 1,
          "dtype": "float64", "seed": 0}


def test_translation_under_gd_with_weight_decay_is_first_order_in_eta_from_the_flows_decay():
    """GD's s_{k+1} = (1 - eta lambda) s_k against the flow's s(0) exp(-lambda t): first order in eta."""
    from noether.scaling import analyse_sweep

    base = {**CE_NET, "dynamics": {"kind": "gd", "lr": 0.1, "weight_decay": 0.05}}
    out = analyse_sweep(_lr_sweep(base, [0.1, 0.05, 0.025]), [TRANSLATION])
    (fit,) = out["fits"]
    assert fit["expected"] == 1.0 and not fit["rounding"]
    assert fit["fit"]["slope"] == pytest.approx(1.0, abs=0.1), fit


def test_translation_without_weight_decay_is_rounding_and_gets_no_fitted_slope():
    """A cold try saw 'slope -1.38' fitted through rounding noise: s does not move without weight decay."""
    from noether.scaling import analyse_sweep

    base = {**CE_NET, "dynamics": {"kind": "gd", "lr": 0.1}}
    out = analyse_sweep(_lr_sweep(base, [0.1, 0.05, 0.025]), [TRANSLATION])
    (fit,) = out["fits"]
    assert fit["rounding"] and fit["fit"] is None and fit["expected"] is None
    assert max(p["error"] for p in fit["points"]) < 1e-10  # what is left is rounding indeed

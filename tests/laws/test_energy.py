"""Time translation (Sec. 5, 7): energy under ND, eq. 35 under NAGF, the ND bound (eq. 32-34), eq. 49, the NTK."""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import column, net_spec, preset_spec, run


def test_nd_conserves_energy_while_the_loss_oscillates():
    records, summary, _ = run(preset_spec("toy-nd", steps=1500, record_every=5))
    E, loss = column(records, "energy"), column(records, "loss")
    assert np.ptp(loss) > 0.1
    assert np.ptp(E) < 1e-3 * np.ptp(loss)
    assert summary["energy"].verdict == "holds"


def test_nag_energy_follows_eq_35():
    """dE/dt = -(3/t) |w'|^2: E(t) = E(t0) - int (3/s)|w'|^2 ds, integrated along the run, tracks E as it falls."""
    records, summary, _ = run(preset_spec("toy-nag", steps=3000, record_every=10))
    E, pred = column(records, "energy"), column(records, "energy:pred")
    assert E[-1] < 0.5 * E[0]  # the energy really decreases ...
    assert np.max(np.abs(E - pred)) < 0.02 * (E[0] - E[-1])  # ... as eq. 35 says
    assert summary["energy"].verdict == "holds"
    assert "eq. 35" in summary["energy"].prediction


def test_general_flow_energy_balance():
    """k2 = 1, k1 = 3/t written as a general flow: the same eq. 35."""
    spec = {"potential": {"kind": "sphere", "dim": 3},
            "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
            "dynamics": {"kind": "general", "k1": "3/t", "k2": "1", "dt": 0.002, "t0": 0.5},
            "steps": 2000, "record_every": 20, "dtype": "float64"}
    records, summary, _ = run(spec)
    E, pred = column(records, "energy"), column(records, "energy:pred")
    assert E[-1] < 0.5 * E[0]
    assert np.max(np.abs(E - pred)) < 0.05 * (E[0] - E[-1])
    assert summary["energy"].verdict == "holds"


def test_leapfrog_energy_error_is_second_order():
    errors = []
    dts = [0.02, 0.01, 0.005]
    for dt in dts:
        spec = {"potential": {"kind": "sphere", "dim": 3},
                "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
                "dynamics": {"kind": "leapfrog", "dt": dt}, "steps": round(2.0 / dt), "dtype": "float64"}
        records, summary, _ = run(spec)
        errors.append(summary["energy"].max_abs_drift)
        assert summary["energy"].verdict == "holds"
    assert np.polyfit(np.log(dts), np.log(errors), 1)[0] == pytest.approx(2.0, abs=0.2)


def test_nd_bound_and_velocity_bound_hold_from_rest():
    """eq. 32-34: S(t) - S(0) <= 2 (L(w(0)) - L*) t^2 for ReLU; eq. 49: mean |w_i'| <= sqrt(2 L(w(0)) / m)."""
    spec = net_spec([5, 8, 8, 3], dynamics={"kind": "nd", "lr": 0.01}, steps=200, record_every=5, model={"init_gain": 2.0})
    records, summary, _ = run(spec)
    t, loss0 = column(records, "t"), records[0]["loss"]
    S, bound = column(records, "nd_bound"), column(records, "nd_bound:pred")
    assert bound == pytest.approx(2 * loss0 * t**2)
    assert np.all(S <= bound) and np.max(np.abs(S)) > 0
    speed, vbound = column(records, "velocity_bound"), column(records, "velocity_bound:pred")
    assert np.all(speed <= vbound) and speed[-1] > 0.05 * vbound[-1]
    assert summary["nd_bound"].verdict == "holds" and summary["velocity_bound"].verdict == "holds"


def test_bounds_need_a_start_at_rest():
    spec = net_spec([5, 8, 8, 3], dynamics={"kind": "nd", "lr": 0.01}, steps=2, initial={"velocity_scale": 0.5})
    _, summary, _ = run(spec)
    for law_id in ("nd_bound", "velocity_bound", "ntk_drift"):
        assert summary[law_id].verdict == "not applicable"
        assert "rest" in summary[law_id].reason


def test_gradient_flow_has_no_energy_law():
    _, summary, _ = run(net_spec([5, 8, 3], steps=2))
    assert summary["energy"].verdict == "not applicable" and "first order" in summary["energy"].reason


def test_ntk_kernel_drift_shrinks_as_the_width_grows():
    """Sec. 7: from rest the weights move less in wider networks (eq. 49), and so does the kernel."""
    drifts = []
    for width in (16, 256):
        spec = net_spec([6, width, width, 3], dynamics={"kind": "nd", "lr": 0.01}, steps=150, record_every=15,
                        loss="mse", dtype="float32")
        records, summary, _ = run(spec)
        assert summary["velocity_bound"].verdict == "holds"
        assert summary["ntk_drift"].verdict == "not applicable"  # nothing per run to follow; the bound's verdict says
        assert "the velocity bound holds" in summary["ntk_drift"].reason
        drifts.append(records[-1]["ntk_drift"])
        assert records[0]["ntk_drift"] == 0.0
    assert 0 < drifts[1] < 0.5 * drifts[0]


@pytest.mark.parametrize(("dynamics", "reason"), [
    ({"kind": "gd", "lr": 0.05}, "gradient flow is first order (no kinetic energy; the loss only decreases)"),
    ({"kind": "adam", "lr": 0.01}, "Adam has no Lagrangian"),
])
def test_without_energy_the_reason_says_why_once(dynamics, reason):
    """The summary's verdict already reads 'not applicable'; a reason repeating it read 'not applicable: not ...'."""
    _, summary, _ = run(net_spec([4, 3, 2], dynamics=dynamics, steps=2))
    assert summary["energy"].verdict == "not applicable" and summary["energy"].reason == reason
    for law in summary.values():
        assert not (law.reason or "").lower().startswith("not applicable"), (law.id, law.reason)

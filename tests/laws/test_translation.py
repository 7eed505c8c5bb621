"""Translation of the last layer (softmax output, Kunin et al. 2021): GD's exact identity, decay, drift in eta."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from noether.problem import build_problem
from noether.spec import parse_spec

from .helpers import column, net_spec, run, slope


def _sums(params, K_W, K_b):
    """s = (sum over classes of W_K's columns, sum of b_K) in float64."""
    return torch.cat([params[K_W].double().sum(0), params[K_b].double().sum().reshape(1)])


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gd_step_multiplies_the_class_sums_by_exactly_one_minus_eta_lambda(weight_decay):
    """s_{k+1} = (1 - eta lambda) s_k to 1e-12 in float64, while the class rows themselves move."""
    eta = 0.2
    spec = parse_spec(net_spec([5, 7, 3], bias=True, dynamics={"kind": "gd", "lr": eta, "weight_decay": weight_decay},
                               model={"init_gain": 3.0}))
    p = build_problem(spec)
    iW, ib = p.structure.W(2), p.structure.b(2)
    params = p.params
    moved = 0.0
    for _ in range(30):
        _, g = p.loss_and_grad(params)
        g = [gi + weight_decay * w for gi, w in zip(g, params, strict=True)]
        new = [w - eta * gi for w, gi in zip(params, g, strict=True)]
        s, s_new = _sums(params, iW, ib), _sums(new, iW, ib)
        assert float((s_new - (1 - eta * weight_decay) * s).abs().max()) <= 1e-12 * float(params[iW].double().norm())
        moved = max(moved, float((new[iW] - params[iW]).double().norm()))
        params = new
    assert moved > 1e-3  # the rows move: the identity is not 0 = 0


def test_runner_judges_gd_by_the_exact_identity_and_shows_the_sums_per_neuron():
    records, summary, sim = run(net_spec([5, 8, 4], bias=True, dynamics={"kind": "gd", "lr": 0.2}, steps=200))
    value, exact, gf = (column(records, "translation" + c) for c in ("", ":pred_discrete", ":pred"))
    assert np.max(np.abs(value - exact)) < 1e-12 * value[0]  # without weight decay s never moves under GD
    assert np.allclose(gf, value[0])
    assert summary["translation"].verdict == "holds" and summary["translation"].tolerance == 1e-9
    assert len(records[-1]["translation:neurons"]) == 8  # one sum per neuron of layer K-1
    law = next(law for law in sim.laws if law.id == "translation")
    assert law.relative_drift() < 1e-10


def test_weight_decay_makes_the_sums_decay_as_exp_minus_lambda_t():
    lam = 0.5
    records, summary, _ = run(net_spec([5, 8, 3], bias=True, dynamics={"kind": "gd", "lr": 0.01, "weight_decay": lam},
                                       steps=300))
    t, s = column(records, "t"), column(records, "translation")
    assert abs(s[-1] / s[0] - math.exp(-lam * t[-1])) < 1e-3  # |s|^2 decays as exp(-2 lambda t)
    assert s[-1] / s[0] < 0.9
    assert np.max(np.abs(s - column(records, "translation:pred_discrete"))) < 1e-12 * s[0]
    assert summary["translation"].verdict == "holds"


def test_gd_drift_from_the_decaying_flow_shrinks_linearly_with_eta():
    """With weight decay, (1 - eta lambda)^(T/eta) against exp(-lambda T): error O(eta), fitted slope ~ 1."""
    T, lam = 2.0, 0.5
    etas = [0.04, 0.02, 0.01, 0.005]
    errors = []
    for eta in etas:
        steps = round(T / eta)
        records, _, _ = run(net_spec([5, 8, 3], bias=True, dynamics={"kind": "gd", "lr": eta, "weight_decay": lam},
                                     steps=steps, record_every=steps))
        errors.append(abs(column(records, "translation")[-1] - column(records, "translation:pred")[-1]))
    assert min(errors) > 0
    assert abs(slope(etas, errors) - 1.0) < 0.1


def test_sgd_keeps_the_sums_exactly_too():
    spec = net_spec([5, 8, 3], bias=True, dynamics={"kind": "sgd", "lr": 0.1, "batch_size": 8}, steps=100)
    records, summary, _ = run(spec)
    s = column(records, "translation")
    assert np.max(np.abs(s - s[0])) < 1e-12 * s[0]
    assert summary["translation"].verdict == "holds"


def test_nd_from_rest_keeps_the_sums_and_adam_predicts_nothing():
    records, summary, _ = run(net_spec([5, 8, 3], bias=True, dynamics={"kind": "nd", "lr": 0.01}, steps=100))
    s = column(records, "translation")
    assert np.max(np.abs(s - s[0])) < 1e-10 * s[0] and summary["translation"].verdict == "holds"
    records, summary, _ = run(net_spec([5, 8, 3], bias=True, dynamics={"kind": "adam", "lr": 0.05}, steps=50))
    s = column(records, "translation")
    assert np.max(np.abs(s - s[0])) > 1e-3 * s[0]  # Adam moves the sums
    assert summary["translation"].verdict == "not applicable" and "Adam" in summary["translation"].reason


def test_mse_has_no_translation_law_and_says_why():
    _, summary, sim = run(net_spec([5, 8, 3], loss="mse", steps=2))
    assert "translation" not in {law.id for law in sim.laws}
    assert summary["translation"].verdict == "not applicable" and "'nll'" in summary["translation"].reason


def test_the_translation_preset_shows_the_sums_decaying_with_weight_decay():
    from noether import presets

    spec = presets.get("translation-ce").spec
    records, summary, _ = run(spec.with_overrides(steps=300).model_dump(mode="json"))
    t, s, gf = column(records, "t"), column(records, "translation"), column(records, "translation:pred")
    lam = spec.dynamics.weight_decay
    assert abs(s[-1] / s[0] - math.exp(-lam * t[-1])) < 1e-3 and s[-1] < 0.9 * s[0]
    assert np.max(np.abs(s - gf)) < 1e-3 * s[0]
    assert summary["translation"].verdict == "holds"

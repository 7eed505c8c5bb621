"""Rescaling laws (Tables 2-3, Sec. 4.2, 4.4): GD's exact identity, drift against eta, chains, terms that matter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noether.laws.homogeneity import layer_terms
from noether.laws.quadratic import QuadraticLaw, formula
from noether.laws.workspace import Workspace
from noether.problem import build_problem
from noether.spec import parse_spec

from .helpers import column, net_spec, run, slope


def _Q(params, terms):
    return sum(t.coef * float(params[t.index].double().square().sum()) for t in terms)


def _size(params, terms):
    return sum(abs(t.coef) * float(params[t.index].double().square().sum()) for t in terms)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gd_step_changes_balance_by_exactly_eta_squared_gradient_terms(weight_decay):
    """Q_{k+1} - Q_k = -2 eta lambda Q_k + eta^2 (|g_W1|^2 + |g_b1|^2 - |g_W2|^2) in float64, step by step."""
    eta = 0.2
    spec = parse_spec(net_spec([5, 7, 6, 3], bias=True, dynamics={"kind": "gd", "lr": eta, "weight_decay": weight_decay},
                               model={"init_gain": 3.0}))
    p = build_problem(spec)
    terms = layer_terms(p.structure, 1)
    params = p.params
    changes = []
    for _ in range(30):
        _, g = p.loss_and_grad(params)
        g = [gi + weight_decay * w for gi, w in zip(g, params, strict=True)]
        new = [w - eta * gi for w, gi in zip(params, g, strict=True)]
        predicted = -2 * eta * weight_decay * _Q(params, terms) + eta**2 * _Q(g, terms)
        change = _Q(new, terms) - _Q(params, terms)
        assert abs(change - predicted) <= 1e-12 * _size(params, terms)
        changes.append(abs(change))
        params = new
    assert max(changes) > 1e-8 * _size(params, terms)  # the identity is not 0 = 0, rounding is 1e-16


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_pred_discrete_column_explains_gd_drift_to_float_precision(weight_decay):
    spec = net_spec([5, 7, 6, 3], bias=True, dynamics={"kind": "gd", "lr": 0.2, "weight_decay": weight_decay}, steps=200)
    records, summary, sim = run(spec)
    for law_id in ("balance/h1", "balance/h2", "balance_sum"):
        value, exact = column(records, law_id), column(records, law_id + ":pred_discrete")
        gf = column(records, law_id + ":pred")
        law = next(law for law in sim.laws if law.id == law_id)
        assert law.discrete_relative_drift() < 1e-10
        assert law.flow_relative_drift() > 1e-4  # GF's drift is GD's O(eta) discretisation, far above rounding
        assert np.max(np.abs(value - exact)) < 1e-6 * np.max(np.abs(value - gf))
        assert summary[law_id].verdict == "holds"
        assert summary[law_id].tolerance == 1e-9
        assert "exact discrete prediction" in summary[law_id].reason


def test_weight_decay_makes_balance_decay_as_exp_minus_two_lambda_t():
    lam = 0.5
    records, summary, _ = run(net_spec([5, 8, 8, 3], dynamics={"kind": "gd", "lr": 0.01, "weight_decay": lam}, steps=300))
    t, q = column(records, "t"), column(records, "balance/h1")
    assert abs(q[-1] / q[0] - math.exp(-2 * lam * t[-1])) < 0.02
    assert q[-1] / q[0] < 0.8  # it really decays
    assert summary["balance/h1"].verdict == "holds"


def test_gd_drift_over_fixed_time_shrinks_linearly_with_eta():
    """Sec. 8: over physical time T the drift from GF's conservation is O(eta): fitted log-log slope ~ 1."""
    T = 2.0
    etas = [0.04, 0.02, 0.01, 0.005]
    drifts = []
    for eta in etas:
        spec = net_spec([5, 8, 8, 3], dynamics={"kind": "gd", "lr": eta}, steps=round(T / eta), record_every=round(T / eta))
        records, summary, _ = run(spec)
        assert records[-1]["t"] == pytest.approx(T)
        drifts.append(abs(records[-1]["balance/h1"] - records[0]["balance/h1"]))
    assert slope(etas, drifts) == pytest.approx(1.0, abs=0.1)


def test_p_power_k_chain_relates_w2_and_w4_with_factor_four():
    """Fig. 2: sigma_2 = sigma_3 = RePU(2): |W_2(0)|^2 - |W_2(t)|^2 = 4 (|W_4(0)|^2 - |W_4(t)|^2) under GF."""
    spec = net_spec([5, 8, 8, 8, 8, 3], ["relu", "repu(2)", "repu(2)", "relu"], dynamics={"kind": "rk4", "flow": "gf", "dt": 0.02},
                    steps=500, record_every=50, model={"init_gain": 3.0})
    records, summary, _ = run(spec)
    assert summary["chain/h2-h4"].verdict == "holds"
    lhs, rhs = column(records, "chain/h2-h4"), column(records, "chain/h2-h4:pred")
    assert abs(lhs[-1]) > 0.05  # W_2 really moved
    assert abs(lhs[-1] - rhs[-1]) < 1e-4 * abs(lhs[-1])
    assert abs(lhs[-1] - rhs[-1] / 2) > 0.3 * abs(lhs[-1])  # a factor p = 2 instead of p^k = 4 is wrong
    assert "chain/h1-h3" not in summary and "chain/h3-h5" not in summary


def _without(sim, h, prefix):
    """balance/h{h} with the terms whose label starts with ``prefix`` dropped."""
    terms = [t for t in layer_terms(sim.context.structure, h) if not t.label.startswith(prefix)]
    return [QuadraticLaw(sim.context, Workspace(), terms, id=f"without_{prefix}", family="test", name=formula(terms),
                         symmetry="-", prediction="-")]


@pytest.mark.parametrize(
    ("activation", "bias", "dropped"),
    [("relu", True, "b_"), ("swish(1, trainable)", False, "beta_"), ("swish(1, trainable)", True, "beta_")],
)
def test_bias_and_swish_beta_terms_are_needed(activation, bias, dropped):
    """Table 3 and Sec. 4.3: with the |b_h|^2 or -|beta_h|^2 term the law holds, without it it breaks."""
    spec = net_spec([5, 8, 6, 3], activation, bias=bias, dynamics={"kind": "gd", "lr": 0.02}, steps=300, record_every=5)
    _, summary, _ = run(spec, extra_laws=lambda sim: _without(sim, 1, dropped))
    assert summary["balance/h1"].verdict == "holds", summary["balance/h1"].reason
    assert summary["balance/h2"].verdict == "holds"
    assert summary[f"without_{dropped}"].verdict == "broken"
    assert summary[f"without_{dropped}"].max_rel_drift > 10 * summary["balance/h1"].max_rel_drift


def test_per_neuron_values_sum_to_the_layer_law():
    records, _, _ = run(net_spec([5, 7, 6, 3], "leaky_relu(0.1)", bias=True, steps=5))
    for r in records:
        assert len(r["balance/h1:neurons"]) == 7 and len(r["balance/h2:neurons"]) == 6
        assert sum(r["balance/h2:neurons"]) == pytest.approx(r["balance/h2"], rel=1e-12)


def test_p_homogeneous_balance_uses_factor_p():
    spec = net_spec([5, 8, 6, 3], "power(3)", dynamics={"kind": "gd", "lr": 0.005}, steps=200, record_every=10)
    _, summary, sim = run(spec, extra_laws=lambda sim: [
        QuadraticLaw(sim.context, Workspace(), [t if t.coef > 0 else t.__class__(t.index, -1.0, t.label)
                                                 for t in layer_terms(sim.context.structure, 1)],
                     id="factor_one", family="test", name="|W_1|^2 - |W_2|^2", symmetry="-", prediction="-")])
    assert summary["balance/h1"].name == "|W_1|^2 - 3 |W_2|^2"
    assert summary["balance/h1"].verdict == "holds"
    assert summary["factor_one"].verdict == "broken"


@pytest.mark.parametrize("activation", ["relu", "repu(2)", "swish(1, trainable)", "linear(2)"])
def test_symmetry_residual_vanishes_at_every_step(activation):
    records, summary, _ = run(net_spec([5, 8, 6, 3], activation, bias=True, steps=20))
    assert np.max(np.abs(column(records, "residual/h1"))) < 1e-12
    assert summary["residual/h2"].verdict == "holds"


@pytest.mark.parametrize(
    ("dynamics", "steps"),
    [
        ({"kind": "nd", "lr": 0.01}, 300),
        ({"kind": "nag", "lr": 0.01}, 300),
        ({"kind": "momentum", "lr": 0.01, "beta": 0.9}, 300),
        ({"kind": "momentum", "lr": 0.01, "beta": 0.9, "weight_decay": 0.2}, 300),
        ({"kind": "general", "k1": "1 + 0.5 * t", "k2": "1", "dt": 0.05, "t0": 0.1}, 300),
        ({"kind": "rk4", "flow": "nd", "dt": 0.1}, 100),
    ],
)
def test_second_order_residual_law_predicts_the_balance(dynamics, steps):
    """Table 2, bottom rows: k2 (P' - K) + k1 P + lambda Q = 0 integrated along the run predicts Q(t), which moves."""
    spec = net_spec([5, 8, 8, 3], bias=True, dynamics=dynamics, steps=steps, model={"init_gain": 2.0})
    records, summary, _ = run(spec)
    for law_id in ("balance/h1", "balance/h2", "balance_sum"):
        s = summary[law_id]
        assert s.verdict == "holds", (law_id, s.reason)
        q = column(records, law_id)
        assert np.max(np.abs(q - q[0])) > 10 * s.max_abs_drift  # not conserved, and the prediction explains it


def test_not_homogeneous_activations_are_reported_not_applicable():
    spec = net_spec([5, 8, 8, 8, 3], ["gelu", "swish(1, fixed)", "tanh"], steps=3)
    _, summary, _ = run(spec)
    assert summary["balance/h1"].verdict == "not applicable"
    assert "GELU is not homogeneous" in summary["balance/h1"].reason
    assert "fixed beta" in summary["balance/h2"].reason and "trainable" in summary["balance/h2"].reason
    assert "tanh" in summary["balance/h3"].reason
    assert summary["balance_sum"].verdict == "not applicable"
    assert not any(key.startswith("residual/") for key in summary)


def test_adam_laws_are_measured_but_have_no_prediction():
    records, summary, _ = run(net_spec([5, 8, 6, 3], dynamics={"kind": "adam", "lr": 0.01}, steps=50))
    s = summary["balance/h1"]
    assert s.verdict == "not applicable" and "Adam" in s.reason
    assert s.initial is not None and s.final != s.initial  # measured and shown
    assert "balance/h1:pred" not in records[-1]
    assert summary["residual/h1"].verdict == "holds"  # the loss keeps its symmetry; Adam just does not use it


def test_sgd_keeps_the_exact_identity_with_minibatch_gradients():
    spec = net_spec([5, 8, 6, 3], bias=True, dynamics={"kind": "sgd", "lr": 0.1, "batch_size": 8}, steps=100)
    _, summary, sim = run(spec)
    law = next(law for law in sim.laws if law.id == "balance/h1")
    assert law.discrete_relative_drift() < 1e-10
    assert summary["balance/h1"].verdict == "holds"


def test_float32_exact_identity_is_judged_at_float32_precision():
    spec = net_spec([5, 7, 6, 3], bias=True, dynamics={"kind": "gd", "lr": 0.2}, steps=100, dtype="float32")
    _, summary, sim = run(spec)
    law = next(law for law in sim.laws if law.id == "balance/h1")
    assert 1e-10 < law.discrete_relative_drift() < 1e-3
    assert summary["residual/h1"].tolerance == 1e-3
    assert summary["residual/h1"].max_rel_drift < 1e-3

"""Scale invariance before a BatchNorm (Kunin et al. 2021): GD's exact growth, decay, drift in eta, the spec."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noether.problem import build_problem
from noether.spec import SpecError, parse_spec

from .helpers import column, net_spec, run, slope

BN = {"batch_norm": [True, False]}  # BatchNorm after hidden layer 1 only


def _sq(params, i):
    return float(params[i].double().square().sum())


def test_batch_norm_makes_the_loss_blind_to_the_scale_of_each_neuron():
    p = build_problem(parse_spec(net_spec([5, 7, 6, 3], bias=True, model=BN)))
    iW, ib = p.structure.W(1), p.structure.b(1)
    params = [w.clone() for w in p.params]
    scaled = [w.clone() for w in p.params]
    c = 3.0
    scaled[iW][2] *= c  # neuron 2 of layer 1, weights and bias together
    scaled[ib][2] *= c
    assert abs(float(p.loss(scaled)) - float(p.loss(params))) < 1e-12
    scaled[p.structure.W(2)][:, 2] *= c  # the balance's symmetry is gone: rescaling W_2 alone changes the loss
    assert abs(float(p.loss(scaled)) - float(p.loss(params))) > 1e-6


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_gd_step_grows_the_norm_by_exactly_eta_squared_gradient(weight_decay):
    """Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 |G|^2, Q = |W_1|^2 + |b_1|^2, to 1e-12 in float64."""
    eta = 0.2
    spec = parse_spec(net_spec([5, 7, 6, 3], bias=True, model=BN,
                               dynamics={"kind": "gd", "lr": eta, "weight_decay": weight_decay}))
    p = build_problem(spec)
    iW, ib = p.structure.W(1), p.structure.b(1)
    params = p.params
    changes = []
    for _ in range(30):
        _, g = p.loss_and_grad(params)
        g = [gi + weight_decay * w for gi, w in zip(g, params, strict=True)]
        new = [w - eta * gi for w, gi in zip(params, g, strict=True)]
        Q, Qn = _sq(params, iW) + _sq(params, ib), _sq(new, iW) + _sq(new, ib)
        predicted = (1 - 2 * eta * weight_decay) * Q + eta**2 * (_sq(g, iW) + _sq(g, ib))
        assert abs(Qn - predicted) <= 1e-12 * Q
        changes.append(abs(Qn - Q))
        params = new
    assert max(changes) > 1e-8  # the identity is not 0 = 0


def test_runner_judges_gd_by_the_exact_growth_and_drops_the_balance_of_the_bn_layer():
    records, summary, sim = run(net_spec([5, 8, 8, 3], bias=True, model=BN, dynamics={"kind": "gd", "lr": 0.2},
                                         steps=200))
    value, exact, gf = (column(records, "scale/h1" + c) for c in ("", ":pred_discrete", ":pred"))
    assert np.all(np.diff(value) >= -1e-12 * value[0])  # without weight decay |W_1|^2 + |b_1|^2 only grows
    assert value[-1] - value[0] > 1e-4 * value[0]
    assert np.max(np.abs(value - exact)) < 1e-9 * (value[-1] - value[0])
    assert np.allclose(gf, value[0])
    assert summary["scale/h1"].verdict == "holds" and summary["scale_residual/h1"].verdict == "holds"
    assert len(records[-1]["scale/h1:neurons"]) == 8
    assert summary["balance/h1"].verdict == "not applicable" and "BatchNorm" in summary["balance/h1"].reason
    assert summary["balance/h2"].verdict == "holds"  # layer 2 has no BatchNorm: its balance stays
    assert "scale/h2" not in summary


def test_weight_decay_makes_the_norm_decay_as_exp_minus_two_lambda_t():
    lam = 0.5
    records, summary, _ = run(net_spec([5, 8, 8, 3], bias=True, model=BN, steps=300,
                                       dynamics={"kind": "gd", "lr": 0.01, "weight_decay": lam}))
    t, q = column(records, "t"), column(records, "scale/h1")
    assert abs(q[-1] / q[0] - math.exp(-2 * lam * t[-1])) < 0.02
    assert q[-1] / q[0] < 0.8
    assert summary["scale/h1"].verdict == "holds"


def test_gd_drift_from_the_flows_constant_shrinks_linearly_with_eta():
    T = 2.0
    etas = [0.04, 0.02, 0.01, 0.005]
    drifts = []
    for eta in etas:
        steps = round(T / eta)
        records, _, _ = run(net_spec([5, 8, 8, 3], bias=True, model=BN, dynamics={"kind": "gd", "lr": eta},
                                     steps=steps, record_every=steps))
        drifts.append(column(records, "scale/h1")[-1] - column(records, "scale/h1:pred")[-1])
    assert min(drifts) > 0
    assert abs(slope(etas, drifts) - 1.0) < 0.1


def test_positive_eps_shows_the_law_without_a_verdict():
    _, summary, _ = run(net_spec([5, 8, 8, 3], model={**BN, "batch_norm_eps": 1e-5}, steps=20))
    assert summary["scale/h1"].verdict == "not applicable" and "eps" in summary["scale/h1"].reason


def test_bad_batch_norm_settings_are_refused_with_field_and_bound():
    with pytest.raises(SpecError, match="batch_norm must list one flag per hidden layer: 2 \\(got 1\\)"):
        parse_spec(net_spec([5, 8, 8, 3], model={"batch_norm": [True]}))
    with pytest.raises(SpecError, match="batch_norm_eps"):
        parse_spec(net_spec([5, 8, 8, 3], model={"batch_norm": True, "batch_norm_eps": 0.5}))
    with pytest.raises(SpecError, match="batch_size must be >= 2 with model.batch_norm"):
        parse_spec(net_spec([5, 8, 8, 3], model={"batch_norm": True}, dynamics={"kind": "sgd", "batch_size": 1}))


def test_the_batchnorm_preset_shows_the_norm_doubling_along_gds_prediction():
    from noether import presets

    spec = presets.get("batchnorm-scale").spec
    records, summary, _ = run(spec.model_dump(mode="json"))
    q, exact = column(records, "scale/h1"), column(records, "scale/h1:pred_discrete")
    assert q[-1] > 1.8 * q[0]  # gradient flow's constant is left far behind
    assert np.max(np.abs(q - exact)) < 1e-3 * (q[-1] - q[0])
    assert summary["scale/h1"].verdict == "holds" and summary["balance/h2"].verdict == "holds"


def test_discovery_refuses_batch_norm_with_the_reason_instead_of_finding_nothing():
    from noether.discovery import discover

    with pytest.raises(SpecError, match="model.batch_norm: discovery samples the gradient one sample at a time"):
        discover(net_spec([5, 8, 8, 3], model=BN, steps=5), {"verify": False})


def test_a_batch_norm_run_says_so_in_its_name_and_configuration():
    from noether.naming import configuration, describe

    spec = parse_spec(net_spec([5, 8, 8, 3], bias=True, model=BN))
    assert describe(spec).startswith("relu 5-8-8-3 +bias +batchnorm")
    assert ("batch norm", "after hidden layer 1, no affine parameters, eps 0") in configuration(spec)
    assert "batchnorm" not in describe(parse_spec(net_spec([5, 8, 8, 3])))

"""Linear layers (Table 4, eq. 41-43): the balance matrix W_h W_h^T + b_h b_h^T - W_{h+1}^T W_{h+1}."""

from __future__ import annotations

import numpy as np
import pytest

from .helpers import column, law_of, net_spec, run


def test_gradient_flow_keeps_the_balance_matrix_while_its_terms_move():
    spec = net_spec([5, 4, 4, 3], "linear", bias=True, dynamics={"kind": "rk4", "flow": "gf", "dt": 0.05}, steps=200,
                    record_every=10, model={"init_gain": 2.0})
    records, summary, sim = run(spec)
    for law_id in ("linear_balance/h1", "linear_balance/h2"):
        assert summary[law_id].verdict == "holds"
        law = law_of(sim, law_id)
        assert float(law._max_scale) > 0.1  # W_h W_h^T and W_{h+1}^T W_{h+1} moved
        assert np.max(column(records, law_id)) < 1e-6 * float(law._max_scale)  # |M(t) - M(0)|_F
        M = np.array(records[-1][law_id + ":matrix"])
        assert M.shape == (4, 4) and np.allclose(M, M.T)


def test_gd_follows_the_exact_discrete_matrix_identity():
    spec = net_spec([5, 4, 4, 3], "linear", bias=True, dynamics={"kind": "gd", "lr": 0.1}, steps=100, model={"init_gain": 2.0})
    records, summary, sim = run(spec)
    law = law_of(sim, "linear_balance/h1")
    assert law.discrete_relative_drift() < 1e-10
    assert law.flow_relative_drift() > 1e-4
    assert summary["linear_balance/h1"].verdict == "holds"


def test_nd_second_derivative_identity_eq_43_predicts_the_matrix():
    spec = net_spec([5, 4, 4, 3], "linear", dynamics={"kind": "nd", "lr": 0.01}, steps=300, record_every=5,
                    model={"init_gain": 2.0})
    records, summary, _ = run(spec)
    s = summary["linear_balance/h1"]
    assert s.verdict == "holds", s.reason
    assert np.max(column(records, "linear_balance/h1")) > 20 * s.max_abs_drift  # M moves, eq. 43 explains it


def test_relu_layers_have_no_balance_matrix():
    _, summary, _ = run(net_spec([5, 4, 4, 3], ["linear", "relu"], steps=2))
    assert "linear_balance/h1" in summary and "linear_balance/h2" not in summary


@pytest.mark.parametrize(("activation", "reason"), [
    ("swish", "no linear hidden layer (Swish has only the diagonal rescalings: see balance)"),
    (["relu", "repu(2)"], "no linear hidden layer (ReLU and RePU(2) have only the diagonal rescalings: see balance)"),
    ("tanh", "no linear hidden layer (tanh: GL(d_h) needs a linear activation)"),
])
def test_without_a_linear_layer_the_reason_names_the_networks_activation(activation, reason):
    _, summary, _ = run(net_spec([4, 3, 3, 2], activation, steps=2))
    assert summary["linear_balance"].verdict == "not applicable" and summary["linear_balance"].reason == reason

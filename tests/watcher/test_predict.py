"""Each optimiser's predictions against the measurement (docs/laws.md, "Watching your own model").

For every family (scale, rescale, linear, translation) under SGD with weight decay and under SGD with
momentum and weight decay, trained full batch in float64 over a fixed physical time t = sum eta:
the exact discrete identity holds to rounding, the error of the gradient-flow prediction falls as eta^1
and the error of the modified flow as eta^2 when eta halves (fitted log-log slopes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import noether

FAMILIES = ("scale", "rescale", "linear", "translation")


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4, eps=1e-12), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(16, 8), nn.Linear(8, 4),
    ).double()


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 1, 6, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (64,), generator=g)


def errors(eta: float, momentum: float, weight_decay: float, t_final: float) -> dict[str, tuple[float, float, float]]:
    """Per law: |value - prediction| at t_final for (gradient flow, modified flow, exact discrete)."""
    net, (x, y), loss_fn = model(), data(), nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=eta, momentum=momentum, weight_decay=weight_decay)
    mon = noether.watch(net, opt, loss_fn, out=False, every=10_000)
    for _ in range(round(t_final / eta)):
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mon.close()
    r = mon.records[-1]
    out = {}
    for law in mon.laws:
        i = law.id
        if law.family == "linear":
            out[i] = (r[i + ":error_gf"], r[i + ":error_modified"], r[i + ":error_discrete"])
        else:
            out[i] = tuple(abs(r[i] - r[i + c]) for c in (":pred", ":pred_modified", ":pred_discrete"))
    return out


def slope(etas, errs) -> float:
    return float(np.polyfit(np.log(etas), np.log(errs), 1)[0])


CASES = {
    # name: (momentum, etas, tolerance of the gradient-flow slope)
    "sgd+wd": (0.0, [0.02, 0.01, 0.005], 0.15),
    "momentum+wd": (0.9, [0.004, 0.002, 0.001], 0.45),  # GF's slope reaches 1 later (momentum's lag)
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_prediction_errors_fall_at_the_expected_order(case):
    momentum, etas, gf_tol = CASES[case]
    runs = [errors(eta, momentum, weight_decay=0.1, t_final=1.0) for eta in etas]
    families = {law_id.split("/")[0] for law_id in runs[0]}
    assert families == set(FAMILIES)
    for law_id in runs[0]:
        gf = [r[law_id][0] for r in runs]
        modified = [r[law_id][1] for r in runs]
        exact = [r[law_id][2] for r in runs]
        assert max(exact) < 1e-9, (law_id, exact)
        assert abs(slope(etas, gf) - 1.0) < gf_tol, (law_id, gf)
        assert abs(slope(etas, modified) - 2.0) < 0.35, (law_id, modified)
        assert modified[-1] < gf[-1] / 5, (law_id, modified, gf)


def test_without_weight_decay_sgd_conserves_and_the_gradient_term_explains_the_drift():
    """lambda = 0: gradient flow says constant; the measured drift is the eta-weighted gradient term."""
    (e1,), (e2,) = ([errors(eta, 0.0, 0.0, 0.5)["rescale/3-6"]] for eta in (0.02, 0.01))
    assert e2[0] < e1[0] and math.isclose(e1[0] / e2[0], 2.0, rel_tol=0.15)
    assert e1[2] < 1e-10 and e2[2] < 1e-10


def test_adam_has_no_prediction_and_says_why():
    net, (x, y), loss_fn = model(), data(), nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    with noether.watch(net, opt, loss_fn, out=False, every=2) as mon:
        for _ in range(6):
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    summary = mon.close()
    assert summary.laws and all(law.verdict == "not applicable" for law in summary.laws)
    assert all("AdamW" in law.reason and "not equivariant" in law.reason for law in summary.laws)
    rec = mon.records[-1]
    assert "rescale/3-6" in rec and "rescale/3-6:pred" not in rec and "loss" in rec


def test_cheap_mode_keeps_the_flows_and_translations_exact_identity_without_per_step_work():
    """exact=False: between records no tensor work; the quadratic laws are judged by the modified flow with K
    sampled at the records, their exact column is left out; translation's exact identity needs no K and stays."""
    runs = {}
    for exact in (True, False):
        net, (x, y), loss_fn = model(), data(), nn.CrossEntropyLoss()
        opt = torch.optim.SGD(net.parameters(), lr=0.002, momentum=0.9, weight_decay=0.1)
        with noether.watch(net, opt, loss_fn, out=False, every=10, exact=exact) as mon:
            for _ in range(300):
                loss = loss_fn(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        runs[exact] = mon
    exact, cheap = runs[True], runs[False]
    r_exact, r_cheap = exact.records[-1], cheap.records[-1]
    assert len(cheap.records) == len(exact.records) == 31
    for law in cheap.laws:
        i = law.id
        assert math.isclose(r_cheap[i], r_exact[i], rel_tol=1e-12)  # the same training, measured the same
        assert math.isclose(r_cheap[i + ":pred"], r_exact[i + ":pred"], rel_tol=1e-12)
        if law.family == "translation":
            assert math.isclose(r_cheap[i + ":pred_discrete"], r_exact[i + ":pred_discrete"], rel_tol=1e-12)
            assert abs(r_cheap[i] - r_cheap[i + ":pred_discrete"]) < 1e-12
        else:
            assert i + ":pred_discrete" not in r_cheap and i + ":pred_discrete" in r_exact
        if law.family in ("scale", "rescale"):
            gf, mod = (abs(r_cheap[i] - r_cheap[i + c]) for c in (":pred", ":pred_modified"))
            assert mod < gf / 3, (i, mod, gf)  # the sampled kinetic term still explains most of the drift
    summary = cheap.close()
    assert all(law.verdict == "holds" for law in summary.laws), [(law.id, law.reason) for law in summary.laws]
    assert any("cheap mode" in law.reason for law in summary.laws)

"""Each dynamics against its flow and its formula: fitted orders, energy conservation, exact identities.

The rotation toy L(w) = (|w|^2 - 1)^2 (float64) is the test bed: smooth, cheap, and with a known flow.
Errors are measured at a fixed physical time T against an RK4 reference with a much smaller step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import noether
from noether.dynamics import DYNAMICS, ORDER
from noether.problem import build_problem

from .helpers import final_position, fitted_slope, run, tiny_net, toy

T = 0.96  # a multiple of every step below
STEPS = [0.04, 0.02, 0.01]
T0 = 0.48  # start time of the NAGF runs (3/t is singular at 0)
GF_START = {"position": (0.1, 0.1, 0.1), "velocity": None}


def reference(flow: str) -> np.ndarray:
    dt = 0.0025
    t0 = T0 if flow in ("nagf", "general") else 0.0
    dyn = {"kind": "rk4", "flow": flow, "dt": dt, "t0": t0}
    if flow == "general":
        dyn.update(k1="1/(1+t)", k2="1 + 0.5*sin(t)")
    kw = GF_START if flow == "gf" else {}
    return final_position(toy(dyn, round((T - 0) / dt), **kw))


# (name, flow, declared order, spec builder for step size h)
CASES = [
    ("gd", "gf", ORDER["gd"], lambda h: toy({"kind": "gd", "lr": h}, round(T / h), **GF_START)),
    ("nd", "nd", ORDER["nd"], lambda h: toy({"kind": "nd", "lr": h * h}, round(T / h))),
    ("nag", "nagf", ORDER["nag"], lambda h: toy({"kind": "nag", "lr": h * h, "t0": T0}, round(T / h))),
    ("leapfrog", "nd", ORDER["leapfrog"], lambda h: toy({"kind": "leapfrog", "dt": h}, round(T / h))),
    ("rk4-gf", "gf", ORDER["rk4"], lambda h: toy({"kind": "rk4", "flow": "gf", "dt": h}, round(T / h), **GF_START)),
    ("rk4-nd", "nd", ORDER["rk4"], lambda h: toy({"kind": "rk4", "flow": "nd", "dt": h}, round(T / h))),
    ("rk4-nagf", "nagf", ORDER["rk4"], lambda h: toy({"kind": "rk4", "flow": "nagf", "dt": h, "t0": T0}, round(T / h))),
    ("rk4-general", "general", ORDER["rk4"],
     lambda h: toy({"kind": "rk4", "flow": "general", "dt": h, "t0": T0, "k1": "1/(1+t)", "k2": "1 + 0.5*sin(t)"}, round(T / h))),
    ("general", "general", ORDER["general"],
     lambda h: toy({"kind": "general", "dt": h, "t0": T0, "k1": "1/(1+t)", "k2": "1 + 0.5*sin(t)"}, round(T / h))),
    ("general-nagf", "nagf", ORDER["general"], lambda h: toy({"kind": "general", "dt": h, "t0": T0, "k1": "3/t"}, round(T / h))),
]


@pytest.mark.parametrize("name,flow,order,make", CASES, ids=[c[0] for c in CASES])
def test_declared_order(name, flow, order, make):
    """The error at time T shrinks as step^order (fitted log-log slope within 0.25 of the declared order)."""
    ref = reference(flow)
    errors = [float(np.linalg.norm(final_position(make(h)) - ref)) for h in STEPS]
    assert errors[0] > errors[1] > errors[2] > 0
    assert fitted_slope(STEPS, errors) == pytest.approx(order, abs=0.25)


def test_every_kind_has_an_entry():
    assert set(DYNAMICS) == set(noether.spec.DYNAMICS_KINDS)


def energy_drift(records) -> float:
    """max_k |E_k - E_0| with E = |w'|^2 / 2 + L(w)."""
    e = [0.5 * sum(v * v for v in r["velocity"]) + r["loss"] for r in records]
    return max(abs(x - e[0]) for x in e)


@pytest.mark.parametrize("kind", ["leapfrog", "nd"])
def test_energy_error_is_second_order_and_does_not_drift(kind):
    """Symplectic: |E_k - E_0| over a long run is O(dt^2), bounded rather than growing."""
    horizon = 6.0  # a few orbits
    drifts = []
    for h in (0.02, 0.01, 0.005):
        dyn = {"kind": "leapfrog", "dt": h} if kind == "leapfrog" else {"kind": "nd", "lr": h * h}
        records = run(toy(dyn, round(horizon / h), record_every=round(0.02 / h)))
        drifts.append(energy_drift(records))
        half = len(records) // 2  # no secular growth: the second half is no worse than twice the first
        assert energy_drift([records[0], *records[half:]]) <= 2.0 * energy_drift(records[: half + 1])
    assert fitted_slope([0.02, 0.01, 0.005], drifts) == pytest.approx(2.0, abs=0.2)


def test_nd_is_leapfrog_with_eta_dt_squared():
    """Eq. 21 with the second-order start equals velocity Verlet, position and velocity."""
    h = 0.01
    a = run(toy({"kind": "nd", "lr": h * h}, 300, record_every=10))
    b = run(toy({"kind": "leapfrog", "dt": h}, 300, record_every=10))
    for ra, rb in zip(a, b, strict=True):
        assert ra["t"] == pytest.approx(rb["t"], abs=1e-12)
        assert np.allclose(ra["position"], rb["position"], atol=1e-12)
        assert np.allclose(ra["velocity"], rb["velocity"], atol=1e-9)


def test_nd_honours_the_initial_velocity():
    """The central-difference velocity at k = 0 is exactly v0; t_k = k sqrt(eta)."""
    records = run(toy({"kind": "nd", "lr": 1e-4}, 10, record_every=1))
    assert records[0]["velocity"] == pytest.approx([-2.0, 1.0, 1.0], abs=1e-12)
    assert records[10]["t"] == pytest.approx(0.1)


def test_nag_footnote_2():
    """Starting eq. 20 at k = 1 throws the initial velocity away; starting at k0 = t0/sqrt(eta) keeps it.

    With k0 = 1 ((k-1)/(k+2) = 0 at the first step) two runs that differ only in v0 are identical. With
    t0 = 0.48 (k0 = 48) they differ, and the run follows NAGF from (w0, v0) at t0: its distance to the
    RK4 reference halves with the step (order 1).
    """
    eta = 1e-4
    at_one = [final_position(toy({"kind": "nag", "lr": eta, "t0": math.sqrt(eta)}, 100, velocity=v)) for v in ((-2, 1, 1), (0, 0, 0))]
    assert np.array_equal(at_one[0], at_one[1])
    at_zero = [final_position(toy({"kind": "nag", "lr": eta, "t0": 0.0}, 100, velocity=v)) for v in ((-2, 1, 1), (0, 0, 0))]
    assert np.array_equal(at_zero[0], at_zero[1])
    honoured = [final_position(toy({"kind": "nag", "lr": eta, "t0": T0}, 100, velocity=v)) for v in ((-2, 1, 1), (0, 0, 0))]
    assert np.linalg.norm(honoured[0] - honoured[1]) > 0.05
    ref = final_position(toy({"kind": "rk4", "flow": "nagf", "dt": 0.001, "t0": T0}, 100 * 10))
    follows = np.linalg.norm(honoured[0] - ref)
    ignores = np.linalg.norm(final_position(toy({"kind": "nag", "lr": eta, "t0": T0}, 100, velocity=(0, 0, 0))) - ref)
    assert follows < 0.1 * ignores


def test_nag_time_starts_at_t0():
    records = run(toy({"kind": "nag", "lr": 1e-4, "t0": 0.5}, 10, record_every=1))
    assert records[0]["t"] == pytest.approx(0.5)
    assert records[10]["t"] == pytest.approx(0.6)


def test_general_with_nd_coefficients_is_nd():
    """k1 = 0, k2 = 1 reduces eq. 22's scheme to eq. 21 with eta = dt^2."""
    a = run(toy({"kind": "general", "k1": "0", "k2": "1", "dt": 0.01, "t0": 0.0}, 200))
    b = run(toy({"kind": "nd", "lr": 1e-4}, 200))
    assert np.allclose(a[-1]["position"], b[-1]["position"], atol=1e-12)


# -- exact step formulas on a network -----------------------------------------------------------


def _params_after(spec: dict, steps: int):
    """w_steps of a run, read from the dynamics directly (records carry only views)."""
    spec = noether.parse_spec({**spec, "steps": steps})
    p = build_problem(spec)
    dyn = DYNAMICS[spec.dynamics.kind]
    with torch.no_grad():
        state = dyn.init(p, spec.dynamics, p.params, p.velocity)
        for _ in range(steps):
            state, _ = dyn.step(p, spec.dynamics, state, None)
    return p, state.params


def test_gd_step_is_w_minus_eta_grad_with_l2_weight_decay():
    spec = tiny_net(dynamics={"kind": "gd", "lr": 0.1, "weight_decay": 0.01}, dtype="float64")
    p, w1 = _params_after(spec, 1)
    _, g = p.loss_and_grad(p.params)
    for w, w0, gi in zip(w1, p.params, g, strict=True):
        assert torch.allclose(w, w0 - 0.1 * (gi + 0.01 * w0), atol=1e-14)


def test_momentum_matches_torch_sgd_with_momentum():
    """Heavy ball w_{k+1} = w_k - eta g_k + beta (w_k - w_{k-1}) is torch's SGD(momentum=beta, dampening 0)."""
    spec = tiny_net(dynamics={"kind": "momentum", "lr": 0.05, "beta": 0.9}, dtype="float64")
    p, ours = _params_after(spec, 4)
    theirs = _torch_reference(p, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), 4)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_torch_adamw(wd):
    spec = tiny_net(dynamics={"kind": "adam", "lr": 0.01, "weight_decay": wd}, dtype="float64")
    p, ours = _params_after(spec, 4)
    theirs = _torch_reference(p, lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=wd, eps=1e-8), 4)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def _torch_reference(problem, make_opt, steps):
    leaves = [w.clone().requires_grad_(True) for w in problem.params]
    opt = make_opt(leaves)
    for _ in range(steps):
        opt.zero_grad()
        problem.loss(leaves).backward()
        opt.step()
    return [w.detach() for w in leaves]


def test_sgd_is_gd_on_the_drawn_minibatch():
    """SGD's first step equals a GD step on the minibatch the seeded generator draws."""
    spec = noether.parse_spec(tiny_net(dynamics={"kind": "sgd", "lr": 0.1, "batch_size": 8}, dtype="float64", steps=1))
    sim = noether.simulate(spec)
    sim.run()
    p = build_problem(spec)
    batch = torch.randperm(p.n_samples, generator=p.generator)[:8]
    _, g = p.loss_and_grad(p.params, batch)
    for a, w, gi in zip(sim.params, p.params, g, strict=True):
        assert torch.allclose(a, w - 0.1 * gi, atol=1e-14)

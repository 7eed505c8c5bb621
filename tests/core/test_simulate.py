"""The driver loop as a user sees it: cadence, determinism, divergence, cancellation, views, summary."""

from __future__ import annotations

import math

import pytest
import torch

import noether
from noether.simulate import MAX_PARTICLES, MAX_VIEW_DIM

from .helpers import tiny_net, toy


def test_records_at_the_cadence_and_the_last_step():
    records = list(noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 10, record_every=4)))
    assert [r["step"] for r in records] == [0, 4, 8, 10]
    assert {"step", "t", "loss", "position", "velocity"} <= set(records[0])


def test_same_spec_same_records_and_another_seed_differs():
    spec = tiny_net(dynamics={"kind": "sgd", "lr": 0.1, "batch_size": 8}, steps=6, record_every=2)
    a, b = list(noether.simulate(spec)), list(noether.simulate(spec))
    assert a == b
    c = list(noether.simulate({**spec, "seed": 1}))
    assert c[-1]["loss"] != a[-1]["loss"]


def test_diverging_run_ends_as_diverged_without_raising():
    """GD with eta > 2 / lambda on a quadratic doubles |w| each step until float32 overflows."""
    spec = {"potential": {"kind": "quadratic", "eigenvalues": [1.0, 1.0]}, "initial": {"position": [1.0, 1.0]},
            "dynamics": {"kind": "gd", "lr": 3.0}, "steps": 1000, "record_every": 10}
    sim = noether.simulate(spec)
    records = list(sim)
    assert sim.status == "diverged"
    s = sim.summary
    assert s.status == "diverged" and s.diverged_at is not None and 0 < s.diverged_at < 1000
    assert all(math.isfinite(r["loss"]) for r in records)
    assert s.last_finite is not None and s.last_finite["step"] == records[-1]["step"] < s.diverged_at
    assert math.isfinite(s.last_finite["loss"])


def test_diverging_network_on_the_deferred_check_path():
    """The GPU path (no sync per step) finds the same first non-finite step, checked on the CPU."""
    spec = tiny_net(model={"widths": [64, 12, 12, 10], "activation": "linear"}, loss="mse", dynamics={"kind": "gd", "lr": 1.0},
                    steps=100, record_every=50)
    direct = noether.simulate(spec)
    list(direct)
    deferred = noether.simulate(spec)
    deferred._check_every_step = False
    list(deferred)
    assert direct.status == deferred.status == "diverged"
    assert direct.diverged_at == deferred.diverged_at
    assert direct.summary.steps_done == deferred.summary.steps_done == direct.diverged_at - 1


def test_stop_ends_the_run_as_cancelled_at_the_next_step():
    sim = noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 1000, record_every=1))
    seen = []
    for record in sim:
        seen.append(record)
        assert sim.summary.status == "running"
        if record["step"] == 5:
            sim.stop()
    assert sim.status == "cancelled"
    assert [r["step"] for r in seen] == list(range(6))
    assert sim.summary.status == "cancelled" and sim.summary.steps_done == 5


def test_closing_the_iteration_early_is_a_cancel():
    sim = noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 100, record_every=1))
    it = iter(sim)
    next(it)
    it.close()
    assert sim.status == "cancelled"


def test_iterating_twice_is_an_error():
    sim = noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 3))
    sim.run()
    with pytest.raises(RuntimeError):
        list(sim)


def test_particles_are_first_layer_neurons_when_dx_is_3():
    spec = {"model": {"widths": [3, 5, 1], "activation": "tanh"}, "data": {"kind": "rotation", "dim": 3, "samples": 16},
            "loss": "mse", "steps": 1, "dtype": "float64"}
    sim = noether.simulate(spec)
    first = next(iter(sim))
    assert torch.equal(torch.tensor(first["particles"], dtype=torch.float64), sim.problem.params[0])


def test_particles_are_capped_and_projected():
    spec = tiny_net(model={"widths": [64, MAX_PARTICLES + 44, 10]}, steps=1)
    first = next(iter(noether.simulate(spec)))
    assert len(first["particles"]) == MAX_PARTICLES
    assert all(len(p) == 3 for p in first["particles"])


def test_potential_views_are_capped():
    spec = {"potential": {"kind": "sphere", "dim": MAX_VIEW_DIM + 10}, "dynamics": {"kind": "nd", "lr": 1e-4}, "steps": 1}
    first = next(iter(noether.simulate(spec)))
    assert len(first["position"]) == len(first["velocity"]) == MAX_VIEW_DIM


def test_summary_reports_the_run():
    sim = noether.simulate(toy({"kind": "gd", "lr": 0.01}, 50, position=(0.1, 0.1, 0.1), velocity=None, record_every=10))
    sim.run()
    s = sim.summary
    assert s.status == "succeeded" and s.steps_done == s.steps == 50
    assert s.t_final == pytest.approx(0.5)
    assert s.loss_final < s.loss_initial and s.loss_best == s.loss_final
    assert s.dtype == "float64" and s.device == "cpu"
    assert s.spec_fingerprint == sim.spec.fingerprint()
    ids = [law.id for law in s.laws]
    assert len(ids) == len(set(ids)) and len(ids) >= 1


def test_not_applicable_laws_are_reported_with_a_reason():
    sim = noether.simulate(tiny_net(model={"widths": [64, 12, 12, 10], "activation": "gelu"}, steps=1))
    assert sim.not_applicable and all(law.verdict == "not applicable" and law.reason for law in sim.not_applicable)
    assert any("GELU" in (law.reason or "") or "gelu" in (law.reason or "").lower() for law in sim.not_applicable)


def test_float64_runs_in_float64():
    sim = noether.simulate(tiny_net(dtype="float64", steps=1))
    sim.run()
    assert all(p.dtype == torch.float64 for p in sim.params)


def test_simulate_accepts_a_dict_and_rejects_a_bad_one():
    with pytest.raises(noether.SpecError) as exc:
        noether.simulate({"model": {"widths": [64, 0, 10]}, "data": {"kind": "digits"}})
    assert any(line.startswith("model.widths[1]") for line in exc.value.lines)


def test_networks_record_the_squared_norms_fig1_plots():
    """sq_norm/W2 - sq_norm/W3 is the ReLU balance of layer 2 (Fig. 1's two axes)."""
    sim = noether.simulate(tiny_net(dtype="float64", steps=3, record_every=1))
    for r in sim:
        assert {"sq_norm/W1", "sq_norm/W2", "sq_norm/W3"} <= set(r)
        assert r["sq_norm/W2"] == pytest.approx(float((sim.params[1] ** 2).sum()), rel=1e-12)
        if "balance/h2" in r:
            assert r["sq_norm/W2"] - r["sq_norm/W3"] == pytest.approx(r["balance/h2"], rel=1e-9, abs=1e-12)


def test_a_law_of_its_own_gives_scalar_and_array_columns_as_floats():
    """The Law protocol: a 0-dim tensor becomes a float column, a 1-D tensor a list, a float stays as it is."""

    class Probe:
        id, family, name, symmetry, prediction, every_step, bank = "probe", "probe", "probe", "-", "-", False, None

        def measure(self, snap):
            return {"probe": 2 * snap.loss, "probe:neurons": torch.stack([snap.loss, 3 * snap.loss]), "probe:k": 1.5}

    sim = noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 4, record_every=2))
    sim.laws = [Probe()]
    records = list(sim)
    assert [r["step"] for r in records] == [0, 2, 4]
    for r in records:
        assert isinstance(r["probe"], float) and r["probe"] == pytest.approx(2 * r["loss"], rel=1e-15)
        assert r["probe:neurons"] == pytest.approx([r["loss"], 3 * r["loss"]], rel=1e-15)
        assert r["probe:k"] == 1.5


def test_deferred_check_path_records_the_same_values():
    """The GPU path (sentinel, arrays copied to the host with the scalars) gives the CPU path's records."""
    spec = tiny_net(steps=4, record_every=2)
    direct = list(noether.simulate(spec))
    sim = noether.simulate(spec)
    sim._check_every_step = False
    deferred = list(sim)
    assert direct == deferred
    assert len(direct[0]["particles"]) == 12 and all(len(p) == 3 for p in direct[0]["particles"])


def test_a_bank_hands_over_its_laws_columns_as_one_block_once_per_record():
    """Laws sharing a ``Bank`` (``noether.laws.base``): the recorder steps and measures the bank once per step and
    record, before its laws, and its ``Block`` of n values becomes n scalar columns."""
    from noether.laws.base import Block

    class Pair:
        every_step = True

        def __init__(self):
            self.stepped, self.measured = [], []

        def on_step(self, snap):
            self.stepped.append(snap.step)

        def measure(self, snap):
            self.measured.append(snap.step)
            return Block(("a", "b", "a:loss"), torch.stack([torch.ones(()), 2 * torch.ones(()), snap.loss]))

    class View:
        family, symmetry, prediction, every_step = "pair", "-", "-", False

        def __init__(self, id, bank):
            self.id, self.name, self.bank = id, id, bank

        def measure(self, snap):
            return {self.id + ":seen": float(self.bank.measured[-1] == snap.step)}  # the bank came first

    bank = Pair()
    sim = noether.simulate(toy({"kind": "nd", "lr": 1e-4}, 4, record_every=2))
    sim.laws = [View("a", bank), View("b", bank)]
    records = list(sim)
    assert bank.stepped == [0, 1, 2, 3, 4] and bank.measured == [0, 2, 4]
    for r in records:
        assert (r["a"], r["b"]) == (1.0, 2.0) and r["a:loss"] == r["loss"]
        assert r["a:seen"] == r["b:seen"] == 1.0

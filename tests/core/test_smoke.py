"""The engine end to end on tiny specs: every dynamics runs, records have the documented keys."""

from __future__ import annotations

import pytest

import noether
from noether.spec import DYNAMICS_KINDS

TOY = {"potential": {"kind": "sphere", "dim": 3}, "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2, 1, 1]},
       "dtype": "float64", "steps": 20, "record_every": 5}
NET = {"model": {"widths": [64, 16, 16, 10]}, "data": {"kind": "digits", "samples": 64}, "steps": 6, "record_every": 3}
DYN = {
    "gd": {"kind": "gd", "lr": 0.01},
    "sgd": {"kind": "sgd", "lr": 0.01, "batch_size": 16},
    "momentum": {"kind": "momentum", "lr": 0.01},
    "adam": {"kind": "adam", "lr": 0.001},
    "nd": {"kind": "nd", "lr": 0.0001},
    "nag": {"kind": "nag", "lr": 0.0001, "t0": 0.1},
    "leapfrog": {"kind": "leapfrog", "dt": 0.01},
    "rk4": {"kind": "rk4", "flow": "nd", "dt": 0.01},
    "general": {"kind": "general", "k1": "3/t", "dt": 0.01, "t0": 0.1},
}


def test_table_covers_every_kind():
    assert set(DYN) == set(DYNAMICS_KINDS)


@pytest.mark.parametrize("kind", DYNAMICS_KINDS)
def test_potential_runs(kind):
    spec = {**TOY, "dynamics": DYN[kind]}
    if kind == "sgd":
        pytest.skip("SGD needs data")
    sim = noether.simulate(spec)
    records = list(sim)
    assert sim.status == "succeeded"
    assert [r["step"] for r in records] == [0, 5, 10, 15, 20]
    assert len(records[-1]["position"]) == 3
    assert sim.summary.steps_done == 20


@pytest.mark.parametrize("kind", DYNAMICS_KINDS)
def test_network_runs(kind):
    sim = noether.simulate({**NET, "dynamics": DYN[kind] if kind != "sgd" else {**DYN[kind], "batch_size": 16}})
    records = list(sim)
    assert sim.status == "succeeded"
    assert [r["step"] for r in records] == [0, 3, 6]
    assert len(records[0]["particles"]) == 16 and len(records[0]["particles"][0]) == 3
    assert all(isinstance(r["loss"], float) for r in records)

"""Presets validate and run; sweeps expand grids into validated specs; runs round-trip through files."""

from __future__ import annotations

import csv
import json
import math

import pyarrow.parquet as pq
import pytest

import noether
from noether import presets
from noether.io import read_series, read_summary, write_run, write_series
from noether.spec import SpecError
from noether.sweep import expand

PAPER = ["fig1-gd", "fig1-nd", "fig1-nag", "fig2", "toy-gf", "toy-nd", "toy-nag", "toy-nag-spiral"]
BEYOND = ["bias", "swish-beta", "linear-balance", "rotation-net", "ntk-width", "gd-vs-sgd"]


def test_every_preset_the_issue_asks_for_exists_with_its_explanations():
    names = [p.name for p in presets.all()]
    assert names[: len(PAPER)] == PAPER and set(BEYOND) <= set(names)
    for p in presets.all():
        assert p.title and p.figure and p.explanation and p.look_at and p.prediction and p.runtime
        json.dumps(p.to_dict())  # the API serves it as JSON
        assert presets.get(p.name) is p


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(KeyError, match="fig1-gd"):
        presets.get("fig9")


@pytest.mark.parametrize("name", PAPER + BEYOND)
def test_preset_runs_a_few_steps(name):
    p = presets.get(name)
    for _label, spec in expand(p.spec.with_overrides(steps=2, record_every=1), p.sweep):
        sim = noether.simulate(spec)
        records = list(sim)
        assert sim.status == "succeeded"
        assert [r["step"] for r in records] == [0, 1, 2]
        assert sim.laws, f"{name}: no law applies"
        assert all(math.isfinite(r["loss"]) for r in records)


def test_paper_presets_have_the_papers_settings():
    fig1 = presets.get("fig1-gd").spec
    assert fig1.model.widths == [784, 200, 200, 200, 10] and fig1.data.samples == 1000
    assert fig1.loss == "nll" and fig1.dynamics.lr == 0.01
    assert {presets.get(n).spec.dynamics.kind for n in ("fig1-gd", "fig1-nd", "fig1-nag")} == {"gd", "nd", "nag"}
    fig2 = presets.get("fig2").spec
    assert fig2.model.widths == [784, 200, 200, 200, 200, 10]
    assert [a.kind for a in fig2.model.activations()] == ["relu", "repu", "repu", "relu"]
    nag = presets.get("toy-nag").spec
    assert nag.initial.position == [0.5, 0.5, 0.5] and nag.initial.velocity == [-2, 1, 1] and nag.dynamics.t0 > 0
    assert presets.get("toy-gf").spec.initial.position == [0.1, 0.1, 0.1]


def test_sweep_is_the_product_of_the_grid_in_order():
    base = presets.get("toy-nd").spec
    runs = expand(base, {"seed": [0, 1], "dynamics.lr": [1e-4, 4e-4, 9e-4]})
    assert len(runs) == 6
    assert [s.seed for _, s in runs] == [0, 0, 0, 1, 1, 1]
    assert [s.dynamics.lr for _, s in runs][:3] == [1e-4, 4e-4, 9e-4]
    assert runs[1][0] == "seed=0, dynamics.lr=0.0004"
    whole = expand(base, {"dynamics": [{"kind": "leapfrog", "dt": 0.01}, {"kind": "nag", "lr": 1e-4, "t0": 0.1}]})
    assert [s.dynamics.kind for _, s in whole] == ["leapfrog", "nag"]
    assert expand(base, None) == [("", base)]


def test_sweep_learning_rates_survive_a_dynamics_axis_in_any_order():
    base = presets.get("toy-gf").spec  # its own lr is 0.01
    for grid in ({"dynamics.lr": [0.001, 0.02], "dynamics": [{"kind": "gd"}, {"kind": "nd"}]},
                 {"dynamics": [{"kind": "gd"}, {"kind": "nd"}], "dynamics.lr": [0.001, 0.02]}):
        runs = expand(base, grid)
        assert sorted((s.dynamics.kind, s.dynamics.lr) for _, s in runs) == [
            ("gd", 0.001), ("gd", 0.02), ("nd", 0.001), ("nd", 0.02)]
        for label, s in runs:
            assert f"dynamics.lr={s.dynamics.lr}" in label and f"dynamics={s.dynamics.kind}" in label
            assert s.name == f"toy-gf [{label}]"
    first = expand(base, {"dynamics.lr": [0.02], "dynamics": [{"kind": "gd"}]})[0][0]
    assert first == "dynamics.lr=0.02, dynamics=gd"  # labels keep the grid's order


def test_sweep_errors_name_the_point_and_the_field():
    base = presets.get("toy-nd").spec
    with pytest.raises(SpecError) as exc:
        expand(base, {"dynamics.lr": [1e-4, -1.0]})
    assert exc.value.lines == [line for line in exc.value.lines if line.startswith("dynamics.lr=-1.0: dynamics.lr")]
    with pytest.raises(SpecError, match="does not name a field"):
        expand(base, {"nothing.here": [1]})
    with pytest.raises(SpecError, match="non-empty list"):
        expand(base, {"seed": []})
    with pytest.raises(SpecError, match="must be <= 4"):
        expand(base, {"seed": list(range(5))}, limit=4)


def test_run_round_trips_through_parquet_csv_and_json(tmp_path):
    spec = presets.get("linear-balance").spec.with_overrides(steps=4, record_every=2)
    sim = noether.simulate(spec)
    records = list(sim)
    write_run(tmp_path, spec, records, sim.summary)
    assert {p.name for p in tmp_path.iterdir()} == {"series.parquet", "series.csv", "summary.json", "spec.json"}
    back = read_series(tmp_path)
    assert back == records  # list columns (particles, per-neuron values, matrices) included
    from_csv = read_series(tmp_path / "series.csv")  # scalars and vectors (8 per-neuron values); no matrices
    assert from_csv == [{k: v for k, v in r.items() if k != "particles" and not k.endswith(":matrix")} for r in records]
    assert read_summary(tmp_path) == sim.summary
    assert noether.load_spec(tmp_path / "spec.json") == spec


def test_a_toys_csv_has_its_orbit_as_one_column_per_coordinate(tmp_path):
    spec = presets.get("toy-nd").spec.with_overrides(steps=20, record_every=1)
    sim = noether.simulate(spec)
    write_run(tmp_path, spec, list(sim), sim.summary)
    parquet = pq.read_table(tmp_path / "series.parquet").to_pydict()
    with open(tmp_path / "series.csv", newline="") as f:
        table = list(csv.DictReader(f))
    for name in ("position", "velocity", "angular_momentum:vector"):
        assert [[float(row[f"{name}[{i}]"]) for i in range(3)] for row in table] == parquet[name]
        assert f"{name}[3]" not in table[0]


def test_csv_leaves_out_matrices_and_long_vectors(tmp_path):
    write_series([{"step": 0, "short": [1.0, 2.0], "long": [0.5] * 65, "m": [[1.0, 2.0]]},
                  {"step": 1, "long": [0.5] * 65, "m": [[3.0, 4.0]]}], tmp_path)
    with open(tmp_path / "series.csv", newline="") as f:
        assert list(csv.reader(f)) == [["step", "short[0]", "short[1]"], ["0", "1", "2"], ["1", "", ""]]
    assert read_series(tmp_path / "series.csv") == [{"step": 0, "short": [1, 2]}, {"step": 1}]


def test_series_with_nan_and_missing_keys(tmp_path):
    write_series([{"step": 0, "x": 1.0}, {"step": 1, "x": math.nan, "y": [1.0, 2.0]}], tmp_path)
    back = read_series(tmp_path)
    assert back[0] == {"step": 0, "x": 1.0} and math.isnan(back[1]["x"]) and back[1]["y"] == [1.0, 2.0]


@pytest.mark.parametrize("name", [p.name for p in presets.all() if "(law " in (p.look_at or "")])
def test_the_laws_a_presets_look_at_names_are_laws_its_run_draws(name):
    """The run page puts the charts a "Look at" names as ``(law X)`` first; a name no law of the run has is a
    text pointing at nothing (a cold try found translation-ce's text naming a chart that was never drawn)."""
    import re

    import noether

    preset = presets.get(name)
    named = set(re.findall(r"\blaw ([A-Za-z0-9_/\-]+)", preset.look_at))
    sim = noether.simulate(preset.spec.model_copy(update={"steps": 1}))
    applicable = {law.id for law in sim.laws}
    assert named <= applicable, f"{name}: the text names {sorted(named - applicable)}; the run has {sorted(applicable)}"

"""The `noether` command: run writes the four files and prints verdicts; bad input exits 2 with one line per problem."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from noether.cli import app

runner = CliRunner()


def test_run_a_preset_writes_the_run_and_prints_the_verdicts(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--preset", "toy-nd", "--steps", "50", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"series.parquet", "series.csv", "summary.json", "spec.json"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["steps_done"] == 50
    assert any(law["id"] == "angular_momentum" for law in summary["laws"])
    assert "angular_momentum" in result.stdout and "holds" in result.stdout
    assert json.loads((out / "spec.json").read_text())["steps"] == 50


def test_run_a_yaml_spec_with_a_seed(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "potential: {kind: sphere, dim: 3}\ndynamics: {kind: nd, lr: 0.0001}\nsteps: 20\nrecord_every: 5\n"
    )
    result = runner.invoke(app, ["run", str(spec), "--seed", "3", "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o" / "spec.json").read_text())["seed"] == 3


def test_a_sweep_preset_runs_every_point(tmp_path):
    result = runner.invoke(app, ["run", "--preset", "gd-vs-sgd", "--steps", "3", "--out", str(tmp_path), "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamics_gd_lr_0.05", "dynamics_sgd_lr_0.05_batch_size_32"]


@pytest.mark.parametrize(
    "body,expected",
    [
        ({"model": {"widths": [64, 0, 10]}, "data": {"kind": "digits"}, "steps": 5000000},
         ["model.widths[1]", "steps: Input should be less than or equal to 1000000"]),
        ({"potential": {"kind": "sphere"}, "dynamics": {"kind": "general", "k1": "import os"}}, ["dynamics: k1"]),
        ({"model": {"widths": [784, 10]}, "data": {"kind": "file", "name": "../secret"}}, ["data.name"]),
    ],
)
def test_bad_specs_exit_2_with_one_line_per_problem(tmp_path, body, expected):
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps(body))
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == len(expected)
    for line, field in zip(lines, expected, strict=True):
        assert line.startswith("error: ") and field in line
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "--preset", "nope"], "unknown preset 'nope'"),
        (["run"], "exactly one"),
        (["run", "missing.json"], "cannot read missing.json"),
        (["run", "--preset", "toy-nd", "--steps", "0"], "steps"),
    ],
)
def test_other_bad_input_exits_2(args, needle):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.output


def test_missing_data_file_exits_2(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(json.dumps({"model": {"widths": [784, 10]}, "data": {"kind": "file", "name": "kmnist"}}))
    result = runner.invoke(app, ["run", str(spec), "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr.startswith("error: data.name: no data set 'kmnist'")
    assert str(tmp_path) not in result.stderr  # the directory's absolute path is not in the message


def test_a_diverging_run_exits_1_and_keeps_its_series(tmp_path):
    spec = tmp_path / "d.json"
    spec.write_text(json.dumps({"potential": {"kind": "quadratic", "eigenvalues": [1.0]}, "initial": {"position": [1.0]},
                                "dynamics": {"kind": "gd", "lr": 3.0}, "steps": 1000, "record_every": 10}))
    result = runner.invoke(app, ["run", str(spec), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 1
    assert "diverged at step" in result.stdout
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["status"] == "diverged"


def test_presets_and_laws_list():
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0 and "fig1-gd" in result.stdout and "ntk-width" in result.stdout
    one = runner.invoke(app, ["presets", "toy-nag", "--json"])
    assert one.exit_code == 0 and json.loads(one.stdout)["spec"]["dynamics"]["kind"] == "nag"
    laws = runner.invoke(app, ["laws"])
    assert laws.exit_code == 0 and "balance" in laws.stdout

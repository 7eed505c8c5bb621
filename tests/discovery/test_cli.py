"""`noether discover`: a preset or a spec file in, the discovered laws and their verdicts out (or JSON)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from noether.cli import app

runner = CliRunner()


def test_discover_a_preset_prints_laws_and_writes_json(tmp_path):
    out = tmp_path / "found.json"
    res = runner.invoke(app, ["discover", "--preset", "toy-nd", "--steps", "100", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "angular_momentum" in res.output and "holds" in res.output
    found = json.loads(out.read_text())
    assert found["generators"] == 3 and found["verification_steps"] == 100


def test_discover_a_spec_file_as_json(tmp_path):
    spec = tmp_path / "quad.json"
    spec.write_text(json.dumps({"potential": {"kind": "quadratic", "eigenvalues": [1, 1, 1, 3]}}))
    res = runner.invoke(app, ["discover", str(spec), "--no-verify", "--json"])
    assert res.exit_code == 0, res.output
    found = json.loads(res.output)
    assert found["antisymmetric"] == 3 and found["generators"] == 6  # so(3) in the degenerate block + metric rotations
    assert found["verification"] == []


def test_bad_input_exits_2_with_one_line_naming_the_problem(tmp_path):
    assert runner.invoke(app, ["discover"]).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"potential": {"kind": "sphere", "dim": 0}}))
    res = runner.invoke(app, ["discover", str(bad)])
    assert res.exit_code == 2 and "potential.dim" in res.output
    res = runner.invoke(app, ["discover", "--preset", "toy-nd", "--steps", "0"])
    assert res.exit_code == 2 and "verify_steps" in res.output

"""The experiment spec: bounds, shorthands, restricted expressions, and errors that name the field."""

import json

import pytest

from noether.expr import ExpressionError, parse_expression
from noether.spec import MAX_STEPS, SpecError, load_spec, parse_spec

DIGITS = {"model": {"widths": [64, 16, 10]}, "data": {"kind": "digits"}}


def errors(obj):
    with pytest.raises(SpecError) as exc:
        parse_spec(obj)
    return exc.value.lines


def test_minimal_network_spec_fills_defaults():
    spec = parse_spec(DIGITS)
    assert spec.dynamics.kind == "gd" and spec.model.activations()[0].kind == "relu"
    assert spec.fingerprint() == parse_spec(DIGITS).fingerprint()


@pytest.mark.parametrize(
    "text, kind, field, value",
    [("leaky_relu(0.2)", "leaky_relu", "alpha", 0.2), ("repu(2)", "repu", "p", 2.0),
     ("swish(1.5, fixed)", "swish", "trainable", False), ("linear(3)", "linear", "c", 3.0)],
)
def test_activation_shorthand(text, kind, field, value):
    spec = parse_spec({**DIGITS, "model": {"widths": [64, 16, 10], "activation": text}})
    act = spec.model.activations()[0]
    assert act.kind == kind and getattr(act, field) == value


def test_bounds_name_field_bound_and_value():
    lines = errors({**DIGITS, "steps": MAX_STEPS + 1})
    assert lines == [f"steps: Input should be less than or equal to {MAX_STEPS} (got {MAX_STEPS + 1})"]
    lines = errors({"model": {"widths": [64, 5000, 10]}, "data": {"kind": "digits"}})
    assert "model.widths[1]" in lines[0] and "4096" in lines[0] and "5000" in lines[0]


def test_widths_must_match_data():
    (line,) = errors({"model": {"widths": [784, 16, 10]}, "data": {"kind": "digits"}})
    assert "widths[0]" in line and "64" in line and "784" in line


def test_dataset_names_cannot_escape_the_data_directory():
    (line,) = errors({"model": {"widths": [784, 16, 10]}, "data": {"kind": "file", "name": "../../etc/passwd"}})
    assert line.startswith("data.name")


def test_potential_initial_state_must_match_dimension():
    (line,) = errors({"potential": {"kind": "sphere", "dim": 3}, "initial": {"position": [1, 2]}})
    assert "3" in line and "2" in line


def test_too_many_records_is_refused_with_a_hint():
    (line,) = errors({**DIGITS, "steps": 1_000_000, "record_every": 1})
    assert "record_every" in line


@pytest.mark.parametrize("text, t, expected", [("3/t", 2.0, 1.5), ("1", 5.0, 1.0), ("2*t^2 + exp(0)", 3.0, 19.0),
                                               ("max(t, 1) - -1", 0.5, 2.0), ("sqrt(t)*pi", 4.0, 6.283185307179586)])
def test_expressions_parse_and_evaluate(text, t, expected):
    assert parse_expression(text)(t) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["__import__('os')", "t.__class__", "open(1)", "t; 1", "lambda: 1", "", "1 +"])
def test_expressions_outside_the_grammar_are_refused(text):
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_general_dynamics_rejects_bad_k2():
    (line,) = errors({"potential": {"kind": "sphere"}, "dynamics": {"kind": "general", "k2": "t - 5"}})
    assert line.startswith("dynamics") and "k2" in line


def test_load_yaml_and_json(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps(DIGITS))
    (tmp_path / "s.yaml").write_text("model: {widths: [64, 16, 10]}\ndata: {kind: digits}\nsteps: 7\n")
    assert load_spec(tmp_path / "s.json").steps == 1000
    assert load_spec(tmp_path / "s.yaml").steps == 7
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SpecError):
        load_spec(tmp_path / "bad.json")

"""What a spec refuses and how it says so: non-finite numbers in every numeric field, booleans for numbers,
text that is not Unicode, and time expressions that fail anywhere on the run's interval [t0, t0 + steps dt]."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noether.expr import ExpressionError, first_failure, parse_expression
from noether.spec import SpecError, parse_spec

TOY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 10}
NET = {"model": {"widths": [8, 4, 10]}, "data": {"kind": "synthetic", "inputs": 8, "samples": 32}, "steps": 10}


def errors(obj):
    with pytest.raises(SpecError) as exc:
        parse_spec(obj)
    return exc.value.lines


def put(base: dict, path: str, value) -> dict:
    """A deep copy of ``base`` with the dotted ``path`` (list indices as numbers) set to ``value``."""
    import copy

    out = copy.deepcopy(base)
    node = out
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return out


# Every numeric field of the spec (bounded or not), each reached from a spec where it applies.
NUMBER_FIELDS = [
    (TOY, "potential.radius", "potential.radius"),
    ({**TOY, "initial": {"position": [0.1, 0.1, 0.1]}}, "initial.position.0", "initial.position[0]"),
    ({**TOY, "initial": {"velocity": [0.0, 0.0, 0.0]}}, "initial.velocity.2", "initial.velocity[2]"),
    ({"potential": {"kind": "quadratic", "eigenvalues": [1.0, 2.0]}}, "potential.eigenvalues.1", "potential.eigenvalues[1]"),
    (NET, "initial.velocity_scale", "initial.velocity_scale"),
    (TOY, "tolerance", "tolerance"),
    (NET, "model.init_gain", "model.init_gain"),
    (put(NET, "model.activation", {"kind": "leaky_relu"}), "model.activation.alpha", "model.activation.alpha"),
    (put(NET, "model.activation", {"kind": "repu"}), "model.activation.p", "model.activation.p"),
    (put(NET, "model.activation", {"kind": "swish"}), "model.activation.beta", "model.activation.beta"),
    (put(NET, "model.activation", {"kind": "linear"}), "model.activation.c", "model.activation.c"),
    (NET, "data.separation", "data.separation"),
    ({**TOY, "dynamics": {"kind": "gd"}}, "dynamics.lr", "dynamics.lr"),
    ({**TOY, "dynamics": {"kind": "gd"}}, "dynamics.weight_decay", "dynamics.weight_decay"),
    ({**TOY, "dynamics": {"kind": "momentum"}}, "dynamics.beta", "dynamics.beta"),
    ({**TOY, "dynamics": {"kind": "adam"}}, "dynamics.beta1", "dynamics.beta1"),
    ({**TOY, "dynamics": {"kind": "adam"}}, "dynamics.beta2", "dynamics.beta2"),
    ({**TOY, "dynamics": {"kind": "adam"}}, "dynamics.eps", "dynamics.eps"),
    ({**TOY, "dynamics": {"kind": "nag"}}, "dynamics.t0", "dynamics.t0"),
    ({**TOY, "dynamics": {"kind": "leapfrog"}}, "dynamics.dt", "dynamics.dt"),
    ({**TOY, "dynamics": {"kind": "rk4"}}, "dynamics.dt", "dynamics.dt"),
    ({**TOY, "dynamics": {"kind": "general"}}, "dynamics.t0", "dynamics.t0"),
    ({**TOY, "dynamics": {"kind": "general"}}, "dynamics.dt", "dynamics.dt"),
]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("1e999")], ids=["nan", "inf", "-inf", "1e999"])
@pytest.mark.parametrize("base, path, named", NUMBER_FIELDS, ids=[f[1] for f in NUMBER_FIELDS])
def test_a_non_finite_number_is_refused_in_every_numeric_field(base, path, named, value):
    parse_spec(base)  # the spec is fine without it
    lines = errors(put(base, path, value))
    assert any(line.startswith(named) and "finite" in line for line in lines), lines


INTEGER_FIELDS = [
    (TOY, "steps", "steps"),
    (TOY, "record_every", "record_every"),
    (TOY, "seed", "seed"),
    (TOY, "potential.dim", "potential.dim"),
    (NET, "model.widths.1", "model.widths[1]"),
    (NET, "data.samples", "data.samples"),
    (put(NET, "model.activation", {"kind": "power"}), "model.activation.p", "model.activation.p"),
    ({**NET, "dynamics": {"kind": "sgd"}}, "dynamics.batch_size", "dynamics.batch_size"),
]


@pytest.mark.parametrize("base, path, named", INTEGER_FIELDS, ids=[f[1] for f in INTEGER_FIELDS])
def test_a_boolean_is_not_a_number(base, path, named):
    lines = errors(put(base, path, True))
    assert any(line.startswith(named) and "integer" in line and "True" in line for line in lines), lines
    assert errors(put(TOY, "dynamics", {"kind": "gd", "lr": True}))[0].startswith("dynamics.lr")


@pytest.mark.parametrize("field", ["name", "description"])
def test_text_that_is_not_unicode_is_refused(field):
    (line,) = errors({**TOY, field: "fine \ud800"})
    assert line.startswith(field)


def test_activation_shorthand_keeps_powers_integer():
    spec = parse_spec(put(NET, "model.activation", "power(3)"))
    assert spec.model.activations()[0].p == 3


# --- expressions over the whole run -------------------------------------------------------------


def general(k1="0", k2="1", t0=0.0, dt=0.01, steps=200, kind="general"):
    dyn = {"kind": kind, "k1": k1, "k2": k2, "t0": t0, "dt": dt}
    if kind == "rk4":
        dyn["flow"] = "general"
    return {**TOY, "steps": steps, "dynamics": dyn}


@pytest.mark.parametrize("kind", ["general", "rk4"])
@pytest.mark.parametrize("field, text", [("k1", "3/t"), ("k2", "1/t"), ("k1", "log(t)"), ("k2", "sqrt(t) + 1/t")])
def test_an_expression_undefined_at_the_start_is_refused(kind, field, text):
    (line,) = errors(general(t0=0.0, kind=kind, **{field: text}))
    assert line.startswith("dynamics") and field in line and f"'{text}'" in line and "t=0" in line.replace(" ", "")


def test_k2_crossing_zero_through_a_pole_is_refused_at_the_first_time_it_fails():
    # t = 100 * 0.01 is exactly 1: the pole itself is one of the run's times
    (line,) = errors(general(k2="1/(1-t)", dt=0.01, steps=200))
    assert line.startswith("dynamics.k2") and "'1/(1-t)'" in line and "t = 1," in line and "[0, 2]" in line
    # with dt = 0.003 the run steps over t = 1: the sign change between 0.999 and 1.002 gives it away
    (line,) = errors(general(k2="1/(1-t)", dt=0.003, steps=500))
    assert "pole between t = 0.999 and t = 1.002" in line
    # over [0, 0.6] the same expression is positive and finite: accepted
    assert parse_spec(general(k2="1/(1-t)", dt=0.003, steps=200)).dynamics.k2 == "1/(1-t)"


def test_k2_must_stay_positive_over_the_run():
    (line,) = errors(general(k2="1.5 - t", t0=0.1, dt=0.01, steps=200))
    assert line.startswith("dynamics.k2 must stay > 0") and "'1.5 - t'" in line and "at t = 1.5" in line
    assert parse_spec(general(k2="1.5 - t", t0=0.1, dt=0.01, steps=100))  # ends at 1.1


def test_a_pole_of_k1_inside_the_run_is_refused_with_where():
    (line,) = errors(general(k1="1/(t-1)", t0=0.1, dt=0.01, steps=200))
    assert line.startswith("dynamics.k1") and "at t = 1," in line
    # rk4 also evaluates half steps: a pole at 1.0025 lies between two of them
    (line,) = errors(general(k1="(t - 1.0025)^-2", dt=0.01, steps=200, kind="rk4"))
    assert line.startswith("dynamics.k1") and "between t = 1 and t = 1.005" in line


def test_the_interval_grows_with_steps():
    ok = general(k1="3/t", t0=0.1, dt=0.01, steps=1000)
    assert parse_spec(ok)
    assert errors(general(k1="1/(t-5)", t0=0.1, dt=0.01, steps=1000))  # [0.1, 10.1] holds t = 5
    assert parse_spec(general(k1="1/(t-5)", t0=0.1, dt=0.01, steps=400))  # [0.1, 4.1] does not


def test_first_failure_agrees_with_the_scalar_evaluation_at_every_time():
    times = np.arange(-2000, 2001) * 1e-3  # holds 0, 1 and 1.5 exactly
    for text in ["3/t", "log(t)", "sqrt(t - 1)", "t^0.5", "1/(1/t)", "exp(t*400)", "min(t, 1)/abs(t - 1.5)", "2^t"]:
        failure = first_failure(text, times)
        scalar = parse_expression(text)
        first_bad = None
        for t in times:
            try:
                scalar(float(t))
            except ExpressionError:
                first_bad = float(t)
                break
        assert (failure.t if failure else None) == first_bad and (failure is None or failure.until is None), text


def test_first_failure_is_none_when_fine_and_says_the_value_when_not_positive():
    times = np.arange(0, 100_001) * 1e-3
    assert first_failure("1 + exp(-t) + sin(t)^2", times, positive=True) is None
    failure = first_failure("cos(t)", times, positive=True)
    assert failure.t == pytest.approx(math.pi / 2, abs=1e-3) and failure.value <= 0


def test_the_messages_docs_spec_quotes_are_what_the_validator_says():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "spec.md").read_text()
    cases = [
        (general(k2="1/(1-t)", dt=0.01, steps=200), None),
        (general(k2="2 - t", dt=0.01, steps=300), None),
        (general(k2="1/(1-t)", dt=0.003, steps=500), ", ..."),
        ({**TOY, "initial": {"position": [math.nan, 0.1, 0.1]}}, None),
        ({**TOY, "steps": True}, None),
    ]
    for spec, cut in cases:
        (line,) = errors(spec)
        quoted = line.split(", inside")[0] + cut if cut else line
        assert f"`{quoted}`" in doc.replace("\n  ", " "), quoted

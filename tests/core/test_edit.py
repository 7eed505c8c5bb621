"""The one spec editor (noether.edit): dotted paths, list indices, merging objects, switching kinds, errors by path."""

from __future__ import annotations

import json
from itertools import permutations

import pytest
from typer.testing import CliRunner

from noether import presets
from noether.cli import app
from noether.edit import EditError, apply, set_path
from noether.spec import DYNAMICS_KINDS, ExperimentSpec, SpecError, parse_spec

NETWORK = {"model": {"widths": [64, 128, 128, 10], "activation": {"kind": "swish", "beta": 1.0}},
           "data": {"kind": "digits", "samples": 200}, "dynamics": {"kind": "gd", "lr": 0.07, "weight_decay": 0.001},
           "steps": 500}


def test_a_path_sets_one_field_and_leaves_the_spec_it_was_given_alone():
    edited = set_path(NETWORK, "dynamics.lr", 0.05)
    assert edited["dynamics"] == {"kind": "gd", "lr": 0.05, "weight_decay": 0.001}
    assert NETWORK["dynamics"]["lr"] == 0.07  # a copy: the caller's spec is not changed
    assert set_path(NETWORK, "model.widths.1", 64)["model"]["widths"] == [64, 64, 128, 10]
    assert set_path(NETWORK, "model.activation.beta", 2.0)["model"]["activation"] == {"kind": "swish", "beta": 2.0}


def test_lists_and_numbers_are_replaced_whole():
    assert set_path(NETWORK, "model.widths", [64, 10])["model"]["widths"] == [64, 10]
    assert set_path(NETWORK, "steps", 7)["steps"] == 7


def test_an_object_merges_into_the_one_there():
    edited = set_path(NETWORK, "dynamics", {"lr": 0.2})
    assert edited["dynamics"] == {"kind": "gd", "lr": 0.2, "weight_decay": 0.001}
    assert set_path(NETWORK, "data", {"samples": 50})["data"] == {"kind": "digits", "samples": 50}


def test_a_missing_or_null_object_on_the_way_is_created():
    edited = set_path({"potential": None, "steps": 3}, "potential.dim", 4)
    assert edited == {"potential": {"dim": 4}, "steps": 3}
    assert set_path({}, "dynamics.lr", 0.5) == {"dynamics": {"lr": 0.5}}


def test_switching_dynamics_keeps_what_the_new_kind_also_has():
    sgd = parse_spec(set_path(NETWORK, "dynamics", {"kind": "sgd"}))
    assert (sgd.dynamics.kind, sgd.dynamics.lr, sgd.dynamics.weight_decay, sgd.dynamics.batch_size) == (
        "sgd", 0.07, 0.001, 32)  # lr and weight decay kept; the batch size is SGD's default
    assert sgd.model.widths == [64, 128, 128, 10] and sgd.model.activation.kind == "swish" and sgd.steps == 500
    nd = set_path(NETWORK, "dynamics", {"kind": "nd"})["dynamics"]
    assert nd == {"kind": "nd", "lr": 0.07}  # ND has no weight decay: dropped, so the spec stays valid
    explicit = set_path(NETWORK, "dynamics", {"kind": "momentum", "lr": 0.3})["dynamics"]
    assert explicit == {"kind": "momentum", "lr": 0.3, "weight_decay": 0.001}


def test_a_preset_switched_to_nag_keeps_its_learning_rate():
    toy_nd = presets.get("toy-nd").spec
    nag = toy_nd.with_overrides(dynamics={"kind": "nag"})
    assert nag.dynamics.kind == "nag" and nag.dynamics.lr == toy_nd.dynamics.lr == 0.0001
    assert nag.potential == toy_nd.potential and nag.initial == toy_nd.initial and nag.steps == toy_nd.steps


@pytest.mark.parametrize("old, new", list(permutations(DYNAMICS_KINDS, 2)))
def test_every_switch_of_dynamics_gives_a_valid_spec_with_the_shared_fields_kept(old, new):
    base = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": old}, "steps": 20}
    before = parse_spec(base).model_dump(mode="json")["dynamics"]
    before = {k: (v * 2 if isinstance(v, float) and 0 < v < 0.5 else v) for k, v in before.items()}  # not defaults
    if "t0" in before:
        before["t0"] = 0.2  # a start after 0: NAG's default t0 = 0 is no start for k1 = 3/t (validation says so)
    after = parse_spec(set_path({**base, "dynamics": before}, "dynamics", {"kind": new})).dynamics.model_dump(mode="json")
    kept = {k: v for k, v in before.items() if v is not None}  # a null (momentum's full batch) is not carried over
    default = parse_spec({**base, "dynamics": {"kind": new}}).dynamics.model_dump(mode="json")
    assert after == {k: kept.get(k, default[k]) if k != "kind" else new for k in default}


def test_switching_an_activation_in_a_list_by_index():
    spec = set_path(NETWORK, "model.activation", [{"kind": "relu"}, {"kind": "leaky_relu", "alpha": 0.2}])
    edited = set_path(spec, "model.activation.1", {"kind": "swish"})
    assert edited["model"]["activation"] == [{"kind": "relu"}, {"kind": "swish"}]  # swish has no alpha
    assert parse_spec(edited).model.activations()[1].beta == 1.0


def test_deeper_paths_apply_last_whatever_their_order():
    for edits in ({"dynamics.lr": 0.3, "dynamics": {"kind": "nd"}}, {"dynamics": {"kind": "nd"}, "dynamics.lr": 0.3}):
        assert apply(NETWORK, edits)["dynamics"] == {"kind": "nd", "lr": 0.3}


@pytest.mark.parametrize("path, says", [
    ("nothing.here", "'nothing' is not a field of the spec"),
    ("dynamics.lrr", "'lrr' is not a field of dynamics"),
    ("model.widths.4", "model.widths is a list of 4: '4' is not one of its indices 0 to 3"),
    ("model.widths.x", "'x' is not a field of model.widths"),
    ("steps.max", "'max' is not a field of steps"),
    ("dynamics..lr", "is not a field path such as 'dynamics.lr'"),
])
def test_a_bad_path_is_an_error_naming_it(path, says):
    with pytest.raises(EditError) as exc:
        set_path(NETWORK, path, 1)
    assert exc.value.path == path and says in exc.value.lines[0] and exc.value.lines[0].startswith(f"{path}: ")
    assert isinstance(exc.value, SpecError)  # the CLI, sweeps and the API already report SpecErrors


def test_with_overrides_and_the_cli_use_the_editor(tmp_path):
    spec = ExperimentSpec.model_validate(NETWORK)
    assert spec.with_overrides(steps=9, seed=None).steps == 9  # None: not given
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", "--preset", "toy-nd", "--steps", "5", "--set", "dynamics={\"kind\": \"nag\"}",
                                 "--set", "initial.position.0=0.25", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    ran = json.loads((out / "spec.json").read_text())
    assert ran["dynamics"]["kind"] == "nag" and ran["dynamics"]["lr"] == 0.0001 and ran["steps"] == 5
    assert ran["initial"]["position"][0] == 0.25
    bad = runner.invoke(app, ["run", "--preset", "toy-nd", "--set", "dynamics.lrr=1", "-q"])
    assert bad.exit_code != 0 and "dynamics.lrr: does not name a field of the spec" in bad.output

"""The launch form from the spec's JSON schema, its values back to a spec, and 422s next to their field."""

import pytest

from dashboard import forms
from dashboard.pages.launch import build_grid, collect_spec, order_presets
from noether.spec import ExperimentSpec, SpecError, parse_spec

SCHEMA = ExperimentSpec.model_json_schema()


def test_variants_come_from_the_schema():
    assert set(forms.variants(SCHEMA, "dynamics")) >= {"gd", "nd", "nag", "general", "momentum"}
    assert set(forms.variants(SCHEMA, "potential")) == {"sphere", "quadratic", "expression"}


def test_fields_carry_bounds_choices_and_types():
    dyn = {f.path: f for f in forms.section_fields(SCHEMA, "General", "dynamics")}
    assert dyn["dynamics.k1"].type == "string" and dyn["dynamics.k1"].default == "3/t"
    assert dyn["dynamics.dt"].type == "number" and "> 0" in dyn["dynamics.dt"].bounds
    top = {f.path: f for f in forms.section_fields(SCHEMA, None, "", forms.TOP_FIELDS)}
    assert top["dtype"].type == "enum" and top["dtype"].enum == ["float32", "float64"]
    assert top["steps"].type == "integer" and "<= 1e+06" in top["steps"].bounds
    model = {f.path: f for f in forms.section_fields(SCHEMA, "MLPSpec", "model", forms.MODEL_FIELDS)}
    assert model["model.widths"].type == "widths" and model["model.activation"].type == "activation"
    assert model["model.bias"].type == "boolean"


def test_a_cleared_field_says_which_default_it_will_run_with():
    top = {f.path: f for f in forms.section_fields(SCHEMA, None, "", forms.TOP_FIELDS)}
    steps = forms.field_component(top["steps"], value=300)  # the form shows 300; the spec's default is 1000
    control = steps.children[1]
    assert control.value == 300 and control.placeholder == "empty: the default, 1000"
    values, ids = form_values([("steps", "", "integer")])
    assert "steps" not in collect_spec(values, ids, "potential", None, "sphere", "gd")  # the backend's default


def form_values(pairs):
    return [v for _, v, _ in pairs], [{"path": p, "as": t} for p, _, t in pairs]


def test_form_values_make_a_valid_spec():
    values, ids = form_values([
        ("model.widths", "64-16-10", "widths"), ("model.activation", "relu, ", "activation"),
        ("model.bias", ["yes"], "boolean"), ("data.samples", "200", "integer"),
        ("dynamics.lr", "0.05", "number"), ("steps", "100", "integer"), ("seed", "", "integer"),
        ("dtype", "float64", "enum"),
    ])
    spec = collect_spec(values, ids, "network", "digits", "sphere", "nd")
    assert spec["model"] == {"widths": [64, 16, 10], "activation": "relu", "bias": True}
    assert spec["dynamics"] == {"kind": "nd", "lr": 0.05} and "seed" not in spec and "potential" not in spec
    parsed = parse_spec(spec)
    assert parsed.dtype == "float64" and parsed.data.samples == 200


def test_per_layer_activations_with_parameters():
    assert forms.convert("relu, repu(2), swish(1, fixed)", "activation") == ["relu", "repu(2)", "swish(1, fixed)"]


def test_potential_form_drops_the_network():
    values, ids = form_values([("model.widths", "64-16-10", "widths"), ("potential.dim", "3", "integer"),
                               ("initial.position", "0.5, 0.5, 0.5", "list"), ("dynamics.lr", "0.001", "number")])
    spec = collect_spec(values, ids, "potential", "digits", "sphere", "nd")
    assert "model" not in spec and "data" not in spec
    assert parse_spec(spec).initial.position == [0.5, 0.5, 0.5]


def pydantic_detail(spec):
    from pydantic import ValidationError

    try:
        ExperimentSpec.model_validate(spec)
    except ValidationError as exc:
        return [{"loc": ["body", "spec", *e["loc"]], "msg": e["msg"], "type": e["type"], "input": e.get("input")}
                for e in exc.errors()]
    pytest.fail("spec was valid")


def test_a_422_lands_next_to_the_field_it_names():
    spec = {"model": {"widths": [64, 16, 10]}, "data": {"kind": "digits"}, "dynamics": {"kind": "nd", "lr": -1},
            "steps": 5_000_000}
    known = {"model.widths", "dynamics.lr", "steps", "data.samples"}
    by_path, rest = forms.errors_by_path(pydantic_detail(spec), known)
    assert "dynamics.lr" in by_path and "greater than 0" in by_path["dynamics.lr"][0]
    assert "steps" in by_path and "1000000" in by_path["steps"][0]
    assert not rest


def test_a_model_level_error_names_its_field_in_the_text():
    spec = {"model": {"widths": [10, 16, 10]}, "data": {"kind": "digits"}}
    with pytest.raises(SpecError):
        parse_spec(spec)
    by_path, _ = forms.errors_by_path(pydantic_detail(spec), {"model.widths"})
    assert "model.widths" in by_path and "64" in by_path["model.widths"][0]


def test_sweep_grid_from_the_sweep_inputs():
    grid = build_grid("0, 1", "0.01, 0.02", "64-16-10; 64-32-10", ["gd", "nd"])
    assert grid["seed"] == [0, 1] and grid["dynamics.lr"] == [0.01, 0.02]
    assert grid["model.widths"] == [[64, 16, 10], [64, 32, 10]]
    assert grid["dynamics"] == [{"kind": "gd"}, {"kind": "nd"}]
    assert build_grid("", None, "", []) == {}


def test_a_sweep_over_dynamics_runs_each_kind_at_the_forms_learning_rate():
    from noether.sweep import expand

    spec = {"model": {"widths": [64, 16, 10]}, "data": {"kind": "digits", "samples": 100},
            "dynamics": {"kind": "sgd", "lr": 0.07, "batch_size": 16}, "steps": 5}
    runs = expand(spec, build_grid("", None, "", ["gd", "momentum", "sgd"]))
    assert [(s.dynamics.kind, s.dynamics.lr) for _, s in runs] == [("gd", 0.07), ("momentum", 0.07), ("sgd", 0.07)]
    assert runs[1][1].dynamics.batch_size == 16 and runs[2][1].dynamics.batch_size == 16  # shared fields stay


def test_paper_figures_come_first():
    presets = [{"name": "zeta"}, {"name": "b", "figure": "Fig. 3"}, {"name": "a", "figure": "Fig. 1"}]
    assert [p["name"] for p in order_presets(presets)] == ["a", "b", "zeta"]
    fig1 = [{"name": "fig1-gd", "figure": "Fig. 1 (left)"}, {"name": "fig1-nd", "figure": "Fig. 1 (middle)"},
            {"name": "fig1-nag", "figure": "Fig. 1 (right)"}]
    assert [p["name"] for p in order_presets(fig1)] == ["fig1-gd", "fig1-nd", "fig1-nag"]  # as in the paper


def test_switching_dynamics_in_the_form_keeps_the_users_fields_and_says_what_it_added():
    spec = {"model": {"widths": [64, 128, 128, 10], "activation": "swish(1)"}, "data": {"kind": "digits"},
            "dynamics": {"kind": "gd", "lr": 0.07}, "steps": 500}
    switched, note = forms.switch_kind(spec, "dynamics", "sgd", SCHEMA)
    assert switched == {**spec, "dynamics": {"kind": "sgd", "lr": 0.07, "batch_size": 32}}
    assert note == "Switching dynamics from gd to sgd added batch_size = 32."
    back, note = forms.switch_kind({**spec, "dynamics": {"kind": "nag", "lr": 0.07, "t0": 0.5}}, "dynamics", "gd", SCHEMA)
    assert back["dynamics"] == {"kind": "gd", "lr": 0.07, "weight_decay": 0.0}  # what gd has and nag lacks: added
    assert "added weight_decay = 0" in note and "dropped t0 = 0.5" in note
    momentum, note = forms.switch_kind(spec, "dynamics", "momentum", SCHEMA)
    assert momentum["dynamics"] == {"kind": "momentum", "lr": 0.07, "beta": 0.9} and "batch_size (empty: the default)" in note


@pytest.mark.parametrize("old", ["gd", "sgd", "momentum", "adam", "nd", "nag", "leapfrog", "rk4", "general"])
@pytest.mark.parametrize("new", ["gd", "sgd", "momentum", "adam", "nd", "nag", "leapfrog", "rk4", "general"])
def test_the_forms_kind_switch_keeps_what_the_cores_editor_keeps(old, new):
    from noether.edit import set_path

    dynamics = parse_spec({"potential": {"kind": "sphere"}, "dynamics": {"kind": old}}).model_dump(mode="json")["dynamics"]
    spec = {"potential": {"kind": "sphere"}, "dynamics": dynamics}
    if old == new:
        return
    form, _ = forms.switch_kind(spec, "dynamics", new, SCHEMA)
    core = set_path(spec, "dynamics", {"kind": new})
    assert {k: v for k, v in form["dynamics"].items() if k in core["dynamics"]} == core["dynamics"]
    defaults = forms.kind_fields(SCHEMA, "dynamics", new)
    assert all(defaults[k] == v for k, v in form["dynamics"].items() if k not in core["dynamics"])  # only defaults


def test_switching_to_a_potential_and_back_brings_the_network_back():
    spec = {"model": {"widths": [64, 128, 10]}, "data": {"kind": "digits", "samples": 300},
            "dynamics": {"kind": "nd", "lr": 0.001}, "steps": 40}
    defaults = {"potential": {"kind": "sphere"}, "model": {"widths": [64, 16, 10]}, "data": {"kind": "digits"}}
    toy, aside, note = forms.switch_problem(spec, "potential", {}, defaults)
    assert toy == {"potential": {"kind": "sphere"}, "dynamics": {"kind": "nd", "lr": 0.001}, "steps": 40}
    assert "model and data aside" in note
    toy["initial"] = {"position": [1.0, 0.0, 0.0]}
    net, aside, _ = forms.switch_problem(toy, "network", aside, defaults)
    assert net["model"] == spec["model"] and net["data"] == spec["data"] and net["initial"] == {}
    assert parse_spec(net).dynamics.lr == 0.001
    toy_again, _, _ = forms.switch_problem(net, "potential", aside, defaults)
    assert toy_again["initial"] == {"position": [1.0, 0.0, 0.0]} and toy_again["potential"] == {"kind": "sphere"}


def test_a_field_left_out_of_the_spec_is_empty_and_shows_its_default():
    dyn = {f.path: f for f in forms.section_fields(SCHEMA, "SGD", "dynamics")}
    empty = forms.field_component(dyn["dynamics.batch_size"]).children[1]
    assert empty.value == "" and empty.placeholder == "empty: the default, 32"
    dtype = {f.path: f for f in forms.section_fields(SCHEMA, None, "", forms.TOP_FIELDS)}["dtype"]
    menu = forms.field_component(dtype).children[1]
    assert menu.value is None and menu.placeholder == "empty: the default, float32" and menu.clearable
    momentum = {f.path: f for f in forms.section_fields(SCHEMA, "Momentum", "dynamics")}
    assert forms.field_component(momentum["dynamics.batch_size"]).children[1].placeholder == "empty: full batch"
    top = {f.path: f for f in forms.section_fields(SCHEMA, None, "", forms.TOP_FIELDS)}
    assert forms.field_component(top["tolerance"]).children[1].placeholder == "empty: per law"


def test_dynamics_options_describe_each_kind_from_the_cores_records_and_search_only_its_code():
    from noether.dynamics import DYNAMICS

    texts = forms.kind_texts(SCHEMA, "dynamics")
    options = forms.kind_options("dynamics", list(forms.variants(SCHEMA, "dynamics")), texts)
    assert {o["value"] for o in options} == set(texts)  # one description per kind the schema offers
    for o in options:  # the label and description written once, in the kind's record (noether.dynamics)
        assert f"{DYNAMICS[o['value']].label}: " in str(o["label"])
    assert [o["value"] for o in options][:2] == ["gd", "sgd"]  # the paper's order
    assert all(o["search"] == o["value"] for o in options)  # 'sgd' does not find gd's "gradient descent" text


@pytest.mark.parametrize("data", [{"kind": "digits"}, {"kind": "synthetic"}, {"kind": "synthetic", "inputs": 20,
                                  "classes": 3}, {"kind": "rotation"}, {"kind": "rotation", "dim": 5, "target": "shells"},
                                  {"kind": "file", "name": "kmnist"}])
def test_the_forms_data_shape_is_the_cores(data):
    from noether.spec import data_shape

    d_in, d_out = forms.data_shape(data, SCHEMA)
    spec = parse_spec({"model": {"widths": [d_in, 8, d_out]}, "data": data,
                       "loss": "mse" if data["kind"] == "rotation" else "nll"})  # valid: the shape fits
    assert (d_in, d_out) == data_shape(spec.data, spec.loss)


def test_switching_data_fits_the_first_and_last_widths_and_says_so():
    spec = {"model": {"widths": [64, 128, 10], "activation": "swish(1)"}, "data": {"kind": "digits", "samples": 300},
            "dynamics": {"kind": "sgd", "lr": 0.07, "batch_size": 32}}
    switched, _ = forms.switch_kind(spec, "data", "synthetic", SCHEMA)
    fitted, note = forms.fit_widths(switched, spec["data"], SCHEMA)
    assert fitted["model"] == {"widths": [784, 128, 10], "activation": "swish(1)"} and "784-128-10" in note
    assert parse_spec(fitted).data.samples == 300 and fitted["dynamics"] == spec["dynamics"]
    custom = {**spec, "model": {"widths": [30, 128, 10]}}  # a width that did not fit the old data is the user's
    assert forms.fit_widths(forms.switch_kind(custom, "data", "rotation", SCHEMA)[0], spec["data"], SCHEMA)[0][
        "model"]["widths"] == [30, 128, 1]


def every_form_field() -> list:
    """Every field the form can draw: the model's, the run settings, the initial state and every kind's section."""
    out = [*forms.section_fields(SCHEMA, "MLPSpec", "model", forms.MODEL_FIELDS),
           *forms.section_fields(SCHEMA, None, "", forms.TOP_FIELDS),
           *forms.section_fields(SCHEMA, "InitialState", "initial")]
    for section in ("data", "potential", "dynamics"):
        for def_name in forms.variants(SCHEMA, section).values():
            out += forms.section_fields(SCHEMA, def_name, section)
    return out


def test_every_field_label_is_readable_words_with_the_fields_name():
    """Issue 12 (the researcher): labels read 'Lr', 'T0', pydantic's titles made from the names. Every field of every
    kind now has words (LABELS), in lower case, with the spec's name in brackets where the words do not spell it."""
    fields = every_form_field()
    assert {f.path.split(".")[0] for f in fields} >= {"model", "data", "potential", "dynamics", "initial", "steps"}
    for f in fields:
        name = f.path.rsplit(".", 1)[-1]
        assert f.label != name.replace("_", " ").title() or f.label == name, f"{f.path}: '{f.label}' is pydantic's title"
        assert name in forms.LABELS or f.path in forms.LABELS, f"{f.path} has no readable name in forms.LABELS"
        assert f.label == name or f.label.endswith(f"({name})") or f.label.replace(" ", "_") == name, f.label
    by_path = {f.path: f.label for f in fields}
    assert by_path["dynamics.lr"] == "learning rate (lr)" and by_path["dynamics.t0"] == "start time t0 (t0)"
    assert by_path["dynamics.batch_size"] == "batch size" and by_path["steps"] == "steps"
    assert by_path["data.dim"] == "input dimension d_x (dim)" and by_path["potential.dim"] == "dimension d of w (dim)"


def test_a_label_written_in_the_schema_wins_over_the_table():
    node = {"type": "number", "title": "Lr"}  # pydantic's own title: not a label
    assert forms.field_label("dynamics.lr", node, node) == "learning rate (lr)"
    assert forms.field_label("dynamics.lr", {"title": "step size eta"}, {}) == "step size eta (lr)"
    assert forms.field_label("dynamics.lr", {"x-label": "eta"}, {}) == "eta (lr)"
    assert forms.field_label("dynamics.new_knob", {}, {}) == "new knob"  # no entry: the name in words


def test_batch_norm_is_a_model_checkbox_with_the_schemas_help_and_a_per_layer_list_round_trips():
    model = {f.path: f for f in forms.section_fields(SCHEMA, "MLPSpec", "model", forms.MODEL_FIELDS)}
    bn = model["model.batch_norm"]
    assert bn.label == "BatchNorm after each hidden layer (batch_norm)" and bn.type == "flags"
    description = SCHEMA["$defs"]["MLPSpec"]["properties"]["batch_norm"]["description"]
    assert bn.help == description
    box = forms.field_component(bn, True)  # the bool form: a checkbox, checked
    assert box.children[1].id["as"] == "boolean" and box.children[1].value == ["yes"]
    assert description in box.children[2].children and box.children[0].title == description
    assert forms.field_component(bn, None).children[1].value == []  # the default, False
    per_layer = forms.field_component(bn, [True, False]).children[1]  # the list form (the batchnorm preset's)
    assert per_layer.id["as"] == "flaglist" and per_layer.value == "yes, no"
    eps = model["model.batch_norm_eps"]
    assert eps.type == "number" and "scale invariance" in eps.help
    for value in (True, False, [True, False], [False, True]):
        box = forms.field_component(bn, value).children[1]
        collected = [(("model.widths", "64-32-32-10", "widths")), ("model.batch_norm", box.value, box.id["as"]),
                     ("model.batch_norm_eps", "0.001", "number")]
        values, ids = form_values(collected)
        spec = collect_spec(values, ids, "network", "digits", "sphere", "gd")
        assert spec["model"]["batch_norm"] == value and spec["model"]["batch_norm_eps"] == 0.001
        parse_spec(spec)  # and the core takes it


@pytest.mark.parametrize("batch_norm", [True, [True, False]])
def test_a_spec_with_batch_norm_survives_the_url_and_the_form(batch_norm):
    """/?spec=... (a shared link, "Edit in form" on the batchnorm preset) draws the form, whose fields give the spec
    back: the flag (or the per-layer flags) and eps are not lost on the way."""
    from urllib.parse import parse_qs, unquote, urlparse

    from dashboard.pages.launch import form_spec, initial_form, render_form
    from dashboard.specurl import launch_href

    spec = {"model": {"widths": [64, 32, 32, 10], "activation": "relu", "bias": True, "batch_norm": batch_norm,
                      "batch_norm_eps": 0.001},
            "data": {"kind": "digits"}, "dynamics": {"kind": "gd", "lr": 0.2}, "steps": 50}
    query = parse_qs(urlparse(launch_href(spec)).query)["spec"][0]
    base = initial_form(unquote(query))["base"]  # what the page does with its ?spec= parameter
    assert base == spec
    sections = render_form(SCHEMA, base)
    boxes = [box for section in sections[:6] for box in section]
    controls = [box.children[1] for box in boxes]
    values, ids = [c.value for c in controls], [c.id for c in controls]
    back = form_spec(values, ids, base)
    assert back["model"]["batch_norm"] == batch_norm and back["model"]["batch_norm_eps"] == 0.001
    assert parse_spec(back).model.batch_norms() == ([True, True] if batch_norm is True else batch_norm)

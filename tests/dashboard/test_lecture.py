"""Pure parts of issue 15 items 5-7: a spec in a URL, formulas typeset for MathJax, the sliders' specs."""

from __future__ import annotations

import math

import pytest

from dashboard import playground
from dashboard.mathtext import to_markdown
from dashboard.pages import launch, run
from dashboard.specurl import MAX_ENCODED, SpecUrlError, decode_spec, encode_spec, launch_href
from noether import presets
from noether.spec import parse_spec


def test_a_spec_survives_the_url_and_garbage_is_refused():
    spec = presets.get("toy-nag").spec.model_dump(mode="json")
    assert decode_spec(encode_spec(spec)) == spec
    assert launch_href(spec).startswith("/?spec=") and "=" not in launch_href(spec)[len("/?spec="):]
    for bad in ("", "not base64!", encode_spec([1, 2]), "x" * (MAX_ENCODED + 1)):  # type: ignore[arg-type]
        with pytest.raises(SpecUrlError):
            decode_spec(bad)


def test_the_launch_form_starts_from_the_spec_in_the_url():
    spec = {"potential": {"expression": "x*y*z", "dim": 3}, "dynamics": {"kind": "nag", "lr": 0.01, "t0": 1}}
    start = launch.initial_form(encode_spec(spec))
    assert (start["problem"], start["potential"], start["dynamics"], start["scroll"]) == ("potential", "expression",
                                                                                        "nag", True)
    assert start["base"] == spec
    broken = launch.initial_form("%%%")
    assert broken["base"] == launch.DEFAULT_SPEC and "not valid" in broken["status"].children


@pytest.mark.parametrize("text, typeset", [
    ("|W_2|^2 - |W_3|^2 stays put.", "$\\vert W_{2}\\vert ^{2} - \\vert W_{3}\\vert ^{2}$ stays put."),
    ("|J| falls off as t^-3: slope -3", "$\\vert J\\vert$ falls off as $t^{-3}$: slope -3"),
    ("the orbit stays in the plane y = z, normal to J", "the orbit stays in the plane $y = z$, normal to J"),
    ("In a lab, x is a word.", "In a lab, x is a word."),
    ("<W_h, W_h''> = 0", "<W\\_h, W\\_h''> = 0"),  # no HTML-looking formulas; prose underscores are literal
    ("(|W_4(0)|^2 - |W_4(t)|^2): deep", "($\\vert W_{4}(0)\\vert ^{2} - \\vert W_{4}(t)\\vert ^{2}$): deep"),
])
def test_formulas_are_typeset_and_prose_is_left_alone(text, typeset):
    assert to_markdown(text) == typeset


def test_sliders_rerun_the_runs_own_spec_over_the_same_physical_time():
    nd = presets.get("toy-nd").spec.model_dump(mode="json")
    ids = [s["id"] for s in playground.sliders(nd)]
    assert ids == ["lr", "speed", "friction"]
    spec = playground.play_spec(nd, {"lr": math.log10(4e-4), "speed": 2.0, "friction": 0.0})
    parse_spec(spec)  # valid
    assert spec["dynamics"] == {"kind": "nd", "lr": pytest.approx(4e-4)}
    assert spec["initial"]["velocity"] == [-4.0, 2.0, 2.0]
    assert spec["steps"] * math.sqrt(4e-4) == pytest.approx(nd["steps"] * math.sqrt(1e-4))  # same t span
    damped = playground.play_spec(nd, {"lr": -4, "speed": 1, "friction": 1.0})
    assert damped["dynamics"]["kind"] == "momentum" and damped["dynamics"]["beta"] == pytest.approx(1 - 0.01)
    nag = presets.get("toy-nag").spec.model_dump(mode="json")
    assert [s["id"] for s in playground.sliders(nag)] == ["lr", "speed", "t0"]
    assert playground.play_spec(nag, {"lr": -4, "t0": 6.0})["dynamics"]["t0"] == 6.0
    assert not playground.applies(presets.get("fig1-gd").spec.model_dump(mode="json"))


def test_the_previous_result_is_drawn_faint_and_the_current_one_solid():
    cur = {"label": "now", "columns": {"t": [0, 1], "loss": [1, 0.5], "angular_momentum": [2, 2]},
           "position": [[0, 0, 0], [1, 1, 1]]}
    prev = dict(cur, label="before")
    path, lines = playground.figures(cur, prev)
    assert [t.opacity for t in path.data] == [playground.FAINT, 1.0]
    assert {t.opacity for t in lines.data if t.showlegend is False} == {playground.FAINT}
    big, _ = playground.figures(cur, None, present=True)
    assert big.layout.font.size >= 18 and big.data[0].line.width >= 4


def test_the_header_shows_the_presets_title():
    assert run.run_title({"name": "toy-nd"}, {"title": "Rotation toy"}) == "Rotation toy"
    assert run.run_title({"name": "mine"}, {}) == "mine"
    assert run.run_title(None, None) == "Run"
    parts = run.story({"look_at": "the plane y = z", "prediction": "|J| ~ t^-3"})
    assert [p.id for p in parts] == ["run-story-look-at", "run-story-prediction"]


def test_each_what_if_slider_has_a_box_that_shows_eta_itself():
    from dashboard import playground

    spec = {"potential": {"kind": "sphere"}, "dynamics": {"kind": "nag", "lr": 1e-4, "t0": 0.5},
            "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]}, "steps": 100}
    boxes = {}
    for s in playground.sliders(spec):
        div = playground.slider_component(s)
        found = [c for c in _walk(div) if getattr(c, "id", None) == {"type": "run-play-box", "name": s["id"]}]
        assert len(found) == 1 and found[0].debounce is True  # Enter (n_submit) or leaving the box commits
        boxes[s["id"]] = found[0].value
    assert boxes["lr"] == pytest.approx(1e-4) and boxes["t0"] == pytest.approx(0.5) and boxes["speed"] == 1.0


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        yield from _walk(child)


def test_the_chart_a_look_at_text_names_comes_first():
    from dashboard.figures import pointed_at
    from noether.presets import get

    assert pointed_at(get("fig1-gd").look_at, ["balance/h1", "residual/h2", "balance/h2"]) == ["balance/h2"]
    assert pointed_at("the energy |w'|^2/2 + L stays constant", ["energy"]) == []  # prose is not a pointer

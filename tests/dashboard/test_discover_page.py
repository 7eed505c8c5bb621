"""The Discover page: its pure builders, and a user discovering the rotation toy's symmetries in Chromium."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from dashboard.pages.discover import (
    TERMS,
    block_figure,
    drift_columns,
    drift_figure,
    drift_name,
    header,
    law_rows,
    plain_summary,
    request_body,
    where,
)

TOY = {
    "potential": {"kind": "sphere", "dim": 3},
    "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
    "dynamics": {"kind": "nd", "lr": 1e-4},
    "steps": 300,
}

DISCOVERY = {
    "parameters": 3, "candidates": {"rotation": 9}, "equations": {"potential": 48}, "tolerance": 1e-5,
    "gap": {"potential": 0.2}, "generators": 3, "symmetric": 0, "antisymmetric": 3, "mixed": 0,
    "closed_under_transposition": True, "notes": [], "timing": {"total_s": 1.2},
    "laws": [
        {"id": "discovered/potential/charge", "kind": "charge", "level": "potential", "count": 3,
         "name": "angular momentum J = w' w^T - w w'^T", "matches": ["angular_momentum"], "new": False,
         "residual": 4e-17, "zscore": None, "note": None},
        {"id": "discovered/inputs/quantity", "kind": "quantity", "level": "model", "count": 1,
         "name": "dead input", "matches": [], "new": True, "residual": 1e-14, "zscore": None, "note": "x"},
        {"id": "discovered/outputs/quantity", "kind": "quantity", "level": "model", "count": 1,
         "name": "|s|^2 / 2, s = 1^T W_2: the sums over classes", "matches": ["translation"], "new": False,
         "residual": 1e-14, "zscore": None, "note": None},
    ],
    "blocks": [{"title": "K[0,1]", "group": "potential", "rows": ["0", "1", "2"], "cols": ["0", "1", "2"],
                "matrix": [[0, 1, 0], [-1, 0, 0], [0, 0, 0]], "parity": "antisymmetric", "residual": 0.0}],
}


def test_request_body_from_the_form():
    assert request_body("toy-nd", "", 100) == ({"preset": "toy-nd", "verify_steps": 100}, "")
    body, why = request_body("toy-nd", json.dumps(TOY), None)
    assert body == {"spec": TOY} and why == ""  # a pasted spec wins over the preset
    assert request_body(None, "{not json", 10)[0] is None
    assert "preset or paste" in request_body(None, "", 10)[1]
    assert "whole number" in request_body("toy-nd", "", "ten")[1]


def test_law_rows_name_the_catalogue_match_or_flag_new_and_carry_verdicts():
    rows = law_rows(DISCOVERY, [{"id": "discovered/potential/charge", "verdict": "holds", "max_rel_drift": 1e-15}])
    assert rows[0]["catalogue"] == "angular_momentum" and rows[0]["verdict"] == "holds"
    assert rows[1]["catalogue"] == "new" and rows[1]["verdict"] == "-" and "(x)" in rows[1]["name"]
    assert rows[2]["catalogue"] == "translation"  # the softmax shift: the catalogue's translation law, not new


def text_of(node) -> str:
    """The visible text of a Dash component tree."""
    if isinstance(node, str | int | float):
        return str(node)
    if isinstance(node, list):
        return " ".join(text_of(n) for n in node)
    return text_of(getattr(node, "children", None) or "")


def test_the_summary_says_in_words_what_was_found_and_what_is_new():
    text = text_of(plain_summary(DISCOVERY))
    assert text.startswith("3 symmetries found among 3 parameters. They give 3 conservation laws: 2 of the lab's"
                           " catalogue, 1 not in it (new).")
    assert "w (the potential): 3 generator(s)" in text and "the catalogue's angular_momentum" in text
    assert "inputs: 1 generator(s)" in text and "not in the catalogue (new)" in text
    assert "outputs: 1 generator(s)" in text and "the catalogue's translation" in text
    assert where({"id": "discovered/inputs~data/charge"}) == "inputs (data)"
    assert law_rows(DISCOVERY)[0]["where"] == "w (the potential)"
    for term in ("quantity", "charge", "residual", "closed under transposition", "search residual"):
        assert TERMS[term]  # every term the page prints is explained


def test_a_candidate_the_verification_run_broke_is_not_counted_as_a_law():
    """A cold try read "2 not in it (new)" above a table that marked both broken (sampling noise let them through)."""
    verdicts = [{"id": "discovered/potential/charge", "verdict": "holds"},
                {"id": "discovered/inputs/quantity", "verdict": "broken"}]
    text = text_of(plain_summary(DISCOVERY, verdicts))
    assert text.startswith("3 symmetries found among 3 parameters. They give 2 conservation laws: 2 of the lab's"
                           " catalogue, 0 not in it (new). 1 more candidate broke in the verification run")
    assert "inputs: 1 generator(s)" in text and "broke in the verification run, so not a conservation law" in text
    assert "not in the catalogue (new)" not in text


def test_header_blocks_and_drift_builders():
    text = " ".join(p.children for p in header(DISCOVERY))
    assert "3 antisymmetric" in text and "rotation 9" in text
    fig = block_figure(DISCOVERY["blocks"][0])
    assert [list(r) for r in fig.data[0].z] == [[0, 1, 0], [-1, 0, 0], [0, 0, 0]] and fig.data[0].zmid == 0
    cols = ["step", "loss", "discovered/potential/charge", "discovered/potential/charge:drift",
            "discovered/potential/residual", "angular_momentum"]
    assert drift_columns(cols) == ["discovered/potential/charge:drift", "discovered/potential/residual"]
    series = {"step": [0, 10], "columns": {"discovered/potential/charge:drift": {"max": [0.0, 1e-15]}}}
    fig = drift_figure(series)
    # the legend in words; an exact 0 stays on the log axis at the smallest positive value shown, and says so
    assert fig.data[0].name == "charge (w, the potential)" and list(fig.data[0].y) == [1e-15, 1e-15]
    assert any("smallest positive value" in a.text for a in fig.layout.annotations)
    assert drift_name("discovered/layer2/quantity:drift") == "quantity (layer 2)"
    assert drift_name("discovered/inputs~data/charge:drift") == "charge (the inputs, from the data)"


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_user_discovers_the_toys_rotations_and_sees_them_verified(lab, page):
    page.goto(lab.url + "/discover")
    page.click("summary")
    page.fill("#discover-spec", json.dumps(TOY))
    page.fill("#discover-steps", "300")
    page.click("#discover-go")
    page.wait_for_function(
        "() => document.querySelector('#discover-laws') && document.querySelector('#discover-laws').innerText"
        ".includes('angular_momentum')", timeout=180_000,
    )
    table = page.inner_text("#discover-laws")
    assert "w (the potential)" in table and "charge" in table and "holds" in table
    summary = page.inner_text("#discover-summary")  # in words, for someone who has not read the paper
    assert summary.startswith("3 symmetries found among 3 parameters. They give 1 conservation law: 1 of the lab's")
    assert "the catalogue's angular_momentum" in summary
    assert page.locator("#discover-blocks .js-plotly-plot").count() >= 3  # so(3): three generator heatmaps
    job = page.url.split("run=")[-1]
    rec = httpx.get(f"{lab.api}/runs/{job}", timeout=10).json()
    assert rec["kind"] == "discovery" and rec["summary"]["discovery"]["generators"] == 3
    deadline = time.monotonic() + 20  # the drift chart is drawn from the verification run's series
    while time.monotonic() < deadline and page.locator("#discover-drift .scatterlayer .trace").count() == 0:
        time.sleep(0.5)
    assert page.locator("#discover-drift .scatterlayer .trace").count() >= 1
    assert not page.errors
    # the job is also an ordinary run page: its series and the verdicts of discovered and catalogue laws
    page.goto(f"{lab.url}/runs/{job}")
    page.wait_for_function(
        "() => document.querySelector('#run-verdicts') && document.querySelector('#run-verdicts').innerText"
        ".includes(\"angular momentum J = w' w^T - w w'^T\")", timeout=60_000,  # the discovered law, by name
    )
    assert not page.errors


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_a_preset_discovery_keeps_its_preset_in_the_url_and_the_form(lab, page):
    page.goto(lab.url + "/discover?preset=toy-nd")  # a shared link, or the gallery's preset
    page.click("#discover-go")
    page.wait_for_function("() => location.search.includes('run=')", timeout=60_000)
    assert "preset=toy-nd" in page.url
    page.wait_for_function("() => document.querySelector('#discover-preset').innerText.includes('toy-nd')")
    page.wait_for_function("() => document.querySelector('#discover-laws') && document.querySelector('#discover-laws')"
                           ".innerText.includes('angular_momentum')", timeout=120_000)
    assert "pick a preset" not in page.inner_text("#discover-msg")
    assert not page.errors

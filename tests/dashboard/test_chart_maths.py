"""Chart titles and legends typeset by assets/present.js (``NoetherStyle.tex``), run in Node: what MathJax gets.

Two glitches a lecturer saw (issue 15): "NAG's" typeset as NAG′s (TeX reads the apostrophe as a prime) and a
legend reading angular_{momentum} (an id's underscore read as a subscript).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

PRESENT_JS = Path(__file__).resolve().parents[2] / "dashboard" / "assets" / "present.js"

HARNESS = """
global.window = {};
global.document = {body: {classList: {contains: () => false}}, documentElement: {}, querySelectorAll: () => []};
global.MutationObserver = class { observe() {} };
global.setInterval = () => 0;
require(process.argv[1]);
const texts = JSON.parse(process.argv[2]);
process.stdout.write(JSON.stringify(texts.map((s) => window.NoetherStyle.tex(s))));
"""


def tex(*texts: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run([node, "-e", HARNESS, str(PRESENT_JS), json.dumps(texts)], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


def test_a_possessive_stays_a_word_and_the_formula_beside_it_is_typeset():
    (out,) = tex("prediction: NAG's discrete balance of eq. 35 (E(t0) - int (3/s) |w'|^2 ds), step by step")
    assert out.startswith("$") and "\\text{NAG's}" in out  # upright text: no prime
    assert "\\vert w'\\vert ^{2}" in out  # the formula is still typeset


@pytest.mark.parametrize("text", ["angular_momentum", "angular_momentum:vector", "rotation_residual"])
def test_an_id_alone_is_left_as_plain_text(text):
    assert tex(text) == [text]


def test_an_id_beside_a_formula_is_upright_text_not_a_subscript():
    (out,) = tex("balance_sum drift |W_2|^2")
    assert "\\text{balance_sum}" in out and "_{sum}" not in out
    assert "W_{2}" in out


def test_formulas_are_typeset_as_before():
    assert tex("|W_2|^2 - |W_3|^2") == ["$\\vert W_{2}\\vert ^{2}\\ -\\ \\vert W_{3}\\vert ^{2}$"]
    assert tex("Loss") == ["Loss"]


def test_greek_names_are_whole_words_beta_is_not_b_eta():
    """A cold try read |beta_1|^2 typeset as |b eta_1|^2: eta was replaced inside beta."""
    (beta, eta) = tex("|beta_1|^2", "eta_k |g_k|^2")
    assert "\\beta" in beta and "b\\eta" not in beta
    assert eta.startswith("$\\eta _{k}")


def test_a_typeset_legend_name_leaves_the_hover_box_its_plain_name():
    """A hover box cannot typeset: a cold try saw raw $\\vert J...$ there."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = HARNESS.replace("window.NoetherStyle.tex(s)", "window.NoetherStyle.apply([{name: s}], {}, '2d').data[0]")
    harness = harness.replace("global.window = {};", "global.window = {MathJax: {typesetPromise: () => 0}};")
    out = subprocess.run([node, "-e", harness, str(PRESENT_JS), json.dumps(["|W_2|^2 - |W_3|^2"])],
                         capture_output=True, text=True, timeout=60, check=True)
    (trace,) = json.loads(out.stdout)
    assert trace["name"].startswith("$")  # the legend is typeset
    assert "|W_2|^2 - |W_3|^2" in trace["hovertemplate"] and "$" not in trace["hovertemplate"]

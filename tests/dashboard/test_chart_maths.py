"""Chart titles and legends with formulas, drawn by assets/present.js (``NoetherStyle.rich``), run in Node.

Plotly draws its own rich text (<i>, <sub>, <sup>) at once, in legends, hover boxes and exports alike: no
MathJax on the charts (issue 12 item 4: typesetting cost about 0.3 s per chart on page load). Two glitches a
lecturer saw with typesetting (issue 15) must not come back: "NAG's" read as NAG′s (a prime) and a legend
reading angular_{momentum} (an id's underscore read as a subscript).
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
process.stdout.write(JSON.stringify(texts.map((s) => window.NoetherStyle.rich(s))));
"""


def rich(*texts: str) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run([node, "-e", HARNESS, str(PRESENT_JS), json.dumps(texts)], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


def test_the_balance_law_reads_as_in_the_paper():
    (out,) = rich("|W_2|^2 - |W_3|^2")
    assert out == "|<i>W</i><sub>2</sub>|<sup>2</sup> \u2212 |<i>W</i><sub>3</sub>|<sup>2</sup>"


def test_a_possessive_stays_a_word_and_the_formula_beside_it_is_set():
    (out,) = rich("prediction: NAG's discrete balance of eq. 35 (E(t0) - int (3/s) |w'|^2 ds), step by step")
    assert "NAG's" in out and "NAG\u2032" not in out  # no prime
    assert "|<i>w</i>\u2032|<sup>2</sup>" in out  # the formula is still set: w', squared


@pytest.mark.parametrize("text", ["angular_momentum", "angular_momentum:vector", "rotation_residual", "Loss",
                                  "balance, layer 2"])
def test_an_id_or_prose_alone_is_left_as_it_is(text):
    assert rich(text) == [text]


def test_an_id_beside_a_formula_is_upright_text_not_a_subscript():
    (out,) = rich("balance_sum drift |W_2|^2")
    assert out.startswith("balance_sum drift ") and "<sub>sum</sub>" not in out
    assert "<i>W</i><sub>2</sub>" in out


def test_greek_names_are_whole_words_beta_is_not_b_eta():
    """A cold try read |beta_1|^2 typeset as |b eta_1|^2: eta was replaced inside beta."""
    (beta, eta) = rich("|beta_1|^2", "eta_k |g_k|^2")
    assert beta == "|\u03b2<sub>1</sub>|<sup>2</sup>"
    assert eta.startswith("\u03b7<sub><i>k</i></sub> ")


def test_exponents_use_a_true_minus_and_markup_is_never_passed_through():
    (power, markup) = rich("|J| ~ t^(-3)", "<b>|W_2|^2</b>")
    assert power == "|<i>J</i>| ~ <i>t</i><sup>\u22123</sup>"
    assert markup == "<b>|W_2|^2</b>"  # a name carrying markup is drawn as given, not rewritten


def test_a_legend_name_is_set_in_the_legend_and_the_hover_box_alike():
    """Rich text is drawn by Plotly itself: the trace's name is the same everywhere, no raw $...$ anywhere."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = HARNESS.replace("window.NoetherStyle.rich(s)", "window.NoetherStyle.apply([{name: s}], {}, '2d').data[0]")
    out = subprocess.run([node, "-e", harness, str(PRESENT_JS), json.dumps(["|W_2|^2 - |W_3|^2"])],
                         capture_output=True, text=True, timeout=60, check=True)
    (trace,) = json.loads(out.stdout)
    assert trace["name"].startswith("|<i>W</i><sub>2</sub>|")
    assert "$" not in json.dumps(trace) and "hovertemplate" not in trace

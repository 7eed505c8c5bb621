"""Reopening a long finished run (issue 12 item 4): the run page draws its whole history at once from the
API's envelope levels, says it is an envelope, keeps every extreme, and draws each record of a zoomed range.

Asserts on what is drawn; how fast it is drawn is measured by ``python -m bench dashboard`` (reopen).
"""

from __future__ import annotations

import httpx
import pytest

from .test_browser import submit, toy, wait_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

LOSS = "document.querySelector('#run-graph-loss .js-plotly-plot')"
DRAWN = f"""(last) => {{
  const gd = {LOSS};
  if (!gd || !gd.data) return false;
  const t = gd.data.find((t) => t.meta && t.meta.y === 'loss');
  if (!t || !t.x.length || t.x[t.x.length - 1] < last) return false;
  return {{x: Array.from(t.x), y: Array.from(t.y), notes: (gd.layout.annotations || []).map((a) => a.text)}};
}}"""


def test_a_finished_200000_step_run_opens_with_its_whole_history_as_an_envelope(lab, page):
    # every 20th step recorded (10,001 records): the worker finishes in minutes on a busy 2-core machine, and the
    # series is longer than what the API buckets from its records (16 x 500), so the stored levels serve it
    run_id = submit(lab, toy("nd", steps=200_000) | {"record_every": 20})
    rec = wait_run(lab, run_id, 800)
    last = rec["step"]
    assert last == 200_000
    series = httpx.get(f"{lab.api}/runs/{run_id}/series", params={"limit": 100_000, "columns": "loss"},
                       timeout=60).json()["records"]
    losses = [r["loss"] for r in series if r.get("loss") is not None]
    assert series[-1]["step"] == last and len(series) == 10_001

    page.goto(f"{lab.url}/runs/{run_id}")
    drawn = page.wait_for_function(DRAWN, arg=last, timeout=120_000, polling="raf").json_value()
    # the whole run: from its first bucket (an envelope draws a bucket's extremes, which need not be its first
    # record) to its last step
    assert drawn["x"][0] <= last / 200 and drawn["x"][-1] == last
    assert len(drawn["x"]) <= 2000  # a bounded envelope, not one point per record
    ys = [v for v in drawn["y"] if v is not None]
    assert max(ys) == max(losses) and min(ys) == min(losses)  # every extreme of 10,001 records is drawn
    assert any("envelope" in n for n in drawn["notes"])  # and the chart says it is an envelope

    # zoomed in, each record of the range is drawn (fetched on its own if the page has not loaded it yet)
    page.evaluate(f"() => Plotly.relayout({LOSS}, {{'xaxis.range': [100000, 104000]}})")
    page.wait_for_function(f"() => ({LOSS}.layout.annotations || []).some(a => /every record/.test(a.text))",
                           timeout=120_000)
    xs = page.evaluate(f"() => {LOSS}.data.find(t => t.meta && t.meta.y === 'loss').x")
    assert [s for s in xs if 100_000 <= s <= 104_000] == list(range(100_000, 104_001, 20))
    assert not page.errors

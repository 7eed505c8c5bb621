"""The run page's live loop (assets/live-*.js) in a real headless Chromium against the real lab.

Long series stay a fixed-size min/max envelope that keeps every spike, and say so; zooming in shows
every record of the range; a stream cut mid-run resumes without losing or repeating a point (over
the WebSocket and over the polling fallback); a batch delivered twice is drawn once.
"""

from __future__ import annotations

import httpx
import pytest

from .test_browser import submit, toy, wait_run

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

LOSS = "document.querySelector('#run-graph-loss .js-plotly-plot')"


def series(lab, run_id: str) -> list[dict]:
    page = httpx.get(f"{lab.api}/runs/{run_id}/series", params={"limit": 100_000}, timeout=30).json()
    return page["records"]


def loss_trace(pg) -> dict:
    return pg.evaluate(f"() => {{ const t = {LOSS}.data.find(t => t.meta && t.meta.y === 'loss');"
                       " return {x: t.x, y: t.y}; }")


def test_incremental_envelope_keeps_every_extreme_in_bounded_size(lab, page):
    """Fed in uneven chunks, the envelope's buckets hold exactly the min and max rows of their span."""
    page.goto(lab.url + "/")
    page.wait_for_function("() => window.NoetherLive && window.NoetherLive.Envelope")
    out = page.evaluate("""() => {
        const L = window.NoetherLive, n = 100000, y = new Float64Array(n), x = new Float64Array(n);
        for (let i = 0; i < n; i++) { x[i] = 5 * i; y[i] = Math.sin(i / 700) + 1e-3 * ((i * 7919) % 13); }
        y[54321] = 1e6; y[77777] = -5; for (let i = 30000; i < 30100; i++) y[i] = NaN;
        const env = new L.Envelope(256);
        let fed = 0, chunk = 1;
        while (fed < n) { fed = Math.min(n, fed + chunk); env.update(y, fed); chunk = (chunk * 3) % 997 + 1; }
        const bad = [];
        for (let k = 0; k < env.nb; k++) {
          let lo = -1, hi = -1;
          for (let i = k * env.w; i < (k + 1) * env.w; i++) {
            if (!isFinite(y[i])) continue;
            if (lo < 0 || y[i] < y[lo]) lo = i;
            if (hi < 0 || y[i] > y[hi]) hi = i;
          }
          if (lo !== env.lo[k] && y[lo] !== y[env.lo[k]]) bad.push(k);
          if (hi !== env.hi[k] && y[hi] !== y[env.hi[k]]) bad.push(k);
        }
        const xs = [], ys = [];
        L.emitEnvelope(x, y, env, n, 0, xs, ys);
        const finite = ys.filter((v) => v !== null);
        return {bad, nb: env.nb, w: env.w, len: xs.length, max: Math.max(...finite), min: Math.min(...finite),
                sorted: xs.every((v, i) => i === 0 || v >= xs[i - 1]), spike: xs.includes(5 * 54321),
                gap: ys.includes(null), last: xs[xs.length - 1]};
    }""")
    assert out["bad"] == []
    assert 256 <= out["nb"] < 512 and out["len"] <= 2 * out["nb"] + out["w"]
    assert out["max"] == 1e6 and out["min"] == -5 and out["spike"] and out["sorted"]
    assert out["last"] == 5 * 99_999  # the newest record is drawn as it is
    assert not out["gap"]  # a 100-record NaN stretch inside a 256-record bucket is not a whole bucket


def test_long_run_is_an_envelope_that_keeps_spikes_and_zooms_to_every_record(lab, page):
    run_id = submit(lab, toy("nd", steps=6000) | {"record_every": 1})
    wait_run(lab, run_id, 120)
    records = series(lab, run_id)
    assert len(records) > 2000
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().done")
    page.wait_for_function(f"() => {LOSS} && {LOSS}.data[0].x.length > 0 && (({LOSS}.layout.annotations || [])"
                           ".some(a => /envelope/.test(a.text)))")
    trace = loss_trace(page)
    assert 256 < len(trace["x"]) < 2000  # a fixed budget, not one point per record
    losses = [r["loss"] for r in records if r.get("loss") is not None]
    drawn = [v for v in trace["y"] if v is not None]
    assert max(drawn) == max(losses) and min(drawn) == min(losses)  # every extreme stays visible
    assert trace["x"][-1] == records[-1]["step"]
    # zoom in: the visible range comes from the raw records, every one of them
    page.evaluate(f"() => Plotly.relayout({LOSS}, {{'xaxis.range': [1000, 1400]}})")
    page.wait_for_function(f"() => ({LOSS}.layout.annotations || []).some(a => /every record/.test(a.text))")
    xs = loss_trace(page)["x"]
    assert [s for s in xs if 1000 <= s <= 1400] == list(range(1000, 1401))
    page.evaluate(f"() => Plotly.relayout({LOSS}, {{'xaxis.autorange': true}})")
    page.wait_for_function(f"() => {LOSS}.data[0].x.length < 2000")
    assert not page.errors


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_cut_stream_resumes_without_losing_or_repeating_points(lab, page, transport):
    if transport == "polling":
        page.add_init_script("delete window.WebSocket")  # the fallback a proxy without WebSockets gets
    run_id = submit(lab, toy("nd", steps=60_000) | {"record_every": 60})
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().n > 20", timeout=60_000)
    expected = "ws" if transport == "websocket" else "poll"
    assert page.evaluate("() => window.NoetherLive.state().mode") == expected
    for _ in range(2):  # cut the stream mid-run: the loop reconnects from its cursor
        n = page.evaluate("() => window.NoetherLive.state().n")
        page.evaluate("() => { const s = window.NoetherLive.store(); if (s.ws) s.ws.close(); s.cursor = Math.max(0, s.cursor - 7); }")
        page.wait_for_function(f"() => window.NoetherLive.state().done || window.NoetherLive.state().n > {n + 5}",
                               timeout=60_000)
    page.wait_for_function("() => window.NoetherLive.state().done", timeout=120_000)
    steps = [r["step"] for r in series(lab, run_id)]
    got = page.evaluate("() => { const s = window.NoetherLive.store(); return Array.from(s.cols.step.subarray(0, s.n)); }")
    assert got == steps  # every record once, in order, although 7 records were sent again at each cut
    # read in the same frame as the wait: the charts are laid out again once the summary's laws arrive
    drawn = page.wait_for_function(f"() => {{ const g = {LOSS}; if (!g || !g.data) return false;"
                                   " const t = g.data.find(t => t.meta && t.meta.y === 'loss');"
                                   f" return t && t.x.length === {len(steps)} ? Array.from(t.x) : false; }}")
    assert drawn.json_value() == steps
    # a batch delivered twice is drawn once
    again = series(lab, run_id)[-50:]
    assert page.evaluate("(recs) => window.NoetherLive.ingest(recs)", again) == 0
    assert page.evaluate("() => window.NoetherLive.state().n") == len(steps)

"""The dashboard in a real headless Chromium against the real lab (backend, worker, Redis).

Every test runs under a timeout (a frozen page hangs the driver) and saves a screenshot of its page
to test-artifacts/screenshots/. Runs are tiny (the sphere toy, a few hundred steps).
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from .conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


def toy(kind: str = "nd", steps: int = 400, **dynamics) -> dict:
    """The paper's rotation toy (Sec. 6.1) from w = (0.5, 0.5, 0.5), w' = (-2, 1, 1)."""
    return {
        "potential": {"kind": "sphere", "dim": 3},
        "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]},
        "dynamics": {"kind": kind, "lr": 1e-4, **dynamics},
        "steps": steps,
        "record_every": 2,
    }


def submit(lab, spec: dict) -> str:
    res = httpx.post(f"{lab.api}/runs", json={"spec": spec}, timeout=30)
    assert res.status_code == 201, res.text
    return res.json()["id"]


def wait_run(lab, run_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = httpx.get(f"{lab.api}/runs/{run_id}", timeout=10).json()
        if rec["status"] in ("succeeded", "failed", "cancelled", "diverged") and rec.get("summary"):
            return rec
        time.sleep(0.3)
    pytest.fail(f"run {run_id} did not finish in {timeout} s")


def record_count(lab, run_id: str) -> int:
    page = httpx.get(f"{lab.api}/runs/{run_id}/series", params={"limit": 100_000}, timeout=30).json()
    return len(page["records"])


def wait_trace_len(pg, graph_id: str, n: int, timeout: float = 30_000) -> None:
    """Wait until the chart's first trace holds n points (charts mount one at a time)."""
    pg.wait_for_function(
        "([g, n]) => { const gd = document.querySelector('#' + g + ' .js-plotly-plot');"
        " return gd && gd.data && gd.data[0] && gd.data[0].x && gd.data[0].x.length === n; }",
        arg=[graph_id, n], timeout=timeout,
    )


def field_selector(path: str, kind: str) -> str:
    fid = json.dumps({"as": kind, "path": path, "type": "launch-field"}, sort_keys=True, separators=(",", ":"))
    return f"[id='{fid}']"


def error_selector(path: str) -> str:
    fid = json.dumps({"path": path, "type": "launch-error"}, sort_keys=True, separators=(",", ":"))
    return f"[id='{fid}']"


def test_gallery_preset_runs_live_and_shows_verdicts(lab, page):
    page.goto(lab.url + "/")
    card = page.locator("#launch-card-toy-gf")
    card.wait_for()
    assert "Fig." in card.inner_text()
    page.locator("#launch-card-translation-ce").wait_for()  # the card with the longest badge
    # nothing wider than the window (a cold try saw the gallery pushed to 1445 px by a long badge)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1400
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "launch.png"))
    card.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/runs/*")
    run_id = page.url.rsplit("/", 1)[-1]
    page.wait_for_function("() => window.NoetherLive && window.NoetherLive.state() && window.NoetherLive.state().n > 0")
    page.wait_for_function("() => { const gd = document.querySelector('#run-graph-loss .js-plotly-plot');"
                           " return gd && gd.data && gd.data[0].x.length > 0; }")
    page.locator("#run-verdict-table").wait_for(timeout=90_000)
    assert page.locator("#run-verdict-table tbody tr").count() >= 1
    assert page.locator("#run-status").inner_text() == "succeeded"
    page.wait_for_function("() => window.NoetherLive.state().done")
    wait_trace_len(page, "run-graph-loss", record_count(lab, run_id))
    assert not page.errors


def test_an_unknown_run_link_says_so_and_shows_nothing_else(lab, page):
    page.goto(f"{lab.url}/runs/0000000000000000000000000000dead")
    page.wait_for_function("() => { const s = document.querySelector('#run-status'); return s && s.innerText === 'not found'; }")
    page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().done")
    assert page.locator("#run-page.run-missing").count() == 1
    for hidden in ("#run-graphs", ".replay", "#run-export-csv", "#run-verdicts", "#run-cancel"):
        assert not page.locator(hidden).is_visible(), hidden
    page.click("#run-reason a")
    page.wait_for_url(f"{lab.url}/runs")
    assert not page.errors


def test_cancel_from_the_run_page(lab, page):
    run_id = submit(lab, toy("nd", steps=1_000_000) | {"record_every": 200})
    page.goto(f"{lab.url}/runs/{run_id}")
    page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'running'", timeout=60_000)
    page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().n > 0")
    page.locator("#run-cancel").click()
    page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'cancelled'", timeout=30_000)
    rec = wait_run(lab, run_id, 30)
    assert rec["status"] == "cancelled"
    page.wait_for_function("() => window.NoetherLive.state().done", timeout=30_000)
    kept = record_count(lab, run_id)
    assert 0 < kept < 5000  # the partial series stays, and the chart shows all of it
    wait_trace_len(page, "run-graph-loss", kept)


def test_finished_run_url_shows_the_full_series(lab, browser, page):
    run_id = submit(lab, toy("nd", steps=600) | {"dtype": "float64"})
    wait_run(lab, run_id)
    page.goto(f"{lab.url}/runs/{run_id}")  # a fresh page, as someone opening a shared link
    page.wait_for_function("() => window.NoetherLive.state() && window.NoetherLive.state().done")
    total = record_count(lab, run_id)
    wait_trace_len(page, "run-graph-loss", total)
    # the 3D trajectory and the angular momentum law beside its prediction
    page.wait_for_function("() => { const gd = document.querySelector('#run-graph-trajectory .js-plotly-plot');"
                           " return gd && gd.data.some(t => t.meta && t.meta.live === 'path3d' && t.x.length > 10); }")
    assert page.locator("#run-graphs .js-plotly-plot").count() >= 4
    page.wait_for_function(  # |J| beside its prediction (conserved under ND)
        "() => Array.from(document.querySelectorAll('#run-graphs .js-plotly-plot')).some(gd =>"
        " gd.data.some(t => t.meta && t.meta.y === 'angular_momentum' && t.x.length > 10) &&"
        " gd.data.some(t => t.meta && t.meta.y === 'angular_momentum:pred' && t.x.length > 10))")
    page.locator("#run-verdict-table").wait_for()
    # |J| is conserved to ~1e-14 in float64: its axis spans at least 1e-6 of |J|, not the rounding noise
    span = page.evaluate("() => { const gd = Array.from(document.querySelectorAll('#run-graphs .js-plotly-plot'))"
                         ".find(g => g.data.some(t => t.meta && t.meta.y === 'angular_momentum'));"
                         " const r = gd._fullLayout.yaxis.range, t = gd.data.find(t => t.meta && t.meta.y ==="
                         " 'angular_momentum'); return [r[1] - r[0], t.y[0]]; }")
    assert span[0] >= 0.9e-6 * abs(span[1])
    # replay: moving the slider moves the current point
    before = page.evaluate("() => document.querySelector('#run-graph-trajectory .js-plotly-plot')"
                           ".data.find(t => t.meta && t.meta.live === 'head3d').x[0]")
    page.evaluate("() => window.NoetherLive.seek(3)")
    page.wait_for_function(f"() => document.querySelector('#run-graph-trajectory .js-plotly-plot')"
                           f".data.find(t => t.meta && t.meta.live === 'head3d').x[0] !== {before}")
    # the slider says where it is in the charts' terms: step k and physical time t, not a frame index
    handle = page.locator("#run-slider [role=slider]")
    handle.focus()
    handle.press("End")
    last = page.evaluate("() => window.NoetherLive.state().last_step")
    page.wait_for_function(f"() => document.querySelector('#run-frame-text').innerText.startsWith("
                           f"'step {last:,} · t = ')")
    handle.press("Home")
    page.wait_for_function("() => /^step 0 · t = 0$/.test(document.querySelector('#run-frame-text').innerText)")


def test_compare_two_runs(lab, page):
    a, b = submit(lab, toy("nd", steps=300)), submit(lab, toy("nag", steps=300, t0=0.1))
    wait_run(lab, a), wait_run(lab, b)
    page.goto(f"{lab.url}/compare?ids={a},{b}")
    page.wait_for_function("() => { const gd = document.querySelector('#compare-graph .js-plotly-plot');"
                           " return gd && gd.data && gd.data.length >= 2; }")
    names = page.evaluate("() => document.querySelector('#compare-graph .js-plotly-plot').data.map(t => t.name)")
    # readable names from the specs, not ids
    assert "sphere potential in R^3 · nd lr 0.0001" in names
    assert "sphere potential in R^3 · nag lr 0.0001 · t0 0.1" in names
    # every row shares one x axis: zooming one zooms all
    axes = page.evaluate("() => { const l = document.querySelector('#compare-graph .js-plotly-plot')._fullLayout;"
                         " return Object.keys(l).filter(k => /^xaxis\\d*$/.test(k)).map(k => l[k].matches || k.replace('axis', '')); }")
    assert len(set(axes)) == 1


def test_bad_form_input_shows_the_backend_message(lab, page):
    page.goto(lab.url + "/")
    lr = page.locator(field_selector("dynamics.lr", "number"))
    lr.wait_for()
    lr.fill("-1")
    lr.press("Enter")
    steps = page.locator(field_selector("steps", "integer"))
    steps.fill("5000000")
    steps.press("Enter")
    page.locator("#launch-validate").click()
    from playwright.sync_api import expect

    expect(page.locator(error_selector("dynamics.lr"))).to_contain_text("greater than 0", timeout=30_000)
    assert "greater than 0" in page.locator(error_selector("dynamics.lr")).inner_text()
    assert "1000000" in page.locator(error_selector("steps")).inner_text()
    assert "refused" in page.locator("#launch-errors").inner_text()
    lr.fill("0.05")
    lr.press("Enter")
    steps.fill("50")
    steps.press("Enter")
    page.locator("#launch-validate").click()
    page.locator("#launch-valid").get_by_text("The spec is valid").wait_for()
    assert page.locator(error_selector("dynamics.lr")).inner_text() == ""


def test_runs_table_tags_and_learn_presentation_mode(lab, page):
    run_id = submit(lab, toy("gd", steps=50))
    wait_run(lab, run_id)
    page.goto(f"{lab.url}/runs")
    page.locator(f"#runs-table a[href='/runs/{run_id}']").wait_for()
    assert page.locator(f"#runs-table a[href='/runs/{run_id}']").inner_text() == "sphere potential in R^3 · gd lr 0.0001"
    res = httpx.patch(f"{lab.api}/runs/{run_id}", json={"tags": ["lecture"]}, timeout=10)
    assert res.status_code == 200
    page.locator("#runs-filter-tag").fill("lecture")
    page.locator("#runs-filter-tag").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#runs-table a[href^=\"/runs/\"]').length === 1")
    assert run_id[:8] in page.locator("#runs-table").inner_text()
    page.goto(f"{lab.url}/learn")
    page.locator("#learn-step-3").wait_for()
    page.wait_for_function("() => document.querySelector('#learn-step-0 mjx-container, #learn-step-0 .MathJax') !== null")
    page.locator("#app-present-toggle").click()
    page.wait_for_function("() => document.body.classList.contains('present')")
    page.reload()
    page.wait_for_function("() => document.body.classList.contains('present')")  # remembered
    # the button says how to leave the mode it is in
    page.wait_for_function("() => document.querySelector('#app-present-toggle').innerText === 'Leave presentation mode'")
    page.screenshot(path=str(SHOTS / "learn-presentation.png"))
    page.locator("#app-present-toggle").click()
    page.wait_for_function("() => !document.body.classList.contains('present')")
    page.wait_for_function("() => document.querySelector('#app-present-toggle').innerText === 'Presentation mode'")


"""A training script watched with noether.watch(lab=URL) appears in Runs and streams to its run page."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def external_run(lab, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = httpx.get(f"{lab.api}/runs", params={"kind": "external"}, timeout=10).json()["items"]
        found = [r for r in runs if r["name"] == name]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no external run named {name} appeared in {timeout} s")


def test_a_watched_example_appears_in_runs_and_streams_to_its_page(lab, page, tmp_path):
    script = ROOT / "examples" / "mlp_sgd_momentum.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(  # slowed down so that the page sees it live
        [sys.executable, str(script), "--lab", lab.url, "--steps", "400", "--every", "5", "--delay", "0.05"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run = external_run(lab, "mlp_sgd_momentum")
        assert run["kind"] == "external" and "mlp_sgd_momentum.py" in run["tags"]
        page.goto(f"{lab.url}/runs")
        row = page.locator("#runs-table").get_by_text(run["id"][:8], exact=False).first
        row.wait_for(timeout=60_000)
        page.goto(f"{lab.url}/runs/{run['id']}")
        page.wait_for_function("() => window.NoetherLive && window.NoetherLive.state() && "
                               "window.NoetherLive.state().n > 0", timeout=60_000)
        live_n = page.evaluate("() => window.NoetherLive.state().n")
        page.locator("#run-graph-law-0 .js-plotly-plot").wait_for(timeout=90_000)
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out
        page.wait_for_function("() => document.querySelector('#run-status')?.innerText === 'succeeded'",
                               timeout=60_000)
        page.locator("#run-verdict-table").wait_for(timeout=60_000)
        page.wait_for_function("() => window.NoetherLive.state().done", timeout=60_000)
        final_n = page.evaluate("() => window.NoetherLive.state().n")
        assert final_n == 81 and live_n <= final_n  # step 0, 5, ..., 400
        verdicts = page.locator("#run-verdict-table tbody tr").all_inner_texts()
        assert len(verdicts) == 3 and all("holds" in v for v in verdicts), verdicts
        assert not page.errors
    finally:
        if proc.poll() is None:
            proc.kill()

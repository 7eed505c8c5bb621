"""Honest runtimes: a preset's card says how long it took here, from its recent runs, or says it is a guess."""

from __future__ import annotations

import time

import httpx
import pytest

from workers import speed


def test_estimate_scales_the_recent_runs_wall_times_to_the_presets_steps():
    runs = [{"steps_done": 500, "wall_time_s": 65.0}, {"steps_done": 1500, "wall_time_s": 130.0},
            {"steps_done": 1500, "wall_time_s": 150.0}]
    est = speed.estimate(1500, "up to 3 min", runs)
    assert est["basis"] == "measured" and est["runs"] == 3
    assert est["seconds"] == pytest.approx(150.0)  # median of 195, 130, 150
    assert est["text"].startswith("about 2 min 30 s (measured here: median of 3 recent runs at")


def test_no_measured_run_falls_back_to_the_conservative_figure_and_says_so():
    est = speed.estimate(1500, "up to 3 min", [{"steps_done": 0, "wall_time_s": 0.0}])
    assert est["seconds"] is None and est["basis"] == "default"
    assert est["text"].startswith("up to 3 min (a conservative estimate") and "no run of it measured here" in est["text"]


def test_presets_api_estimates_from_a_finished_run_of_that_preset(lab):
    """GET /api/presets: before a run, the default; after one, its measured time (and not for a preset whose
    name merely contains it: toy-nag-spiral's runs say nothing about toy-nag)."""
    res = httpx.post(f"{lab.api}/runs", json={"preset": "toy-nag-spiral", "overrides": {"steps": 300}}, timeout=30)
    assert res.status_code == 201, res.text
    run_id = res.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rec = httpx.get(f"{lab.api}/runs/{run_id}", timeout=10).json()
        if rec["status"] == "succeeded" and rec.get("summary"):
            break
        time.sleep(0.3)
    else:
        pytest.fail("the run did not finish")
    presets = {p["name"]: p for p in httpx.get(f"{lab.api}/presets", timeout=30).json()}
    est = presets["toy-nag-spiral"]["runtime_estimate"]
    summary = rec["summary"]
    assert est["basis"] == "measured" and est["runs"] >= 1
    assert est["seconds"] >= summary["wall_time_s"] * 3000 / 300 * 0.5  # its 300 steps scaled to the preset's 3000
    assert "measured here" in est["text"]
    # a preset's estimate counts only its own runs (in this shared lab other tests may have run any preset)
    runs = httpx.get(f"{lab.api}/runs", params={"preset": "toy-nag", "status": "succeeded", "limit": 500},
                     timeout=30).json()["items"]
    own = sum(1 for r in runs if r.get("preset") == "toy-nag")
    nag = presets["toy-nag"]["runtime_estimate"]
    assert (nag["basis"] == "default") == (own == 0)
    assert nag.get("runs", 0) == min(own, 5)
    never = [p for p in presets.values() if p["runtime_estimate"]["basis"] == "default"]
    assert all(p["runtime_estimate"]["seconds"] is None and p["runtime_estimate"]["text"] for p in never)

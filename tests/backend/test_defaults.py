"""The defaults agree with each other: what one limit allows, another does not refuse."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend.app import create_app
from labsettings import Settings

TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 5}


def test_the_largest_sweep_the_defaults_allow_is_accepted_for_one_client(redis_db, tmp_path):
    settings = Settings(_env_file=None, redis_url=redis_db(), data_dir=tmp_path)  # every limit at its default
    assert settings.max_sweep_runs <= settings.max_queued_per_client
    largest = settings.max_sweep_runs
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as api:
        too_big = api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": list(range(largest + 1))}})
        assert too_big.status_code == 422 and "NOETHER_MAX_SWEEP_RUNS" in too_big.text
        resp = api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": list(range(largest))}},
                        headers={"X-Client-Id": "one-teacher"})
        assert resp.status_code == 201, resp.text[:500]
        assert len(resp.json()["runs"]) == largest
        assert api.get("/api/runs", params={"status": "queued", "limit": 1}).json()["total"] == largest

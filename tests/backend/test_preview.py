"""POST /api/preview: a small potential run simulated at once (the run page's sliders), bounded and typed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from labsettings import Settings

TOY = {"potential": {"kind": "sphere", "dim": 3}, "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2, 1, 1]},
       "dynamics": {"kind": "nd", "lr": 1e-4}, "steps": 1500, "record_every": 1, "dtype": "float64"}


@pytest.fixture
def api(redis_db, tmp_path):
    settings = Settings(_env_file=None, redis_url=redis_db(), data_dir=tmp_path)
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as c:
        yield c


def test_a_preview_answers_the_runs_records_and_verdicts_at_once(api):
    res = api.post("/api/preview", json={"spec": TOY})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["status"] == "succeeded" and body["steps"] == 1500
    cols = body["columns"]
    assert len(cols["t"]) <= 601 and cols["step"][-1] == 1500  # evenly thinned, the last record kept
    assert len(body["position"]) == len(cols["t"]) and len(body["position"][0]) == 3
    J = cols["angular_momentum"]
    assert max(J) - min(J) < 1e-12 and J[0] == pytest.approx(1.5 * 2 ** 0.5)  # |J(0)| = |(0, -3/2, 3/2)|
    assert {law["id"]: law["verdict"] for law in body["laws"]}["angular_momentum"] == "holds"
    assert api.get("/api/runs").json()["total"] == 0  # nothing was stored or queued


def test_a_typed_potential_previews_with_its_discovered_laws(api):
    spec = dict(TOY, potential={"expression": "(x^2 + y^2 - 1)^2 + z^2", "dim": 3})
    body = api.post("/api/preview", json={"spec": spec}).json()
    verdicts = {law["id"]: law["verdict"] for law in body["laws"]}
    assert verdicts["typed/jz"] == "holds" and verdicts["typed/jx"] == "not applicable"
    assert max(body["columns"]["typed/jx"]) - min(body["columns"]["typed/jx"]) > 0.3


@pytest.mark.parametrize("spec, field, words", [
    ({"model": {"widths": [64, 8, 10]}, "data": {"kind": "digits", "samples": 50}, "steps": 5}, "potential",
     "potentials only"),
    (dict(TOY, steps=50_000, record_every=10), "steps", "at most 20000"),
])
def test_a_preview_refuses_networks_and_long_runs_with_422(api, spec, field, words):
    res = api.post("/api/preview", json={"spec": spec})
    assert res.status_code == 422
    detail = res.json()["detail"][0]
    assert detail["loc"][-1] == field and words in detail["msg"]

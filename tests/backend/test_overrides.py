"""Preset overrides through the API use the core's one spec editor (noether.edit): same meaning as sweeps and the CLI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from labsettings import Settings


@pytest.fixture
def api(redis_db, tmp_path):
    settings = Settings(_env_file=None, redis_url=redis_db(), data_dir=tmp_path)
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as client:
        yield client


def test_switching_a_presets_dynamics_keeps_its_learning_rate_and_everything_else(api):
    preset = api.post("/api/validate", json={"preset": "toy-nd"}).json()["spec"]
    resp = api.post("/api/validate", json={"preset": "toy-nd", "overrides": {"dynamics": {"kind": "nag"}}})
    assert resp.status_code == 200, resp.text
    spec = resp.json()["spec"]
    assert spec["dynamics"] == {"kind": "nag", "lr": preset["dynamics"]["lr"], "t0": 0.0}  # 0.0001 kept
    assert {k: v for k, v in spec.items() if k != "dynamics"} == {k: v for k, v in preset.items() if k != "dynamics"}


def test_list_indices_and_deeper_paths_last(api):
    body = {"preset": "toy-nd", "overrides": {"dynamics.lr": 0.002, "dynamics": {"kind": "gd"},
                                              "initial.position.2": 0.25}}
    spec = api.post("/api/validate", json=body).json()["spec"]
    assert spec["dynamics"]["kind"] == "gd" and spec["dynamics"]["lr"] == 0.002
    assert spec["initial"]["position"][2] == 0.25


@pytest.mark.parametrize("path, says", [
    ("dynamics.lrr", "'lrr' is not a field of dynamics"),
    ("initial.position.7", "initial.position is a list of 3"),
    ("steps.max", "'max' is not a field of steps"),
])
def test_a_bad_override_path_is_a_422_naming_it(api, path, says):
    resp = api.post("/api/validate", json={"preset": "toy-nd", "overrides": {path: 1}})
    assert resp.status_code == 422, resp.text
    err = resp.json()["detail"][0]
    assert err["loc"] == ["body", "overrides", path] and says in err["msg"] and err["input"] == 1

"""What the API refuses, and how: token, body size, spec bounds, per-client limit, unknown things, Redis down.

The API runs in-process (no worker is needed to check what it accepts) against a real Redis database.
"""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest
import redis
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.auth import COOKIE
from lab.redis_server import free_port
from labsettings import Settings
from workers.task import Attempt

TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 5}


def make_client(url: str, tmp_path, **overrides) -> TestClient:
    settings = Settings(_env_file=None, redis_url=url, data_dir=tmp_path, **overrides)
    return TestClient(create_app(settings, reaper=False), raise_server_exceptions=False)


@pytest.fixture
def api(redis_db, tmp_path):
    with make_client(redis_db(), tmp_path, max_queued_per_client=3, max_request_bytes=4096, max_sweep_runs=4) as c:
        yield c


@pytest.fixture
def ran(redis_db, tmp_path):
    """An in-process API and ``ran(run_id, preset, **overrides)``: submit a preset run, then run it here as a work
    horse would (simulate, publish, finish, archive); returns the API client."""
    url = redis_db()
    settings = Settings(_env_file=None, redis_url=url, data_dir=tmp_path)
    r = redis.Redis.from_url(url)
    with TestClient(create_app(settings, reaper=False), raise_server_exceptions=False) as api:
        def run(run_id: str, preset: str, **overrides) -> TestClient:
            resp = api.post("/api/runs", json={"id": run_id, "preset": preset, "overrides": overrides})
            assert resp.status_code == 201, resp.text
            assert Attempt(r, settings, run_id, 1).execute() == "succeeded"
            return api

        yield run
    r.close()


def test_a_token_protects_changes_but_not_reads(redis_db, tmp_path):
    with make_client(redis_db(), tmp_path, api_token="s3cret") as api:
        assert api.post("/api/runs", json={"spec": TINY}).status_code == 401
        wrong = api.post("/api/runs", json={"spec": TINY}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "Bearer" in wrong.json()["detail"]
        ok = api.post("/api/runs", json={"spec": TINY, "id": "token-run-1"}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        assert api.get("/api/runs").status_code == 200
        assert api.get("/api/runs/token-run-1").status_code == 200
        assert api.patch("/api/runs/token-run-1", json={"note": "x"}).status_code == 401
        assert api.post("/api/runs/token-run-1/cancel").status_code == 401
        assert api.delete("/api/runs/token-run-1").status_code == 401
        assert api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": [1]}}).status_code == 401
        cancelled = api.post("/api/runs/token-run-1/cancel", headers={"Authorization": "Bearer s3cret"})
        assert cancelled.json()["status"] == "cancelled"
        with api.websocket_connect("/api/runs/token-run-1/stream") as ws:  # reads stay open
            assert ws.receive_json()["done"] is True


def test_without_a_token_changes_are_open(api):
    assert api.post("/api/runs", json={"spec": TINY}).status_code == 201


def test_a_body_over_the_limit_gets_413(api):
    big = {"spec": {**TINY, "description": "x" * 3990}, "note": "y" * 200}
    resp = api.post("/api/runs", json=big)
    assert resp.status_code == 413 and "4096 bytes" in resp.json()["detail"]

    def chunks():  # no Content-Length: the limit counts what arrives
        for _ in range(10):
            yield b" " * 1000

    resp = api.post("/api/validate", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_spec_bounds_are_422_naming_field_bound_and_value(api):
    resp = api.post("/api/runs", json={"spec": {**TINY, "steps": 5_000_000}})
    assert resp.status_code == 422
    err = resp.json()["detail"][0]
    assert err["loc"] == ["body", "spec", "steps"] and "1000000" in err["msg"] and err["input"] == 5_000_000

    resp = api.post("/api/runs", json={"spec": {"model": {"widths": [64, 5000, 10]}, "data": {"kind": "digits"}}})
    err = resp.json()["detail"][0]
    assert resp.status_code == 422 and err["loc"][:4] == ["body", "spec", "model", "widths"] and "4096" in err["msg"]


def test_preset_overrides_are_validated_like_a_spec(api):
    resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {"dynamics.lr": -1}})
    assert resp.status_code == 422
    err = resp.json()["detail"][0]
    assert err["loc"][:3] == ["body", "overrides", "dynamics"] and "greater than 0" in err["msg"] and err["input"] == -1
    resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {"nonsense.field": 1}})
    assert resp.status_code == 422
    resp = api.post("/api/runs", json={"preset": "no-such-preset"})
    assert resp.status_code == 422 and "toy-nd" in resp.json()["detail"][0]["msg"]
    resp = api.post("/api/runs", json={"preset": "toy-nd", "spec": TINY})
    assert resp.status_code == 422 and "exactly one" in resp.json()["detail"][0]["msg"]
    resp = api.post("/api/runs", json={"preset": "toy-nd", "overrides": {"steps": 7}, "id": "override-run-1"})
    assert resp.status_code == 201 and resp.json()["steps"] == 7 and resp.json()["spec"]["steps"] == 7


def browser(api: TestClient) -> dict[str, str]:
    """The headers of a new browser: its own session cookie, so its own client for the per-client limit."""
    return {"Cookie": f"{COOKIE}={api.app.state.noether_auth.new_session(False)}"}


def test_per_client_queue_limit_gives_429_per_client(api):
    alice, bob = browser(api), browser(api)
    for _ in range(3):
        assert api.post("/api/runs", json={"spec": TINY}, headers=alice).status_code == 201
    resp = api.post("/api/runs", json={"spec": TINY}, headers=alice)
    assert resp.status_code == 429 and "3 queued" in resp.json()["detail"]
    assert api.post("/api/runs", json={"spec": TINY}, headers=bob).status_code == 201
    run_id = api.get("/api/runs", params={"limit": 1}).json()["items"][0]["id"]
    assert api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": [1, 2, 3]}},
                    headers=bob).status_code == 429  # 1 + 3 > 3
    assert api.post(f"/api/runs/{run_id}/cancel").json()["status"] == "cancelled"


def test_idempotent_submission_and_conflict(api):
    body = {"id": "idempotent-1", "spec": TINY, "tags": ["a"]}
    first = api.post("/api/runs", json=body)
    again = api.post("/api/runs", json=body)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    assert api.post("/api/runs", json={**body, "tags": ["b"]}).status_code == 409


def test_unknown_things_are_clear_4xx(api):
    assert api.get("/api/runs/does-not-exist").status_code == 404
    assert api.get("/api/runs/no").status_code == 422  # not a run id
    assert api.get("/api/runs/does-not-exist/series").status_code == 404
    assert api.delete("/api/runs/does-not-exist").status_code == 404
    assert api.get("/api/nothing/here").status_code == 404
    assert api.get("/api/runs", params={"status": "sleeping"}).status_code == 422
    assert api.get("/api/runs", params={"limit": 0}).status_code == 422
    assert api.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    with api.websocket_connect("/api/runs/does-not-exist/stream") as ws:
        assert "no run" in ws.receive_json()["error"]


def test_sweep_bound_and_empty_grid(api):
    resp = api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": [1, 2, 3], "dynamics.lr": [0.1, 0.2]}})
    assert resp.status_code == 422 and "must be <= 4" in resp.json()["detail"][0]["msg"]
    assert api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": []}}).status_code == 422
    assert api.post("/api/sweeps", json={"spec": TINY, "grid": {"dynamics.lr": [-1.0]}}).status_code == 422
    ok = api.post("/api/sweeps", json={"spec": TINY, "grid": {"seed": [1, 2]}})
    assert ok.status_code == 201 and len(ok.json()["runs"]) == 2
    assert {r["group"] for r in ok.json()["runs"]} == {ok.json()["group"]}


def test_a_sweep_of_learning_rates_and_dynamics_runs_each_learning_rate(api):
    grid = {"dynamics.lr": [0.001, 0.02], "dynamics": [{"kind": "gd"}]}
    resp = api.post("/api/sweeps", json={"preset": "toy-gf", "grid": grid})
    assert resp.status_code == 201, resp.text
    seen = []
    for run in resp.json()["runs"]:
        spec = api.get(f"/api/runs/{run['id']}").json()["spec"]
        assert spec["dynamics"]["kind"] == "gd"
        assert f"dynamics.lr={spec['dynamics']['lr']}," in spec["name"], spec
        seen.append(spec["dynamics"]["lr"])
    assert sorted(seen) == [0.001, 0.02]


def test_catalogue_schema_and_validate(api):
    presets = api.get("/api/presets").json()
    assert "toy-nd" in {p["name"] for p in presets} and all("spec" in p and "explanation" in p for p in presets)
    assert api.get("/api/laws").json()
    assert "steps" in api.get("/api/schema/spec").json()["properties"]
    valid = api.post("/api/validate", json={"preset": "toy-nd", "overrides": {"steps": 10}})
    assert valid.status_code == 200 and valid.json()["spec"]["steps"] == 10
    assert "angular_momentum" in {law["id"] for law in valid.json()["laws"]}
    assert api.post("/api/validate", json={"spec": {**TINY, "steps": 0}}).status_code == 422
    assert set(api.get("/api/openapi.json").json()["paths"]) >= {"/api/runs", "/api/runs/{run_id}/series"}


def test_cors_origins_from_settings(redis_db, tmp_path):
    with make_client(redis_db(), tmp_path, cors_origins=["http://class.example"]) as api:
        pre = api.options("/api/runs", headers={"Origin": "http://class.example", "Access-Control-Request-Method": "POST"})
        assert pre.headers.get("access-control-allow-origin") == "http://class.example"
        other = api.get("/api/runs", headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_health_and_redis_down_are_not_500(api, tmp_path):
    health = api.get("/api/health").json()
    assert health["redis"] is True and health["workers"] == 0 and health["status"] == "degraded"
    with make_client(f"redis://127.0.0.1:{free_port()}/0", tmp_path) as down:
        assert down.get("/api/health").status_code == 503
        resp = down.get("/api/runs")
        assert resp.status_code == 503 and "Redis" in resp.json()["detail"]


def test_series_columns_must_be_columns_of_the_run(ran):
    api = ran("columns-run-1", "toy-nd", steps=30, record_every=1)
    url = "/api/runs/columns-run-1/series"
    for params in ({"points": 10, "columns": "loss,nosuch"}, {"limit": 5, "columns": "nosuch"}):
        resp = api.get(url, params=params)
        assert resp.status_code == 422, (params, resp.text)
        err = resp.json()["detail"][0]
        assert err["loc"] == ["query", "columns"] and err["input"] == params["columns"]
        assert "unknown column(s) nosuch;" in err["msg"] and "loss" in err["msg"] and "energy" in err["msg"]
    resp = api.get(url, params={"points": 10, "columns": "position"})  # a view: no curve to summarise
    assert resp.status_code == 422 and "position: a list per record" in resp.json()["detail"][0]["msg"]
    ok = api.get(url, params={"points": 10, "columns": "loss, energy"}).json()
    assert ok["total"] == 31 and list(ok["columns"]) == ["loss", "energy"] and len(ok["columns"]["loss"]["max"]) == 10
    page = api.get(url, params={"limit": 5, "columns": "position"}).json()
    assert [set(rec) for rec in page["records"]] == [{"step", "t", "position"}] * 5


def test_runs_filter_by_part_of_the_preset_name_in_any_case(redis_db, tmp_path):
    with make_client(redis_db(), tmp_path) as api:
        for run_id, preset in [("filter-gf", "toy-gf"), ("filter-nd", "toy-nd"), ("filter-fig", "fig1-gd")]:
            assert api.post("/api/runs", json={"id": run_id, "preset": preset}).status_code == 201
        assert api.post("/api/runs", json={"id": "filter-spec", "spec": TINY}).status_code == 201  # no preset

        def ids(preset: str) -> list[str]:
            page = api.get("/api/runs", params={"preset": preset}).json()
            assert page["total"] == len(page["items"])
            return sorted(i["id"] for i in page["items"])

        assert ids("toy") == ["filter-gf", "filter-nd"]
        assert ids("TOY-ND") == ["filter-nd"] and ids("toy-nd") == ["filter-nd"]
        assert ids("1-g") == ["filter-fig"] and ids("nag") == []
        param = next(p for p in api.get("/api/openapi.json").json()["paths"]["/api/runs"]["get"]["parameters"]
                     if p["name"] == "preset")
        assert "any case" in param["description"]


def test_csv_export_has_a_toys_orbit_like_the_parquet(ran, tmp_path):
    api = ran("csv-orbit-1", "toy-nd", steps=25, record_every=1)
    url = "/api/runs/csv-orbit-1/export"
    parquet = pq.read_table(io.BytesIO(api.get(url, params={"format": "parquet"}).content)).to_pydict()
    assert len(parquet["position"]) == 26

    def position_in_csv() -> list[list[float]]:
        resp = api.get(url, params={"format": "csv"})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        return [[float(row[f"position[{i}]"]) for i in range(3)] for row in csv.DictReader(io.StringIO(resp.text))]

    assert position_in_csv() == parquet["position"]  # the archived series.csv
    (tmp_path / "runs" / "csv-orbit-1" / "series.csv").unlink()
    assert position_in_csv() == parquet["position"]  # written from the records, as for a running run

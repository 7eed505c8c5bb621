"""``noether up`` heals itself: after a SIGKILL of Redis or of a worker, nobody has to do anything.

Real processes throughout: a Redis server with its append-only file, ``noether up --workers 2`` as a
child process with its own workers. The tests pace the runs they need in flight with the hold key
(``keys.hold``: a run pauses at its first publish until the key is deleted), so no step races a
run; every wait is a poll with a generous deadline that only guards against a hang.

Recovery times are printed (``pytest -s tests/test_self_healing.py``), not asserted.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis
from conftest import start_lab, start_stack, wait_for
from fastapi.testclient import TestClient

import noether
from backend.app import create_app
from lab.redis_server import RedisServer, free_port
from labsettings import Settings
from workers import keys, series
from workers.proc import pid_alive, stop_process

pytestmark = pytest.mark.slow

TERMINAL = {"succeeded", "failed", "cancelled", "diverged"}


def spec(i: int) -> dict:
    """A small run whose series differs from run to run (the learning rate)."""
    return {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.0001 * (i + 1)},
            "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}, "steps": 3000,
            "record_every": 10}


def expected_series(body: dict) -> list[dict]:
    """The same spec run in this process by the science core, as the API returns its records."""
    return [json.loads(json.dumps(series.clean(rec))) for rec in noether.simulate(body)]


def all_records(api: httpx.Client, run_id: str) -> list[dict]:
    out, cursor = [], 0
    while True:
        page = api.get(f"/runs/{run_id}/series", params={"after": cursor, "limit": 5000}).json()
        out += page["records"]
        cursor = page["cursor"]
        if page["done"]:
            return out


def presence(r: redis.Redis) -> dict[str, int]:
    """Workers that report presence: name -> pid."""
    out = {}
    for key in r.scan_iter(match=keys.WORKERS_PATTERN):
        pid = r.hget(key, "pid")
        if pid:
            out[key.decode().split(":", 2)[2]] = int(pid)
    return out


def health(api: str) -> dict:
    try:
        resp = httpx.get(f"{api}/health", timeout=30)
        return resp.json()
    except (httpx.HTTPError, ValueError):
        return {}


@pytest.fixture
def redis_with_aof(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    yield server
    server.stop()


def test_runs_running_and_queued_when_redis_is_sigkilled_all_succeed_once_it_is_back(redis_with_aof, tmp_path):
    server = redis_with_aof
    lab = start_lab(f"{server.url}/0", tmp_path / "lab", workers=2)
    r = redis.Redis.from_url(f"{server.url}/0", socket_timeout=5)
    ids = [f"redis-crash-{i}" for i in range(8)]
    try:
        wait_for(lambda: len(presence(r)) == 2, 120, 0.2, "both workers")
        with httpx.Client(base_url=lab.api, timeout=30) as api:
            for i, run_id in enumerate(ids):
                r.set(keys.hold(run_id), 1)  # each run pauses at its first publish
                assert api.post("/runs", json={"id": run_id, "spec": spec(i)}).status_code == 201

            def two_running_six_queued():
                recs = [api.get(f"/runs/{i}").json() for i in ids]
                running = [x for x in recs if x["status"] == "running"
                           and api.get(f"/runs/{x['id']}/series", params={"limit": 1}).json()["records"]]
                queued = [x for x in recs if x["status"] == "queued"]
                return len(running) == 2 and len(queued) == 6

            wait_for(two_running_six_queued, 120, 0.2, "2 runs running (paused) and 6 queued")
            workers_before = set(presence(r).values())

            server.kill()  # SIGKILL
            wait_for(lambda: health(lab.api).get("redis") is False, 60, 0.2, "the API to see Redis gone")
            # keep Redis away until the workers it had have exited (as in the issue)
            wait_for(lambda: not any(pid_alive(p) for p in workers_before), 120, 0.2, "the workers to exit")
            assert lab.proc.poll() is None, "noether up must survive a Redis crash"

            server.start()  # same port, same directory: the append-only file brings everything back
            back = time.monotonic()
            assert r.exists(*[keys.hold(i) for i in ids]) == 8  # the runs are still paused: release them
            r.delete(*[keys.hold(i) for i in ids])

            def all_finished():
                recs = [api.get(f"/runs/{i}").json() for i in ids]
                return recs if all(x.get("status") in TERMINAL for x in recs) else None

            recs = wait_for(all_finished, 240, 0.5, "all 8 runs to finish after Redis came back")
            took = time.monotonic() - back
            print(f"\nrecovery: all 8 runs succeeded {took:.1f} s after Redis was back")
            assert [x["status"] for x in recs] == ["succeeded"] * 8, recs
            for i, run_id in enumerate(ids):
                got = all_records(api, run_id)
                assert got == expected_series(spec(i)), f"{run_id}: the series differs from noether.simulate"
            wait_for(lambda: health(lab.api).get("status") == "ok", 120, 0.2, "health ok")
            # the dead workers' presence came back with the append-only file; it expires within PRESENCE_TTL
            wait_for(lambda: health(lab.api)["workers"] == 2, 60, 0.5, "health to count the 2 live workers only")
    finally:
        r.close()
        stop_process(lab.proc, signals=(signal.SIGINT,), grace=30)
    assert "There exists an active worker" not in lab_logs(tmp_path / "lab")


def test_sigkill_of_a_worker_ten_times_in_a_row_brings_the_configured_count_back_each_time(redis_db, tmp_path):
    url = redis_db()
    lab = start_lab(url, tmp_path / "lab", workers=2)
    r = redis.Redis.from_url(url)
    times = []
    try:
        wait_for(lambda: len(presence(r)) == 2, 120, 0.2, "both workers")
        killed: set[int] = set()
        for n in range(10):
            workers = presence(r)
            victim = sorted(workers.values())[n % 2]
            os.kill(victim, signal.SIGKILL)
            t0 = time.monotonic()
            killed.add(victim)

            def back():
                now = presence(r)
                pids = set(now.values())
                if len(now) != 2 or pids & killed or not all(pid_alive(p) for p in pids):
                    return None
                h = health(lab.api)
                return h if h.get("status") == "ok" else None

            h = wait_for(back, 180, 0.1, f"the configured 2 workers after kill {n + 1}")
            times.append(time.monotonic() - t0)
            assert h["workers"] == 2 and h["workers_expected"] == 2 and h["reason"] is None, h
        print(f"\nworker back after SIGKILL: median {sorted(times)[len(times) // 2]:.1f} s, max {max(times):.1f} s "
              f"over {len(times)} kills")
        assert lab.proc.poll() is None
    finally:
        r.close()
        stop_process(lab.proc, signals=(signal.SIGINT,), grace=30)
    assert "There exists an active worker" not in lab_logs(tmp_path / "lab")


def lab_logs(data_dir) -> str:
    logs = data_dir / "logs"
    return "".join(p.read_text(errors="replace") for p in logs.glob("*.log")) if logs.exists() else ""


def test_health_says_degraded_with_the_reason_while_fewer_workers_run_than_configured(redis_db, tmp_path):
    stack = start_stack(redis_db(), tmp_path / "stack", workers=2)  # configured for 2; the test adds them
    try:
        h = health(stack.api)
        assert (h["status"], h["workers"], h["workers_expected"]) == ("degraded", 0, 2), h
        assert h["reason"] == "no worker is running (0 of 2): queued runs wait"
        first = stack.add_worker()
        h = health(stack.api)
        assert (h["status"], h["workers"], h["reason"]) == ("degraded", 1, "1 of 2 workers running"), h
        stack.add_worker()
        h = health(stack.api)
        assert (h["status"], h["workers"], h["reason"]) == ("ok", 2, None), h
        stack.stop_worker(first)  # a worker that stops leaves at once
        h = health(stack.api)
        assert (h["status"], h["workers"], h["reason"]) == ("degraded", 1, "1 of 2 workers running"), h
    finally:
        stack.close()


def test_health_says_degraded_with_the_reason_when_redis_does_not_answer(tmp_path):
    settings = Settings(_env_file=None, redis_url=f"redis://127.0.0.1:{free_port()}/0", data_dir=tmp_path)
    with TestClient(create_app(settings, reaper=False)) as api:
        resp = api.get("/api/health")
    assert resp.status_code == 503
    assert resp.json()["status"] == "degraded" and resp.json()["redis"] is False
    assert "Redis does not answer" in resp.json()["reason"]


def test_restarts_back_off_only_while_a_worker_fails_before_it_comes_up():
    from lab.up import BACKOFF_CAP, Child, backoff

    assert [backoff(n) for n in range(8)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, BACKOFF_CAP, BACKOFF_CAP]
    child = Child("host-w1-1", [], {}, Path("unused.log"))
    delays = [child.exited(now=child.started_at + 1) for _ in range(8)]  # it never came up: backs off, capped
    assert delays == [backoff(n) for n in range(8)] and max(delays) == BACKOFF_CAP
    child.ready = True  # it came up, then was killed: restarted at once
    assert child.exited(now=child.started_at + 1) == 0.0

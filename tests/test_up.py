"""``noether up``: the whole lab from one command, with its own Redis, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import os
import signal

import httpx
import pytest
import redis
from conftest import start_lab, wait_for
from rq import Queue

from lab.redis_server import RedisServer
from workers import keys, records

pytestmark = pytest.mark.slow


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_noether_up_serves_a_run_end_to_end_and_stops_cleanly_on_sigint(tmp_path):
    lab = start_lab(None, tmp_path / "lab")  # no Redis URL: it starts its own server
    try:
        health = httpx.get(f"{lab.api}/health", timeout=10).json()
        assert health["redis"] and health["workers"] == 1 and health["status"] == "ok"
        assert "Noether Lab is running at " + lab.url in lab.log.read_text()
        assert (tmp_path / "lab" / "redis").is_dir()  # append-only files live in the data directory
        # its Redis needs a password only this user can read; the worker counted above authenticated with it
        assert (tmp_path / "lab" / "redis" / "password").stat().st_mode & 0o777 == 0o600

        run = httpx.post(f"{lab.api}/runs", json={"preset": "toy-gf", "overrides": {"steps": 40}}, timeout=30)
        assert run.status_code == 201
        run_id = run.json()["id"]

        def done():
            rec = httpx.get(f"{lab.api}/runs/{run_id}", timeout=10).json()
            return rec if rec["status"] not in ("queued", "running") else None

        assert wait_for(done, 90, 0.1, "the preset run")["status"] == "succeeded"
        series = httpx.get(f"{lab.api}/runs/{run_id}/series", params={"limit": 1000}, timeout=10).json()
        assert series["done"] and series["records"][-1]["step"] == 40

        long_run = {"potential": {"kind": "sphere", "dim": 3}, "steps": 1_000_000, "record_every": 100}
        run_id = httpx.post(f"{lab.api}/runs", json={"spec": long_run, "id": "interrupted-by-ctrl-c"},
                            timeout=30).json()["id"]
        wait_for(lambda: httpx.get(f"{lab.api}/runs/{run_id}", timeout=10).json()["status"] == "running", 60, 0.1,
                 "the long run to start")
        family = descendants(lab.proc.pid)
        assert len(family) >= 3  # at least the Redis server, the worker and its work horse
    finally:
        lab.proc.send_signal(signal.SIGINT)
        code = lab.proc.wait(60)
    assert code == 0, lab.log.read_text()[-2000:]
    assert not [pid for pid in family if alive(pid)], "noether up left processes behind"

    # the run that was going is back in the queue (in the append-only file), to run at the next start
    with RedisServer(tmp_path / "lab" / "redis") as server:
        r = redis.Redis.from_url(server.url)
        rec = records.get(r, "interrupted-by-ctrl-c")
        assert rec.status == "queued" and "worker was stopped" in rec.reason, rec
        assert keys.rq_job_id("interrupted-by-ctrl-c", 2) in Queue("noether", connection=r).job_ids
        r.close()

"""Queued runs survive a crash of the Redis server (append-only file), and then run."""

from __future__ import annotations

import httpx
import pytest
import redis
from conftest import start_stack, wait_for
from rq import Queue

from lab.redis_server import RedisServer

pytestmark = pytest.mark.slow

TINY = {"potential": {"kind": "sphere", "dim": 3}, "steps": 3}


def test_queued_runs_survive_a_sigkill_of_redis_and_then_finish(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    stack = start_stack(f"{server.url}/0", tmp_path / "data")
    try:
        ids = [f"aof-run-{i:03d}" for i in range(30)]
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            for run_id in ids:
                assert api.post("/runs", json={"id": run_id, "spec": TINY}).status_code == 201
            server.kill()  # SIGKILL: acknowledged writes are in the AOF already (appendfsync everysec)
            server.start()  # same port, same directory: the AOF is replayed
            r = redis.Redis.from_url(stack.redis_url)
            assert Queue(stack.settings.queue, connection=r).count == 30
            assert api.get("/runs", params={"status": "queued", "limit": 100}).json()["total"] == 30
            stack.add_worker()

            def all_succeeded():
                page = api.get("/runs", params={"limit": 100}).json()
                return page if all(i["status"] == "succeeded" for i in page["items"]) else None

            page = wait_for(all_succeeded, 120, 0.3, "the restored runs to finish")
            assert sorted(i["id"] for i in page["items"]) == ids
    finally:
        stack.close()
        server.stop()

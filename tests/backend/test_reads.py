"""Reads cost what they return, and a lecture hall can follow one live run (issue 10, items 3 and 4).

Given a stack (the API server, no worker) on a fresh Redis database, the test plays the worker: it
starts runs and publishes their batches with the worker's own code (``workers.task.Attempt.flush``),
at its own pace, so that no test races a run it does not control. Costs are counted on the Redis
server (bytes it sends, commands it runs), never timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import shutil
import threading
from typing import Any

import httpx
import pytest
import websockets
from conftest import start_stack, wait_for
from websockets.sync.client import connect

from lab.redis_server import RedisServer
from workers import archive, keys, records
from workers.job import Status
from workers.reaper import recover
from workers.task import Attempt

pytestmark = pytest.mark.slow

SPEC = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.0001},
        "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}, "steps": 10}
PAUSE_MS = 8000  # a paused Redis: the heavy reads sent meanwhile find its slot taken (a 503 needs no Redis)


@pytest.fixture(scope="module")
def stack(stack_factory):
    return stack_factory(workers=0)


@pytest.fixture(scope="module")
def api(stack):
    with httpx.Client(base_url=stack.api, timeout=60) as client:
        yield client


def record(i: int) -> dict[str, Any]:
    """A record as a worker publishes it: step, t, loss, a law, and a view (a list)."""
    return {"step": i, "t": 0.01 * i, "loss": 1.0 / (1 + i), "law/energy": math.sin(i / 50.0),
            "position": [math.cos(i), math.sin(i), 0.0]}


class Player:
    """The worker's side of one attempt of a run, driven by the test."""

    def __init__(self, stack: Any, run_id: str, attempt: int = 1):
        self.r = stack.redis()
        self.stack, self.run_id = stack, run_id
        assert records.start(self.r, run_id, attempt, worker="test", device="cpu", lease_ms=600_000,
                             client_key=keys.client_queued("test")), f"run {run_id} did not start"
        self.attempt = Attempt(self.r, stack.settings, run_id, attempt)

    def publish(self, first: int, n: int) -> None:
        self.attempt.flush([record(i) for i in range(first, first + n)])

    def finish(self, archive_it: bool = False) -> None:
        assert records.finish(self.r, self.run_id, self.attempt.attempt, Status.SUCCEEDED, step=0, progress=1.0)
        if archive_it:
            archive.archive(self.r, self.stack.settings.run_store, self.run_id, stream_ttl=600)
        self.r.close()


def submit(api: httpx.Client, run_id: str) -> None:
    assert api.post("/runs", json={"id": run_id, "spec": SPEC}).status_code == 201


def published_run(stack: Any, api: httpx.Client, run_id: str, n: int, batch: int, archive_it: bool = False) -> None:
    submit(api, run_id)
    player = Player(stack, run_id)
    for first in range(0, n, batch):
        player.publish(first, min(batch, n - first))
    player.finish(archive_it)


def server_stats(stack: Any) -> dict[str, int]:
    """Bytes the Redis server has sent and the stream reads it has served (INFO stats, commandstats)."""
    r = stack.redis()
    try:
        stats = r.info("stats")
        cmds = r.info("commandstats")
    finally:
        r.close()
    calls = {k: v["calls"] for k, v in cmds.items()}
    return {"out": stats["total_net_output_bytes"],
            "reads": sum(calls.get(f"cmdstat_{c}", 0) for c in ("xrange", "xrevrange", "xread"))}


def follow(ws_url: str, after: int = 0, seen: tuple[int, threading.Event] | None = None) -> tuple[list[int], list[dict]]:
    """Steps a WebSocket client receives until done, and the control messages it saw (``seen``: an
    event set once it holds that many records)."""
    steps, controls, cursor = [], [], after
    with connect(f"{ws_url}?after={after}", open_timeout=30, close_timeout=5, max_size=2**26) as ws:
        while True:
            msg = json.loads(ws.recv(timeout=120))
            if "records" in msg:
                steps += [r["step"] for r in msg["records"]]
                if seen is not None and len(steps) >= seen[0]:
                    seen[1].set()
                assert msg["cursor"] == cursor + len(msg["records"]), msg["cursor"]
                cursor = msg["cursor"]
            else:
                controls.append(msg)
                if msg.get("done") or msg.get("error"):
                    return steps, controls
                if msg.get("reset"):
                    cursor = 0


def follow_in_thread(url: str, **kw: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """``follow`` in a thread; its result lands in the dict as ``steps`` and ``controls``."""
    result: dict[str, Any] = {}

    def run() -> None:
        result["steps"], result["controls"] = follow(url, **kw)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def ws_url(stack: Any, run_id: str) -> str:
    return stack.api.replace("http://", "ws://") + f"/runs/{run_id}/stream"


# --- item 3: reads cost what they return --------------------------------------------------------


def test_a_replay_reads_each_record_from_redis_about_once(stack, api):
    n, batch = 40_000, 2000
    published_run(stack, api, "replay-linear-1", n, batch, archive_it=True)  # (the reaper would archive it meanwhile)
    r = stack.redis()
    stream_bytes = sum(len(f[b"b"]) for _i, f in r.xrange(keys.series("replay-linear-1")) if b"b" in f)
    r.close()
    before = server_stats(stack)
    steps, controls = follow(ws_url(stack, "replay-linear-1"))
    after = server_stats(stack)
    assert steps == list(range(n)) and controls[-1]["status"] == "succeeded"
    # every batch crosses from Redis about once (the chunk edges read a batch twice), not once per chunk
    assert after["out"] - before["out"] < 1.5 * stream_bytes, (after["out"] - before["out"], stream_bytes)
    assert after["reads"] - before["reads"] <= 3 * (n // 2000) + 6, after["reads"] - before["reads"]


def test_an_envelope_costs_the_points_it_returns_not_the_runs_length(stack, api):
    published_run(stack, api, "envelope-short-1", 10_000, 500, archive_it=True)
    published_run(stack, api, "envelope-long-01", 160_000, 2000, archive_it=True)
    cost = {}
    for run_id in ("envelope-short-1", "envelope-long-01"):
        before = server_stats(stack)
        res = api.get(f"/runs/{run_id}/series", params={"points": 100, "columns": "loss,law/energy"})
        cost[run_id] = server_stats(stack)["out"] - before["out"]
        assert res.status_code == 200, res.text
        view = res.json()
        assert view["downsampled"] and 50 <= len(view["step"]) <= 100, len(view["step"])
        assert set(view["columns"]) == {"loss", "law/energy"}
        total = view["total"]
        # honest envelopes: the max of loss is the first record's, the min the last's; sin spans [-1, 1]
        assert view["columns"]["loss"]["max"][0] == 1.0
        assert view["columns"]["loss"]["min"][-1] == pytest.approx(1.0 / total)
        assert max(view["columns"]["law/energy"]["max"]) == pytest.approx(1.0, abs=1e-3)
        assert min(view["columns"]["law/energy"]["min"]) == pytest.approx(-1.0, abs=1e-3)
        assert view["step"][0] == 0 and view["step"] == sorted(view["step"])
    # 16 times the records, about the same bytes out of Redis (reading the records would be 16x)
    assert cost["envelope-long-01"] < 2 * cost["envelope-short-1"], cost


def test_an_archived_runs_envelope_is_read_from_its_stored_levels_after_a_redis_flush(stack, api):
    published_run(stack, api, "envelope-arch-01", 20_000, 1000, archive_it=True)
    live = api.get("/runs/envelope-arch-01/series", params={"points": 64}).json()
    # the record where the envelope ends comes with it (a reopened run's chart reaches its last step at once)
    last = api.get("/runs/envelope-arch-01/series", params={"after": live["total"] - 1, "limit": 1}).json()["records"]
    assert live["downsampled"] and live["last"] == last[0] and live["last"]["step"] == 19_999
    folder = stack.settings.run_store / "envelope-arch-01" / "envelope"
    assert (folder / "meta.msgpack").exists() and list(folder.glob("L*.msgpack"))
    r = stack.redis()
    r.delete(keys.series("envelope-arch-01"), keys.envelope("envelope-arch-01"))
    r.close()
    stored = api.get("/runs/envelope-arch-01/series", params={"points": 64}).json()
    assert stored == live
    # an archive from before envelope levels: they are built once from series.parquet, then kept
    shutil.rmtree(folder)
    assert api.get("/runs/envelope-arch-01/series", params={"points": 64}).json() == live
    assert (folder / "meta.msgpack").exists()


def test_heavy_reads_beyond_the_cap_are_refused_with_retry_after(tmp_path):
    # a Redis of its own: the test pauses it so that the first heavy read holds its slot meanwhile
    server = RedisServer(tmp_path / "redis", appendonly=False)
    own = start_stack(server.start() + "/0", tmp_path / "data", max_heavy_reads=1, heavy_read_wait=0)
    try:
        with httpx.Client(base_url=own.api, timeout=60) as c:
            published_run(own, c, "heavy-reads-0001", 12_000, 2000)
        results: list[httpx.Response] = []

        def read() -> None:
            with httpx.Client(base_url=own.api, timeout=60) as c:
                results.append(c.get("/runs/heavy-reads-0001/series", params={"limit": 12_000}))

        r = own.redis()
        r.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")  # every command waits PAUSE_MS (even UNPAUSE)
        r.close()
        threads = [threading.Thread(target=read) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        codes = sorted(res.status_code for res in results)
        assert codes == [200, 503, 503, 503, 503, 503], codes
        for res in results:
            if res.status_code == 503:
                assert res.headers["retry-after"] == "1" and "busy" in res.json()["detail"]
            else:
                assert [x["step"] for x in res.json()["records"]] == list(range(12_000))
        with httpx.Client(base_url=own.api, timeout=60) as c:  # light reads are not capped
            assert c.get("/runs/heavy-reads-0001/series", params={"limit": 2000}).status_code == 200
    finally:
        own.close()
        server.stop()


# --- item 4: a lecture hall on one live run ----------------------------------------------------


def test_two_hundred_followers_of_one_live_run_each_get_every_point(stack, api):
    run_id, followers, batches, size = "lecture-hall-001", 200, 20, 25
    submit(api, run_id)
    url = ws_url(stack, run_id)
    connected = threading.Event()
    got: list[list[int]] = []
    failures: list[str] = []

    async def one(k: int, opened: list[int]) -> None:
        steps, cursor = [], 0
        try:
            async with websockets.connect(url, open_timeout=60, max_size=2**24) as ws:
                opened.append(k)
                if len(opened) == followers:
                    connected.set()
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if "records" in msg:
                        steps += [r["step"] for r in msg["records"]]
                        cursor = msg["cursor"]
                    elif msg.get("done"):
                        break
                    else:
                        failures.append(f"follower {k}: {msg}")
                        return
        except Exception as exc:  # noqa: BLE001 - reported below with the follower's number
            failures.append(f"follower {k}: {exc!r}")
            connected.set()
            return
        got.append(steps if cursor == len(steps) else [-1])

    async def hall() -> None:
        opened: list[int] = []
        await asyncio.gather(*(one(k, opened) for k in range(followers)))

    thread = threading.Thread(target=lambda: asyncio.run(hall()))
    thread.start()
    assert connected.wait(120) and not failures, failures[:5]
    player = Player(stack, run_id)  # the run starts once every follower is connected
    for b in range(batches):
        player.publish(b * size, size)
    player.finish()
    thread.join(300)
    assert not failures, failures[:5]
    assert len(got) == followers and all(steps == list(range(batches * size)) for steps in got)


def test_a_follower_that_never_reads_neither_stalls_the_others_nor_grows_redis(stack, api):
    run_id, n, batch = "slow-follower-01", 60_000, 2000
    submit(api, run_id)
    player = Player(stack, run_id)
    for first in range(0, n // 2, batch):
        player.publish(first, batch)
    # followers whose socket nobody reads: the server can send them a little, then nothing
    slow = contextlib.ExitStack()
    for _ in range(4):
        slow.enter_context(connect(ws_url(stack, run_id), open_timeout=30, close_timeout=1, max_queue=1,
                                   max_size=2**26))
    peak = {"omem": 0}
    stop = threading.Event()

    def watch() -> None:
        r = stack.redis()
        while not stop.is_set():
            peak["omem"] = max(peak["omem"], r.info("clients").get("client_recent_max_output_buffer", 0),
                               max(int(c.get("omem", 0)) for c in r.client_list()))
            stop.wait(0.05)
        r.close()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        fast, result = follow_in_thread(ws_url(stack, run_id))
        for first in range(n // 2, n, batch):
            player.publish(first, batch)
        player.finish()
        fast.join(180)
        assert result["steps"] == list(range(n)) and result["controls"][-1]["done"]
    finally:
        stop.set()
        watcher.join(10)
        slow.close()
    # a chunk of 2,000 records is about 100 kB: no reply waits in Redis for a reader that stalled
    assert peak["omem"] < 1_000_000, peak


def test_a_queued_run_that_starts_sends_no_reset_but_a_restart_does(stack, api):
    run_id = "queued-start-001"
    submit(api, run_id)
    seen = threading.Event()
    t, result = follow_in_thread(ws_url(stack, run_id), seen=(50, seen))
    wait_for(lambda: _feeds(stack), 60, what="the follower to subscribe")
    player = Player(stack, run_id)
    player.publish(0, 50)
    assert seen.wait(60), "the follower did not get the first batch"
    # the worker is lost after 50 records: the run is re-queued and starts again on attempt 2
    assert recover(player.r, stack.settings, run_id, force=True) == Status.QUEUED
    player.r.close()
    second = Player(stack, run_id, attempt=2)
    second.publish(0, 80)
    second.finish()
    t.join(120)
    # no reset when the queued run first started; one when attempt 2 replaced the records of attempt 1
    assert [c for c in result["controls"] if not c.get("done")] == [{"reset": True, "attempt": 2, "cursor": 0}]
    assert result["controls"][-1]["done"] and result["controls"][-1]["status"] == "succeeded"
    assert result["steps"] == list(range(50)) + list(range(80))


def _feeds(stack: Any) -> bool:
    """Whether a run of this stack is followed: a Redis client of its database waits in XREAD."""
    r = stack.redis()
    try:
        db = r.connection_pool.connection_kwargs.get("db", 0)
        return any(c.get("cmd") == "xread" and int(c.get("db", -1)) == db for c in r.client_list())
    finally:
        r.close()


def test_a_stream_beyond_the_limit_is_refused_with_a_close_code_and_a_reason(stack_factory):
    small = stack_factory(workers=0, max_streams=2)
    with httpx.Client(base_url=small.api, timeout=60) as c:
        submit(c, "limit-streams-01")
    url = ws_url(small, "limit-streams-01")
    with connect(url, open_timeout=30) as a, connect(url, open_timeout=30) as b:
        with connect(url, open_timeout=30) as c:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                c.recv(timeout=30)
        assert closed.value.rcvd.code == 1013 and "NOETHER_MAX_STREAMS" in closed.value.rcvd.reason
        assert a.protocol.state.name == "OPEN" and b.protocol.state.name == "OPEN"


def test_a_view_of_a_run_without_records_checks_no_column(stack, api):
    submit(api, "no-records-0001")
    view = api.get("/runs/no-records-0001/series", params={"points": 10, "columns": "loss"})
    assert view.status_code == 200 and view.json()["total"] == 0, view.text
    page = api.get("/runs/no-records-0001/series")  # the default limit (10,000) of an empty run is a light read
    assert page.status_code == 200 and page.json()["records"] == []


def test_followers_of_a_live_run_get_every_point_across_a_redis_restart(tmp_path):
    """A Redis that dies and comes back (same port, append-only file) costs the hall no point and no error."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    stack = start_stack(f"{server.url}/0", tmp_path / "lab")
    run_id, followers, size = "restart-hall-01", 5, 25
    got: list[list[int]] = []
    failures: list[str] = []
    try:
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            submit(api, run_id)
        player = Player(stack, run_id)

        first_batch = threading.Barrier(followers + 1)

        def follow() -> None:
            steps: list[int] = []
            try:
                with connect(ws_url(stack, run_id), open_timeout=60, max_size=2**24) as ws:
                    while True:
                        msg = json.loads(ws.recv(timeout=120))
                        if "records" in msg:
                            if not steps:
                                first_batch.wait(120)
                            steps += [r["step"] for r in msg["records"]]
                        elif msg.get("done"):
                            break
                        else:
                            failures.append(str(msg))
                            return
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(repr(exc))
                return
            got.append(steps)

        threads = [threading.Thread(target=follow) for _ in range(followers)]
        for thread in threads:
            thread.start()
        for b in range(4):
            player.publish(b * size, size)
        first_batch.wait(120)  # every follower holds records when Redis goes away
        player.r.close()
        server.stop()  # Redis goes away, then comes back on the same port from its append-only file
        server.start()
        player.r = stack.redis()
        player.attempt.r = player.r
        for b in range(4, 8):
            player.publish(b * size, size)
        player.finish()
        for thread in threads:
            thread.join(180)
        assert not failures, failures[:3]
        assert len(got) == followers and all(steps == list(range(8 * size)) for steps in got)
    finally:
        stack.close()
        server.stop()

"""Series on a real Redis: replay by position (no gap, no duplicate), capped batches, downsampling envelopes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import threading

import pytest
from conftest import wait_for

from labsettings import Settings
from workers import client as jobs
from workers import keys, records, series
from workers.job import Status


def run_coroutine(coro):
    """``asyncio.run`` in a thread of its own: a browser test's Playwright (sync API) keeps an event loop
    running in the main thread for the rest of the session."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

SPEC = {"potential": {"kind": "sphere", "dim": 3}, "steps": 10}


def settings(redis_url: str, tmp_path) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url, data_dir=tmp_path)


def running_run(r, s: Settings, run_id: str = "series-run-1") -> str:
    """A run submitted and started (attempt 1) by hand, as a work horse would."""
    jobs.submit(r, s, [jobs.Submission(spec=SPEC, run_id=run_id, steps=10)], client="t")
    assert records.start(r, run_id, 1, worker="test", device="cpu", lease_ms=60_000,
                         client_key=keys.client_queued("t"))
    return run_id


def publish(r, run_id: str, first: int, n: int, attempt: int = 1) -> bool:
    batch = [{"step": i, "loss": float(i)} for i in range(first, first + n)]
    return records.publish(r, run_id, attempt, first_index=first, payload=series.pack(batch), count=n,
                           maxlen=1000, step=first + n - 1, progress=0.5, wallclock_ms=0)


@pytest.mark.parametrize("limit", [None, 1, 3, 7, 100])
@pytest.mark.parametrize("after", [0, 1, 5, 9, 10, 12])
def test_read_after_any_cursor_returns_each_later_record_once(clean_redis, tmp_path, after, limit):
    r, s = clean_redis, settings("", tmp_path)
    run_id = running_run(r, s)
    for first, n in [(0, 4), (4, 1), (5, 5), (10, 2)]:
        assert publish(r, run_id, first, n)
    seen, cursor = [], after
    for _ in range(50):
        chunk = series.read(r, run_id, cursor, limit)
        seen += [rec["step"] for rec in chunk.records]
        if cursor == chunk.cursor:
            break
        cursor = chunk.cursor
    assert seen == list(range(after, 12))
    assert cursor == max(after, 12)


@pytest.mark.parametrize("after, limit", [(0, None), (0, 3), (5, 2), (9, 100), (12, 1)])
def test_the_asyncio_reader_reads_what_the_blocking_one_reads(redis_url, clean_redis, tmp_path, after, limit):
    r, s = clean_redis, settings(redis_url, tmp_path)
    run_id = running_run(r, s)
    for first, n in [(0, 4), (4, 1), (5, 5), (10, 2)]:
        assert publish(r, run_id, first, n)

    async def aread():
        ar = jobs.connect_async(redis_url, max_connections=2)
        try:
            return await jobs.read_after(ar, run_id, after, limit if limit is not None else 1000)
        finally:
            await ar.aclose()

    assert run_coroutine(aread()) == series.read(r, run_id, after, limit if limit is not None else 1000)


def test_follow_gives_each_batch_published_after_it_starts_then_the_end(redis_url, clean_redis, tmp_path):
    r, s = clean_redis, settings(redis_url, tmp_path)
    run_id = running_run(r, s)

    def worker():  # publishes once the follower waits on the stream (XREAD BLOCK), then finishes the run
        wait_for(lambda: any(c.get("cmd") == "xread" for c in r.client_list()), 30, 0.01, "the follower to wait")
        publish(r, run_id, 0, 3)
        publish(r, run_id, 3, 2)
        records.finish(r, run_id, 1, Status.SUCCEEDED)

    async def follow():
        ar = jobs.connect_async(redis_url, max_connections=2)
        try:
            return [event async for event in jobs.follow(ar, run_id, block_ms=200)]
        finally:
            await ar.aclose()

    thread = threading.Thread(target=worker)
    thread.start()
    events = run_coroutine(follow())
    thread.join()
    assert [(type(e).__name__, getattr(e, "first", None)) for e in events[:-1]] == [("Published", 0), ("Published", 3)]
    assert [x["step"] for e in events[:-1] for x in e.records] == [0, 1, 2, 3, 4]
    assert events[-1] == jobs.Ended(5)


def test_follow_says_when_the_run_is_deleted(redis_url, clean_redis, tmp_path):
    r, s = clean_redis, settings(redis_url, tmp_path)
    run_id = running_run(r, s)
    r.delete(keys.run(run_id))  # its record is gone (a DELETE /api/runs/{id} under way)

    async def follow():
        ar = jobs.connect_async(redis_url, max_connections=2)
        try:
            return [event async for event in jobs.follow(ar, run_id, block_ms=200)]
        finally:
            await ar.aclose()

    assert run_coroutine(follow()) == [jobs.Deleted()]


def test_end_marker_follows_the_last_batch_and_reports_status(clean_redis, tmp_path):
    r, s = clean_redis, settings("", tmp_path)
    run_id = running_run(r, s)
    publish(r, run_id, 0, 3)
    assert records.finish(r, run_id, 1, Status.SUCCEEDED)
    chunk = series.read(r, run_id, 0)
    assert [x["step"] for x in chunk.records] == [0, 1, 2]
    assert chunk.ended and chunk.end_status == "succeeded"
    assert r.xrevrange(keys.series(run_id), count=1)[0][0] == b"3-2"


def test_a_superseded_attempt_can_neither_publish_nor_finish(clean_redis, tmp_path):
    r, s = clean_redis, settings("", tmp_path)
    run_id = running_run(r, s)
    assert publish(r, run_id, 0, 2)
    r.hset(keys.run(run_id), "attempt", "2")  # what the reaper does when it re-runs the job
    assert not publish(r, run_id, 2, 2, attempt=1)
    assert not records.finish(r, run_id, 1, Status.SUCCEEDED)
    assert records.heartbeat(r, run_id, 1, 1000) == -1
    assert [x["step"] for x in series.read(r, run_id, 0).records] == [0, 1]


def test_clean_replaces_non_finite_numbers_with_none():
    rec = series.clean({"step": 3, "loss": math.nan, "x": [1.0, math.inf, [2.0, -math.inf]], "name": "a"})
    assert rec == {"step": 3, "loss": None, "x": [1.0, None, [2.0, None]], "name": "a"}


def test_downsample_keeps_a_single_spike_in_the_max_envelope():
    rows = [{"step": i, "loss": 1.0} for i in range(10_000)]
    rows[4321]["loss"] = 50.0
    out = series.downsample(rows, 100)
    env = out["columns"]["loss"]
    assert out["downsampled"] and out["total"] == 10_000 and len(out["step"]) == 100
    assert max(env["max"]) == 50.0  # the spike survives
    assert max(env["mean"]) < 50.0  # a mean alone would have hidden most of it
    assert min(env["min"]) == 1.0
    assert out["step"][0] == 0 and out["step"] == sorted(out["step"])


def test_downsample_of_a_short_series_keeps_every_record_and_skips_missing_values():
    rows = [{"step": 0, "loss": 1.0, "a": None}, {"step": 1, "loss": 2.0}, {"step": 2, "loss": 3.0, "a": 7.0}]
    out = series.downsample(rows, 10)
    assert not out["downsampled"] and out["step"] == [0, 1, 2]
    assert out["columns"]["loss"]["mean"] == [1.0, 2.0, 3.0]
    assert out["columns"]["a"]["max"] == [None, None, 7.0]
    assert "step" not in out["columns"]


def test_downsample_selects_columns():
    rows = [{"step": i, "loss": float(i), "energy": 2.0 * i, "position": [0.0, 1.0]} for i in range(7)]
    out = series.downsample(rows, 3, ["energy"])
    assert list(out["columns"]) == ["energy"]
    assert out["columns"]["energy"]["min"][0] == 0.0 and out["columns"]["energy"]["max"][-1] == 12.0


def test_an_archived_run_reads_the_same_from_the_store_after_a_flush(clean_redis, tmp_path):
    from workers import archive

    r, s = clean_redis, settings("", tmp_path)
    run_id = running_run(r, s)
    for first, n in [(0, 5), (5, 7)]:
        publish(r, run_id, first, n)
    assert records.finish(r, run_id, 1, Status.SUCCEEDED, summary={"status": "succeeded", "x": float("nan")})
    assert archive.archive(r, s.run_store, run_id, stream_ttl=60)
    live = [jobs.series_page(r, s, run_id, after=a, limit=5) for a in (0, 5, 10)]
    r.flushdb()
    stored = [jobs.series_page(r, s, run_id, after=a, limit=5) for a in (0, 5, 10)]
    for a, b in zip(live, stored, strict=True):
        assert (a.records, a.cursor, a.done) == (b.records, b.cursor, b.done)
    assert [p.cursor for p in stored] == [5, 10, 12] and stored[-1].done and not stored[0].done
    rec = jobs.get(r, s, run_id)
    assert rec.status == "succeeded" and rec.summary == {"status": "succeeded", "x": None}
    items, total = jobs.list_runs(r, s)
    assert total == 1 and items[0].id == run_id

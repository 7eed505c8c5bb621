"""How the rest of the lab submits, reads, follows, cancels and deletes runs: the one door into the job system.

The backend imports this module and no other of ``workers`` (tests/test_layering.py): it never touches
Redis keys, the record's encoding, the reaper or the queue library itself. Records are ``Job`` values
(workers/job.py); the record's types and ``follow`` (workers/follow.py) are re-exported here
(``import X as X``), as part of this door. Reads fall back to the run store, so finished
runs stay readable after a Redis flush; ``follow`` is the asynchronous reader of a live run's series.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aredis
from pydantic import BaseModel, ConfigDict, Field
from redis.commands.core import Script
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError

from workers import archive, envelopes, keys, records, series, speed
from workers.follow import Deleted as Deleted
from workers.follow import Ended as Ended
from workers.follow import Expired as Expired
from workers.follow import FollowEvent as FollowEvent
from workers.follow import Published as Published
from workers.follow import Restarted as Restarted
from workers.follow import aget as aget
from workers.follow import follow as follow
from workers.follow import read_after as read_after
from workers.follow import state as state
from workers.job import TERMINAL as TERMINAL
from workers.job import CancelOutcome, Job, Status, encode_fields
from workers.job import JobView as JobView
from workers.job import Kind as Kind
from workers.job import WithSpec as WithSpec
from workers.queue import enqueue, rq_queue
from workers.series import Chunk as Chunk

# Failures of Redis that pass: a slow reply, a restart, a pool with no free connection for a while.
# A reader that meets one may try again from where it was (backend/fanout.py does).
TRANSIENT = (TimeoutError, redis.TimeoutError, redis.ConnectionError)

CANCEL_WAIT = 0.7  # seconds a cancel waits for the worker to stop cooperatively before it stops it by force


class JobError(Exception):
    """A request the job system refuses; ``status`` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Conflict(JobError):
    status = 409


class TooManyQueued(JobError):
    status = 429


class NotFound(JobError):
    status = 404


def connect(url: str) -> redis.Redis:
    """A Redis client (bytes in and out) for the job system."""
    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30)


def connect_async(url: str, *, max_connections: int) -> aredis.Redis:
    """An asyncio Redis client whose pool holds at most ``max_connections``: a caller waits for a free
    connection instead of failing (make it inside the event loop that uses it)."""
    pool = aredis.BlockingConnectionPool.from_url(url, socket_connect_timeout=5, max_connections=max_connections,
                                                  timeout=30)
    return aredis.Redis.from_pool(pool)


def valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` can name a run (letters, digits, _ and -, 8 to 64 of them)."""
    return bool(keys.RUN_ID.match(run_id))


def start_reaper(settings: Any) -> Any:
    """Start this process's reaper thread (lost runs re-queued, stragglers archived); call ``.stop()`` on it."""
    from workers.reaper import Reaper

    reaper = Reaper(settings)
    reaper.start()
    return reaper


def new_id() -> str:
    return uuid.uuid4().hex


def request_hash(body: Any) -> str:
    """Fingerprint of a submission, to tell a retry (same body) from a conflicting reuse of an id."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]


@dataclass
class Submission:
    """One run to create: its spec (as JSON) and what the record says about it."""

    spec: dict[str, Any]
    run_id: str | None = None
    kind: str = "run"
    preset: str | None = None
    name: str = ""
    dynamics: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    group: str | None = None
    steps: int = 0
    request_hash: str = ""

    def job(self, run_id: str, client: str) -> Job:
        """The queued record of this submission."""
        return Job(
            id=run_id, kind=self.kind, status=Status.QUEUED, created_at=records.iso(), steps=self.steps,
            preset=self.preset, name=self.name, dynamics=self.dynamics, tags=self.tags, note=self.note,
            group=self.group, client=client, spec=self.spec, request_hash=self.request_hash,
            rq_job=keys.rq_job_id(run_id, 1),
        )


def submit(r: redis.Redis, settings: Any, items: list[Submission], *, client: str) -> list[tuple[Job, bool]]:
    """Create and enqueue runs in one transaction; returns (record, created) per item.

    An item whose id exists with the same request is returned as it is (created False: an idempotent
    retry); with another request it raises Conflict. Raises TooManyQueued if the client would have
    more than ``max_queued_per_client`` queued runs.
    """
    ids = [it.run_id or new_id() for it in items]
    run_keys = [keys.run(i) for i in ids]
    ckey = keys.client_queued(client)
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(ckey, *run_keys)
                existing = [pipe.hgetall(k) for k in run_keys]
                out: list[tuple[Job, bool] | None] = []
                fresh = 0
                for it, run_id, raw in zip(items, ids, existing, strict=True):
                    if raw:
                        rec = Job.from_hash(raw)
                        if rec.request_hash != it.request_hash:
                            raise Conflict(f"run id '{run_id}' already exists with a different request")
                        out.append((rec, False))
                    else:
                        out.append(None)
                        fresh += 1
                if fresh:
                    queued = pipe.scard(ckey)
                    if queued + fresh > settings.max_queued_per_client:
                        raise TooManyQueued(
                            f"too many queued runs for this client: {queued} queued + {fresh} new > "
                            f"{settings.max_queued_per_client} (NOETHER_MAX_QUEUED_PER_CLIENT); wait or cancel some"
                        )
                pipe.multi()
                ms = records.now_ms()
                result = []
                for it, run_id, got in zip(items, ids, out, strict=True):
                    if got is not None:
                        result.append(got)
                        continue
                    job = it.job(run_id, client)
                    pipe.hset(keys.run(run_id), mapping=job.to_hash())
                    pipe.zadd(keys.RUNS, {run_id: ms})
                    pipe.sadd(ckey, run_id)
                    enqueue(r, settings, run_id, 1, pipeline=pipe)
                    result.append((job, True))
                pipe.execute()
                return result
            except redis.WatchError:
                continue
            finally:
                pipe.reset()


def get(r: redis.Redis, settings: Any, run_id: str) -> Job | None:
    """The record from Redis, else from the run store, else None."""
    rec = records.get(r, run_id)
    if rec is not None:
        return rec
    if not keys.RUN_ID.match(run_id):
        return None
    return archive.read_job(settings.run_store, run_id)


def require(r: redis.Redis, settings: Any, run_id: str) -> Job:
    rec = get(r, settings, run_id)
    if rec is None:
        raise NotFound(f"no run with id '{run_id}'")
    return rec


def ensure_store_indexed(r: redis.Redis, settings: Any) -> int:
    """After a Redis flush (or on a new Redis), put the archived runs' records back; returns how many."""
    if r.exists(keys.STORE_INDEXED):
        return 0
    if not r.set(keys.STORE_INDEXED + ":lock", "1", nx=True, ex=60):
        return 0
    n = 0
    try:
        for run_id in archive.archived_ids(settings.run_store):
            if r.exists(keys.run(run_id)):
                continue
            job = archive.read_job(settings.run_store, run_id)
            if job is None or not job.terminal:
                continue
            job = job.model_copy(update={"archived": True})
            try:
                ms = calendar.timegm(time.strptime((job.created_at or "")[:19], "%Y-%m-%dT%H:%M:%S")) * 1000
            except ValueError:
                ms = 0
            with r.pipeline() as pipe:
                pipe.hset(keys.run(run_id), mapping=job.to_hash())
                pipe.zadd(keys.RUNS, {run_id: ms})
                pipe.execute()
            n += 1
        r.set(keys.STORE_INDEXED, "1")
    finally:
        r.delete(keys.STORE_INDEXED + ":lock")
    return n


_FILTER_FIELDS = ("status", "preset", "tags", "group", "kind")


def list_runs(
    r: redis.Redis, settings: Any, *, status: str | None = None, preset: str | None = None, tag: str | None = None,
    group: str | None = None, kind: str | None = None, limit: int = 50, offset: int = 0,
) -> tuple[list[Job], int]:
    """Runs newest first, filtered; returns (page of records, total matching).

    ``preset`` matches any run whose preset name contains it, ignoring case ('toy' finds toy-gf, toy-nd and
    toy-nag); the other filters are exact.
    """
    ensure_store_indexed(r, settings)
    preset = preset.strip().casefold() if preset else None
    if not (status or preset or tag or group or kind):  # no filter: one page of the index
        ids = [i.decode() for i in r.zrevrange(keys.RUNS, offset, offset + limit - 1)]
        with r.pipeline(transaction=False) as pipe:
            for run_id in ids:
                pipe.hgetall(keys.run(run_id))
            pipe.zcard(keys.RUNS)
            *raws, total = pipe.execute()
        return [Job.from_hash(raw) for raw in raws if raw], total
    ids = [i.decode() for i in r.zrevrange(keys.RUNS, 0, -1)]
    with r.pipeline(transaction=False) as pipe:
        for run_id in ids:
            pipe.hmget(keys.run(run_id), *_FILTER_FIELDS)
        rows = pipe.execute()
    matching = []
    for run_id, row in zip(ids, rows, strict=True):
        if row[0] is None:
            continue  # deleted meanwhile
        st, pr, tg, gr, kd = (v.decode() if v is not None else "" for v in row)
        if status and st != status:
            continue
        if preset and preset not in pr.casefold():
            continue
        if group and gr != group:
            continue
        if kind and kd != kind:
            continue
        if tag and tag not in (json.loads(tg) if tg else []):
            continue
        matching.append(run_id)
    page = matching[offset : offset + limit]
    with r.pipeline(transaction=False) as pipe:
        for run_id in page:
            pipe.hgetall(keys.run(run_id))
        raws = pipe.execute()
    return [Job.from_hash(raw) for raw in raws if raw], len(matching)


def patch(r: redis.Redis, settings: Any, run_id: str, *, tags: list[str] | None, note: str | None) -> Job:
    """Change a run's tags and note (in Redis, and in its archive if it has one)."""
    rec = require(r, settings, run_id)
    changes: dict[str, Any] = {}
    if tags is not None:
        changes["tags"] = tuple(tags)
    if note is not None:
        changes["note"] = note
    if not changes:
        return rec
    key = keys.run(run_id)
    if r.exists(key):
        r.hset(key, mapping=encode_fields(changes))
        rec = records.get(r, run_id) or rec
        if not rec.archived:
            return rec  # the archive, when written, takes the new values (see archive.archive)
    else:
        rec = rec.model_copy(update=changes)
    if (archive.run_dir(settings.run_store, run_id) / "job.json").exists():
        job = archive.read_job(settings.run_store, run_id) or rec
        archive.write_job(settings.run_store, run_id, job.model_copy(update=changes))
    return rec


def cancel(r: redis.Redis, settings: Any, run_id: str, *, wait: float = CANCEL_WAIT) -> Job:
    """Cancel a queued run at once, or a running one within about a second, keeping its partial series.

    The worker is asked first (a flag its work horse polls ten times a second; the run ends at its
    next step and archives what it recorded). If it is still running after ``wait`` seconds (a step
    that takes longer), RQ's stop command kills the work horse and the run is finished here.
    """
    require(r, settings, run_id)
    q = rq_queue(r, settings)
    outcome = records.request_cancel(
        r, run_id, client_key=keys.client_queued(_client_of(r, run_id)), rq_queue_key=q.key,
        rq_job_prefix="rq:job:",
    )
    if outcome == CancelOutcome.FLAGGED:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(0.02)
            rec = records.get(r, run_id)
            if rec is None or rec.status != Status.RUNNING:
                break
        else:
            _force_stop(r, settings, run_id)
    return require(r, settings, run_id)


def _force_stop(r: redis.Redis, settings: Any, run_id: str) -> None:
    rec = records.get(r, run_id)
    if rec is None or rec.status != Status.RUNNING:
        return
    attempt = rec.attempt
    try:
        send_stop_job_command(r, keys.rq_job_id(run_id, attempt))
    except (NoSuchJobError, InvalidJobOperation):
        pass
    if records.finish(
        r, run_id, attempt, Status.CANCELLED, reason="cancelled (stopped by force: a step took longer than the wait)",
        step=rec.step, progress=rec.progress,
    ):
        archive.archive(r, settings.run_store, run_id, stream_ttl=settings.stream_ttl_seconds)


def _client_of(r: redis.Redis, run_id: str) -> str:
    raw = r.hget(keys.run(run_id), "client")
    return raw.decode() if raw else ""


def delete(r: redis.Redis, settings: Any, run_id: str) -> None:
    """Cancel if needed, then delete the record, the stream and the archive."""
    rec = require(r, settings, run_id)
    if not rec.terminal:
        cancel(r, settings, run_id)
    client = rec.client
    with r.pipeline() as pipe:
        pipe.delete(keys.run(run_id), keys.series(run_id), keys.envelope(run_id), keys.lease(run_id))
        pipe.zrem(keys.RUNS, run_id)
        pipe.zrem(keys.UNARCHIVED, run_id)
        pipe.srem(keys.RUNNING, run_id)
        pipe.srem(keys.client_queued(client), run_id)
        pipe.execute()
    archive.remove(settings.run_store, run_id)


class SeriesPage(BaseModel):
    """Records after the cursor, in step order; pass ``cursor`` back as ``after`` for the next page."""

    model_config = ConfigDict(frozen=True)

    records: list[dict[str, Any]]
    cursor: int = Field(..., description="position after the last record returned (records seen so far)")
    done: bool = Field(..., description="true once the run has ended and every record has been returned")
    status: str

    @classmethod
    def of(cls, records: list[dict[str, Any]], cursor: int, done: bool, status: str) -> SeriesPage:
        return cls.model_construct(records=records, cursor=cursor, done=done, status=status)  # records are ours


def series_page(r: redis.Redis, settings: Any, run_id: str, *, after: int = 0, limit: int | None = None) -> SeriesPage:
    """Records after ``after`` (a position), from the stream or the store; ``done`` once nothing more can come."""
    rec = require(r, settings, run_id)
    chunk = series.read(r, run_id, after, limit)
    if chunk is not None:
        return SeriesPage.of(chunk.records, chunk.cursor, chunk.ended, rec.status)
    got = archive.stored_page(settings.run_store, run_id, after, limit)
    if got is None:  # not started yet, or finished without records
        return SeriesPage.of([], after, rec.terminal, rec.status)
    page, total = got
    cursor = after + len(page)
    return SeriesPage.of(page, cursor, rec.terminal and cursor >= total, rec.status)


def series_length(r: redis.Redis, settings: Any, run_id: str) -> int:
    """Records of a run so far (stream or store), read without touching them."""
    n = series.length(r, run_id)
    if n is None:
        n = archive.series_length(settings.run_store, run_id)
    return n or 0


def envelope_view(r: redis.Redis, settings: Any, run_id: str, points: int) -> dict[str, Any] | None:
    """``points`` buckets with min/max envelopes from the stored levels (about ``points`` blocks read,
    whatever the run's length), or None: the series is short enough to bucket from its records
    (``envelopes.RAW_FACTOR * points`` records at most), or it has no stored levels."""
    require(r, settings, run_id)
    got = envelopes.redis_view(r, keys.envelope(run_id), points, None)
    if got is None:
        got = envelopes.store_view(archive.run_dir(settings.run_store, run_id), points, None)
    return got


def downsample_records(r: redis.Redis, settings: Any, run_id: str, points: int) -> dict[str, Any]:
    """``points`` buckets computed from the records: exact for short series; for a long archived run
    without stored levels (archived before they existed), the levels are built once, kept in the
    archive, and read from there."""
    rec = require(r, settings, run_id)
    total = series_length(r, settings, run_id)
    if envelopes.level_for(total, points) is not None and series.length(r, run_id) is None:
        folder = archive.run_dir(settings.run_store, run_id)
        if rec.terminal and (folder / archive.SERIES_FILE).exists():
            pyramid = envelopes.Pyramid(keep=True)
            for page in archive.iter_series(settings.run_store, run_id, 0, 10_000):
                pyramid.add(page)
            try:
                envelopes.write_pyramid(pyramid, folder)
            except OSError:  # a read-only store: answer without keeping them
                pass
            got = envelopes.store_view(folder, points, None) or envelopes.pyramid_view(pyramid, points)
            if got is not None:
                return got
    return series.downsample(all_records(r, settings, run_id), points)


def all_records(r: redis.Redis, settings: Any, run_id: str) -> list[dict[str, Any]]:
    """Every record of a run (stream or store)."""
    return series_page(r, settings, run_id).records


def stored_pages(settings: Any, run_id: str, after: int, size: int) -> Iterator[list[dict[str, Any]]]:
    """An archived run's records after ``after``, ``size`` at a time (read from the run store as needed)."""
    return archive.iter_series(settings.run_store, run_id, after, size)


def live_workers(r: redis.Redis) -> list[dict[str, str]]:
    """Workers that reported in the last few seconds."""
    names = list(r.scan_iter(match=keys.WORKERS_PATTERN, count=100))
    if not names:
        return []
    with r.pipeline(transaction=False) as pipe:
        for n in names:
            pipe.hgetall(n)
        rows = pipe.execute()
    return [{k.decode(): v.decode() for k, v in row.items()} for row in rows if row]


def recent_summaries(r: redis.Redis, settings: Any) -> dict[str, list[dict[str, Any]]]:
    """Per preset name, the summaries of its newest runs that succeeded here (newest first; workers.speed)."""
    ensure_store_indexed(r, settings)
    return speed.recent_summaries(r)


runtime_estimate = speed.estimate  # a preset's runtime from those summaries, else its conservative default


def queued_count(r: redis.Redis, settings: Any) -> int:
    return rq_queue(r, settings).count


def store_path(settings: Any, run_id: str) -> Path:
    return archive.run_dir(settings.run_store, run_id)


# --- external runs: a training loop outside the lab (noether.watch) streams into a run of its own ----------

EXTERNAL = "external"

_APPEND_EXTERNAL = Script(None, ("""
local r = redis.call('HMGET', KEYS[1], 'status', 'kind')
if r[1] ~= 'running' or r[2] ~= 'external' then return -1 end
""" + records.STREAM_LENGTH.format(key="KEYS[2]") + """redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], n .. '-1', 'b', ARGV[1], 'n', ARGV[2], 'w', ARGV[4])
redis.call('HSET', KEYS[1], 'step', ARGV[5], 'steps', ARGV[5])
return n + tonumber(ARGV[2])
""").encode())


def create_external(
    r: redis.Redis, settings: Any, *, name: str, description: dict[str, Any], tags: list[str], note: str, client: str,
    device: str = "",
) -> Job:
    """A running run of kind "external" (no queue, no lease: the script that made it appends and finishes it)."""
    run_id = new_id()
    item = Submission(spec=description, kind=EXTERNAL, name=name, dynamics=str(description.get("optimizer", "")),
                      tags=tuple(dict.fromkeys(tags)), note=note)
    job = item.job(run_id, client).model_copy(update=dict(
        status=Status.RUNNING, attempt=1, started_at=records.iso(), worker=EXTERNAL, device=device or None, rq_job=""))
    with r.pipeline() as pipe:
        pipe.hset(keys.run(run_id), mapping=job.to_hash())
        pipe.zadd(keys.RUNS, {run_id: records.now_ms()})
        pipe.execute()
    return records.get(r, run_id) or job


def append_external(r: redis.Redis, settings: Any, run_id: str, batch: list[dict[str, Any]]) -> int:
    """Append records to an external run's series; returns how many the series holds. Conflict if it has ended."""
    if not batch:
        return 0
    clean = [series.clean(rec) for rec in batch]
    last_step = int(clean[-1].get("step", 0) or 0)
    n = int(_APPEND_EXTERNAL(
        keys=[keys.run(run_id), keys.series(run_id)],
        args=[series.pack(clean), len(clean), settings.stream_maxlen, int(time.time() * 1000), last_step],
        client=r,
    ))
    if n < 0:
        rec = records.get(r, run_id)
        if rec is None:
            raise NotFound(f"run '{run_id}' not found")
        raise Conflict(f"run '{run_id}' is {rec.kind} and {rec.status}: records can only be "
                       "appended to a running external run")
    return n


def finish_external(
    r: redis.Redis, settings: Any, run_id: str, *, status: str, summary: dict[str, Any], reason: str = ""
) -> Job:
    """End an external run with its summary, and archive it into the run store."""
    rec = require(r, settings, run_id)
    if rec.kind != EXTERNAL:
        raise Conflict(f"run '{run_id}' is not an external run")
    if rec.status != Status.RUNNING:
        raise Conflict(f"run '{run_id}' has already ended ({rec.status})")
    steps = int(summary.get("steps_done") or rec.step or 0)
    records.finish(r, run_id, rec.attempt or 1, Status(status), reason=reason, summary=summary, step=steps,
                   progress=1.0)
    r.hset(keys.run(run_id), "steps", steps)
    archive.archive(r, settings.run_store, run_id, stream_ttl=settings.stream_ttl_seconds)
    return require(r, settings, run_id)

"""The reaper: finds runs whose worker is gone and re-queues them (or fails them), and archives stragglers.

A running attempt holds a lease (``keys.lease``, a key with a TTL of ``lease_seconds``) that its work
horse renews ten times a second. Every worker and the API run ``reap_once`` every ``period`` seconds;
a run whose record says running but whose lease has expired is *lost*: it goes back to the queue
with attempt + 1 (its partial series is dropped; the new attempt starts from step 0), or, once it
has been started ``max_attempts`` times, ends ``failed`` with reason "worker lost". A worker whose
work horse dies (SIGKILL, out of memory) reports it at once instead of waiting for the lease.

Bound: a run whose worker is SIGKILLed leaves ``running`` at most ``lease_seconds + period``
seconds later (10 s + 2.5 s with the defaults), then waits for a free worker like any queued run.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis

from workers import archive, keys, records
from workers.job import Status, encode_fields
from workers.queue import enqueue

log = logging.getLogger(__name__)


def reap_period(lease_seconds: float) -> float:
    """How often the reaper looks: a quarter of the lease, at most 2.5 s."""
    return min(2.5, max(0.2, lease_seconds / 4))


def recover(
    r: Any, settings: Any, run_id: str, *, attempt: int | None = None, force: bool = False, shutdown: bool = False
) -> str | None:
    """Re-queue or fail a lost run; returns the new status, or None if the run was not lost.

    ``force`` skips the lease check (the worker saw its work horse die); ``attempt`` fences it to
    the attempt that died; ``shutdown`` (its worker was stopped, not lost) re-queues it whatever the
    attempts. All checks and writes, the queue library's enqueue included, are one WATCH/MULTI
    transaction.
    """
    run_key, lease_key = keys.run(run_id), keys.lease(run_id)
    with r.pipeline() as pipe:
        for _ in range(10):
            try:
                pipe.watch(run_key, lease_key)
                raw = pipe.hmget(run_key, "status", "attempt", "client", "cancel_requested")
                at = records.server_now(pipe)  # immediate while watching; a finish below is queued in MULTI
                status = raw[0].decode() if raw[0] else None
                current = int(raw[1] or 0)
                if status != Status.RUNNING:
                    pipe.multi()
                    pipe.srem(keys.RUNNING, run_id)
                    pipe.execute()
                    return None
                if attempt is not None and current != attempt:
                    pipe.unwatch()
                    return None
                if not force and pipe.exists(lease_key):
                    pipe.unwatch()
                    return None
                pipe.multi()
                if raw[3] == b"1":
                    new = Status.CANCELLED
                    records.finish(pipe, run_id, current, new, reason="cancelled (its worker was lost)", at=at)
                elif shutdown or current < settings.max_attempts:
                    new = Status.QUEUED
                    client = (raw[2] or b"").decode()
                    why = "its worker was stopped" if shutdown else "worker lost"
                    pipe.hset(run_key, mapping=encode_fields({
                        "status": Status.QUEUED,
                        "reason": f"{why} during attempt {current}; re-queued",
                        "worker": None, "started_at": None, "step": 0, "progress": 0.0,
                        "rq_job": keys.rq_job_id(run_id, current + 1),
                    }))
                    pipe.delete(keys.series(run_id), keys.envelope(run_id))
                    pipe.srem(keys.RUNNING, run_id)
                    pipe.sadd(keys.client_queued(client), run_id)
                    enqueue(r, settings, run_id, current + 1, pipeline=pipe)
                else:
                    new = Status.FAILED
                    records.finish(pipe, run_id, current, new, reason="worker lost", at=at)
                pipe.execute()
                log.warning("run %s attempt %s: worker lost -> %s", run_id, current, new)
                return new
            except redis.WatchError:
                continue
    return None


def reap_once(r: Any, settings: Any, *, archive_stragglers: bool = True) -> dict[str, int]:
    """One pass: recover lost runs, archive finished runs nobody archived (their worker died after finishing)."""
    counts = {"recovered": 0, "archived": 0}
    for raw_id in r.smembers(keys.RUNNING):
        if recover(r, settings, raw_id.decode()):
            counts["recovered"] += 1
    if not archive_stragglers:
        return counts
    stale = r.zrangebyscore(keys.UNARCHIVED, "-inf", records.server_ms(r) - 5000, start=0, num=20)
    for raw_id in stale:
        run_id = raw_id.decode()
        try:
            if archive.archive(r, settings.run_store, run_id, stream_ttl=settings.stream_ttl_seconds):
                counts["archived"] += 1
            elif not r.exists(keys.run(run_id)):
                r.zrem(keys.UNARCHIVED, run_id)
        except Exception:  # a broken archive must not stop the reaper; try again next pass
            log.exception("archiving run %s failed", run_id)
    return counts


class Reaper(threading.Thread):
    """A daemon thread running ``reap_once`` every period (and ``on_tick`` first, e.g. a presence beat).

    In a process that forks (an RQ worker), a fork must never copy a lock this thread holds: the work
    horse would wait on it forever. ``fork_safe=True`` makes every fork wait for the current pass to
    end (``os.register_at_fork``), and leaves archiving (pyarrow, pandas: their own locks and
    imports) to the work horses and the API.
    """

    def __init__(self, settings: Any, *, on_tick: Any = None, period: float | None = None, fork_safe: bool = False):
        super().__init__(name="noether-reaper", daemon=True)
        self.settings = settings
        self.period = period or reap_period(settings.lease_seconds)
        self.on_tick = on_tick
        self.fork_safe = fork_safe
        self._stop_event = threading.Event()
        self._pass = threading.Lock()
        if fork_safe:
            os.register_at_fork(before=self._pass.acquire, after_in_parent=self._pass.release,
                                after_in_child=self._pass.release)
        # A client of its own: never share a connection pool with a process that forks.
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=10, health_check_interval=30)

    def run(self) -> None:
        while not self._stop_event.is_set():
            with self._pass:
                try:
                    if self.on_tick is not None:
                        self.on_tick(self.redis)
                    reap_once(self.redis, self.settings, archive_stragglers=not self.fork_safe)
                except redis.RedisError as exc:
                    log.warning("reaper: %s", exc)
                except Exception:
                    log.exception("reaper pass failed")
            self._stop_event.wait(self.period)

    def stop(self) -> None:
        self._stop_event.set()

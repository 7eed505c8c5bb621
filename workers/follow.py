"""Following a run from an asyncio server (the WebSocket stream): its new batches as they come, then how it ended.

``follow`` is one blocking reader of the run's stream (XREAD BLOCK from the last entry it saw) that also
looks at the run's record between reads, as an async generator of events; ``read_after`` replays the
records after a cursor (the same reading code as the blocking ``series.read``). The backend reaches
these through ``workers.client``, which re-exports them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis

from workers import keys, series
from workers.job import TERMINAL, Job, Status
from workers.series import Chunk


@dataclass(frozen=True)
class Published:
    """Records ``first..first + len(records)`` of the run, as its worker published them."""

    first: int
    records: list[dict[str, Any]]
    attempt: int  # the attempt whose records these are


@dataclass(frozen=True)
class Restarted:
    """The run started a new attempt: its series starts again at record 0."""

    attempt: int


@dataclass(frozen=True)
class Ended:
    """The run's end marker: the series holds ``end`` records and will hold no more."""

    end: int


@dataclass(frozen=True)
class Deleted:
    """The run's record is gone."""


@dataclass(frozen=True)
class Expired:
    """The run has ended and its stream has expired from Redis: its records are in the run store."""


FollowEvent = Published | Restarted | Ended | Deleted | Expired


async def state(ar: aredis.Redis, run_id: str) -> tuple[Status | None, int]:
    """A run's status (None if Redis does not know it) and attempt, in one round trip."""
    status, attempt = await ar.hmget(keys.run(run_id), "status", "attempt")
    return (Status(status.decode()) if status else None), int(attempt or 0)


async def aget(ar: aredis.Redis, run_id: str) -> Job | None:
    """The record from Redis (None if Redis does not know the run)."""
    raw = await ar.hgetall(keys.run(run_id))
    return Job.from_hash(raw) if raw else None


async def read_after(ar: aredis.Redis, run_id: str, cursor: int, limit: int) -> Chunk | None:
    """At most ``limit`` records after ``cursor`` from the run's stream (None without a stream)."""
    try:
        return await series.aread(ar, run_id, cursor, limit)
    except redis.ResponseError:
        return None


async def follow(ar: aredis.Redis, run_id: str, *, block_ms: int = 1000, count: int = 64) -> AsyncIterator[FollowEvent]:
    """A running run's new batches as they are published, then how it ended: one blocking reader (XREAD
    BLOCK from the last entry seen, ``count`` entries a read) that also looks at the record between reads."""
    key = keys.series(run_id)
    status, attempt = await state(ar, run_id)
    last = await ar.xrevrange(key, "+", "-", count=1)
    last_id = last[0][0] if last else b"0-0"
    while True:
        if status is None:
            yield Deleted()
            return
        if last_id != b"0-0" and keys.entry_index(last_id)[1] == 2:
            yield Ended(keys.entry_index(last_id)[0])
            return
        try:
            got = await ar.xread({key: last_id}, block=block_ms, count=count)
        except redis.ResponseError:
            got = []
        status, now = await state(ar, run_id)
        if now != attempt:  # a new attempt: its stream starts again at record 0
            attempt, last_id = now, b"0-0"
            yield Restarted(attempt)
            continue
        for _key, entries in got or []:
            for entry_id, fields in entries:
                index, kind = keys.entry_index(entry_id)
                last_id = entry_id
                if kind == 2:
                    break
                yield Published(index, series.unpack(fields[b"b"]), attempt)
        if not got and status in TERMINAL and not await ar.exists(key):
            yield Expired()
            return

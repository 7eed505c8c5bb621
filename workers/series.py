"""A run's series: msgpack batches on one Redis Stream per run, replayed by position, downsampled on request.

Positions are record indices (0-based): the cursor a client holds is the number of records it has
seen, the same number whether the records come from the stream (running or recent runs) or from the
run store (archived runs, or after a Redis flush). Stream entry ids encode the position of a batch's
first record (``keys.batch_id``), so reading "records after cursor c" is one XREVRANGE to find the
batch holding record c and one XRANGE from there: a late client gets the history, then the live
points, with no gap and no duplicate.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from noether.io import finite
from workers import envelopes, keys

Record = dict[str, Any]


def pack(records: list[Record]) -> bytes:
    """One batch as msgpack (about 42 bytes a point, against 91 for JSON)."""
    return msgpack.packb(records, use_bin_type=True)


def unpack(payload: bytes) -> list[Record]:
    return msgpack.unpackb(payload, raw=False)


# What travels on the wire: the record with NaN and infinities as None (JSON has neither); the core's one copy.
clean = finite


@dataclass
class Chunk:
    """Records after a cursor: the records, the new cursor, whether the end marker was reached."""

    records: list[Record] = field(default_factory=list)
    cursor: int = 0
    ended: bool = False
    last_id: bytes | None = None  # stream id of the last entry consumed (for XREAD BLOCK)
    end_status: str | None = None


def decode_entries(entries: Iterable[tuple[bytes, dict[bytes, bytes]]], after: int, limit: int | None) -> Chunk:
    """Records at positions >= ``after`` from stream entries in id order, at most ``limit`` of them.

    ``last_id`` is the id of the last entry whose records were all returned, so a follower resumes
    from there without repeating or skipping; a batch cut by ``limit`` is read again next time.
    """
    chunk = Chunk(cursor=after)
    for entry_id, fields in entries:
        index, kind = keys.entry_index(entry_id)
        if kind == 2:
            if index <= chunk.cursor:
                chunk.ended = True
                chunk.end_status = fields.get(b"done", b"").decode() or None
                chunk.last_id = entry_id
            break
        if index > chunk.cursor:  # a gap (trimmed by MAXLEN, or a concurrent reset): stop, never skip
            break
        if limit is not None and len(chunk.records) >= limit:
            break
        batch = unpack(fields[b"b"])
        skip = chunk.cursor - index
        take = batch[skip:]
        if limit is not None and len(chunk.records) + len(take) > limit:
            room = limit - len(chunk.records)
            chunk.records.extend(take[:room])
            chunk.cursor += room
            break
        chunk.records.extend(take)
        chunk.cursor += len(take)
        chunk.last_id = entry_id
    return chunk


PAGE_RECORDS = 4000  # records per XRANGE round trip when reading a whole stream


def _first(low: str | bytes) -> int:
    """The position an XRANGE lower bound (``i-1`` or exclusive ``(i-k``) starts after or at."""
    text = low.decode() if isinstance(low, bytes) else low
    return keys.entry_index(text.lstrip("("))[0] + (1 if text.startswith("(") else 0)


def _high(after: int, limit: int | None) -> str:
    """The last entry id a read of ``limit`` records after ``after`` needs: the batch holding its last
    record (ids encode positions, see ``keys``); the end marker right after it comes with the next read."""
    return "+" if limit is None else keys.batch_id(after + limit - 1)


Command = tuple[str, tuple, dict]  # a Redis client method's name, its arguments and keyword arguments


def _reading(run_id: str, after: int, limit: int | None) -> Generator[Command, Any, Chunk | None]:
    """The Redis commands of a read of the records after position ``after`` (at most ``limit``), as a
    generator that yields each command and is sent its reply; it returns the Chunk (None if there is no stream).

    One XRANGE bounded by ids fetches the batches from record ``after`` to record ``after + limit``
    (and, when record ``after`` is inside a batch, one XREVRANGE fetches that batch): a read costs the
    records it returns plus at most the batch at its start, so a replay in chunks is linear in its length.
    Written once, run by a blocking client (``read``) or an asyncio one (``aread``).
    """
    key = keys.series(run_id)
    low, high = keys.batch_id(after), _high(after, limit)
    if limit is not None:
        entries = yield ("xrange", (key, low, high), {})
    else:  # the whole rest, a few thousand records a round trip (a reply never waits whole in Redis)
        entries = []
        while True:
            page = yield ("xrange", (key, low, keys.batch_id(_first(low) + PAGE_RECORDS - 1)), {})
            if not page:  # a batch longer than a page, or the end
                page = yield ("xrange", (key, low, "+"), {"count": 1})
            entries.extend(page)
            if not page or keys.entry_index(page[-1][0])[1] == 2:
                break
            low = b"(" + page[-1][0]
    if not entries or keys.entry_index(entries[0][0])[0] > after:
        before = yield ("xrevrange", (key, "(" + keys.batch_id(after), "-"), {"count": 1})
        if not before and not entries and not (yield ("exists", (key,), {})):
            return None
        entries = before + entries
    return decode_entries(entries, after, limit)


def read(r: Any, run_id: str, after: int = 0, limit: int | None = None) -> Chunk | None:
    """Records after position ``after`` from the run's stream, at most ``limit`` (None if there is no stream)."""
    steps = _reading(run_id, after, limit)
    try:
        name, args, kwargs = next(steps)
        while True:
            name, args, kwargs = steps.send(getattr(r, name)(*args, **kwargs))
    except StopIteration as end:
        return end.value


async def aread(r: Any, run_id: str, after: int = 0, limit: int | None = None) -> Chunk | None:
    """``read`` with an asyncio Redis client (the same commands, awaited)."""
    steps = _reading(run_id, after, limit)
    try:
        name, args, kwargs = next(steps)
        while True:
            name, args, kwargs = steps.send(await getattr(r, name)(*args, **kwargs))
    except StopIteration as end:
        return end.value


def length(r: Any, run_id: str) -> int | None:
    """Records in the run's stream so far (from its last entry's id and count), None without a stream."""
    last = r.xrevrange(keys.series(run_id), "+", "-", count=1)
    if not last:
        return None
    index, kind = keys.entry_index(last[0][0])
    return index if kind == 2 else index + int(last[0][1].get(b"n", b"0"))


def read_all(r: Any, run_id: str) -> tuple[list[Record], bool] | None:
    """Every record in the stream and whether its end marker is there (None without a stream)."""
    chunk = read(r, run_id, 0, None)
    if chunk is None:
        return None
    return chunk.records, chunk.ended


def iter_batches(records: list[Record], size: int) -> Iterator[list[Record]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


# --- downsampling --------------------------------------------------------------------------------


def scalar_columns(records: list[Record]) -> list[str]:
    """Columns holding numbers (the series' curves), in first-seen order; views (lists) are left out."""
    seen: dict[str, None] = {}
    for rec in records:
        for k, v in rec.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                seen.setdefault(k, None)
    return list(seen)


def downsample(records: list[Record], points: int, columns: list[str] | None = None) -> dict[str, Any]:
    """N buckets of consecutive records with each column's mean, min and max per bucket.

    The min/max envelope keeps a one-record spike visible however many records share its bucket
    (a mean alone, or every k-th point, would hide it). With ``len(records) <= points`` every record
    is its own bucket and ``downsampled`` is False. Missing and non-finite values are skipped;
    a bucket without any finite value gives None. Each bucket is an ``envelopes`` block, the same
    summary the stored levels hold, so both answers are computed by one piece of code.
    """
    total = len(records)
    names = scalar_columns(records) if columns is None else columns
    names = [c for c in names if c != "step"]
    n = min(points, total)
    edges = np.linspace(0, total, n + 1).round().astype(int).tolist() if total else [0]
    rows = [envelopes.summarise(records[a:b], a) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return {"downsampled": total > n, "total": total, "step": [row[1] for row in rows],
            "columns": envelopes.columns_of(rows, names)}

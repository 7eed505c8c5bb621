"""Min/max envelopes of a run's series at several resolutions, kept as records arrive.

Level ``k`` cuts the series into blocks of ``BASE * 2**k`` consecutive records; a block holds, per
number column, the count of finite values, their sum, minimum and maximum, and the step of its first
record. A worker adds every batch it publishes (``Pyramid.add``): the blocks it completes go to
Redis in the same script as the batch (``noether:envelope:<id>``, a hash ``"<k>:<i>" -> block``),
with ``meta``: the record count, the column names, the blocks per level and each level's *tail*
(the partial block after its last complete one). The archive holds the same levels as files
(``envelope/meta.msgpack`` and one ``envelope/L<k>.msgpack`` of complete blocks per level).

A view of N buckets reads the coarsest level fine enough: between N/2 and N blocks plus the tail,
so it costs about the points it returns, whatever the run's length. The envelope semantics are the
ones of ``series.downsample``: missing and non-finite values are skipped, a bucket without a finite
value gives None, a one-record spike stays in its bucket's max. Short series (at most
``RAW_FACTOR * N`` records) are bucketed exactly from their records, as before.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import msgpack

BASE = 32  # records in a block of level 0
RAW_FACTOR = 16  # series of at most RAW_FACTOR * points records are bucketed from their records
FOLDER = "envelope"

Block = list  # [first record index, first step, records, {column: [count, sum, min, max]}]


def width(level: int) -> int:
    """Records in a block of ``level``."""
    return BASE << level


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def summarise(records: list[dict[str, Any]], first: int) -> Block:
    """One block from consecutive records starting at position ``first``."""
    cols: dict[str, list] = {}
    for rec in records:
        for name, v in rec.items():
            if name == "step" or not _is_number(v):
                continue
            x = float(v)
            if not math.isfinite(x):
                continue
            c = cols.get(name)
            if c is None:
                cols[name] = [1, x, x, x]
            else:
                c[0] += 1
                c[1] += x
                if x < c[2]:
                    c[2] = x
                if x > c[3]:
                    c[3] = x
    step = records[0].get("step", first) if records else first
    return [first, int(step), len(records), cols]


def merge(a: Block, b: Block) -> Block:
    """The block of ``a``'s records followed by ``b``'s."""
    cols = {k: list(v) for k, v in a[3].items()}
    for name, (n, s, lo, hi) in b[3].items():
        c = cols.get(name)
        if c is None:
            cols[name] = [n, s, lo, hi]
        else:
            cols[name] = [c[0] + n, c[1] + s, min(c[2], lo), max(c[3], hi)]
    return [a[0], a[1], a[2] + b[2], cols]


class Pyramid:
    """The envelope levels of a series, built incrementally; ``add`` returns the blocks it completes."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep  # keep every complete block (to write an archive), not only what the next ones need
        self.blocks: list[list[Block]] = []
        self.n = 0
        self.pending: list[dict[str, Any]] = []
        self.counts: list[int] = []  # complete blocks per level
        self.carry: list[Block | None] = []  # per level: a complete block waiting for its right sibling
        self.columns: dict[str, None] = {}  # number columns, in first-seen order
        self.views: dict[str, None] = {}  # list-valued columns (positions, per-neuron values): not summarised

    def add(self, records: list[dict[str, Any]]) -> list[tuple[int, int, Block]]:
        out: list[tuple[int, int, Block]] = []
        for rec in records:
            for name, v in rec.items():
                if name in self.columns or name in self.views or name == "step":
                    continue
                if _is_number(v) and math.isfinite(v):
                    self.columns[name] = None
                elif isinstance(v, list):
                    self.views[name] = None
            self.pending.append(rec)
            self.n += 1
            if len(self.pending) == BASE:
                self._complete(0, summarise(self.pending, self.n - BASE), out)
                self.pending = []
        return out

    def _complete(self, level: int, block: Block, out: list) -> None:
        if level == len(self.counts):
            self.counts.append(0)
            self.carry.append(None)
            self.blocks.append([])
        out.append((level, self.counts[level], block))
        if self.keep:
            self.blocks[level].append(block)
        self.counts[level] += 1
        left = self.carry[level]
        if left is None:
            self.carry[level] = block
        else:
            self.carry[level] = None
            self._complete(level + 1, merge(left, block), out)

    def tails(self) -> list[Block | None]:
        """Per level, the block of the records after its last complete block (None when there are none)."""
        tail = summarise(self.pending, self.n - len(self.pending)) if self.pending else None
        out = []
        for level in range(len(self.counts)):
            out.append(tail)
            left = self.carry[level]
            if left is not None:
                tail = left if tail is None else merge(left, tail)
        return out

    def meta(self) -> dict[str, Any]:
        return {"n": self.n, "base": BASE, "columns": list(self.columns), "views": list(self.views),
                "counts": list(self.counts), "tails": self.tails()}

    def fields(self, done: list[tuple[int, int, Block]]) -> dict[str, bytes]:
        """Redis hash fields for newly completed blocks and the new meta."""
        out = {f"{level}:{i}": pack(block) for level, i, block in done}
        out["meta"] = pack(self.meta())
        return out


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


# --- choosing a level ------------------------------------------------------------------------


def level_for(total: int, points: int) -> int | None:
    """The coarsest level fine enough for ``points`` buckets, or None: bucket the records themselves."""
    if total <= RAW_FACTOR * points:
        return None
    level = 0
    while math.ceil(total / width(level)) > points:
        level += 1
    return level


def buckets(meta: dict[str, Any], level: int, blocks: list[Block]) -> list[Block]:
    """Buckets of ``width(level)`` records from the complete blocks of the level read and its tail."""
    top = len(meta["counts"]) - 1
    read = min(level, top)
    group = 1 << (level - read)
    tail = meta["tails"][read]
    out: list[Block] = []
    for i in range(0, len(blocks), group):
        part = blocks[i : i + group]
        acc = part[0]
        for b in part[1:]:
            acc = merge(acc, b)
        if len(part) < group:  # the last, partial group: its records run on into the tail
            if tail is not None:
                acc = merge(acc, tail)
            tail = None
        out.append(acc)
    if tail is not None:
        out.append(tail)
    return out


def view(meta: dict[str, Any], level: int, blocks: list[Block], columns: list[str] | None) -> dict[str, Any]:
    """The ``?points=`` answer (``series.downsample``'s shape) from the blocks of one level."""
    names = [c for c in (meta["columns"] if columns is None else columns) if c != "step"]
    rows = buckets(meta, level, blocks)
    return {"downsampled": True, "total": meta["n"], "step": [b[1] for b in rows], "columns": columns_of(rows, names),
            "bucket_records": width(level), "views": list(meta.get("views", []))}


def columns_of(rows: list[Block], names: list[str]) -> dict[str, dict[str, list]]:
    """Per column, the mean, min and max of each block (None where a block has no finite value of it)."""
    cols: dict[str, dict[str, list]] = {}
    for name in names:
        mean, lo, hi = [], [], []
        for b in rows:
            c = b[3].get(name)
            if c is None or not c[0]:
                mean.append(None)
                lo.append(None)
                hi.append(None)
            else:
                mean.append(c[1] / c[0])
                lo.append(c[2])
                hi.append(c[3])
        cols[name] = {"mean": mean, "min": lo, "max": hi}
    return cols


def read_count(meta: dict[str, Any], level: int) -> int:
    """Complete blocks to read for ``level`` (of the level actually stored)."""
    top = len(meta["counts"]) - 1
    return meta["counts"][min(level, top)]


# --- Redis ---------------------------------------------------------------------------------------


def redis_meta(r: Any, key: str) -> dict[str, Any] | None:
    raw = r.hget(key, "meta")
    return unpack(raw) if raw else None


def redis_view(r: Any, key: str, points: int, columns: list[str] | None) -> dict[str, Any] | None:
    """The view from the run's envelope hash; None when it has none or is too short for one."""
    meta = redis_meta(r, key)
    if meta is None:
        return None
    level = level_for(meta["n"], points)
    if level is None or not meta["counts"]:
        return None
    read = min(level, len(meta["counts"]) - 1)
    n = read_count(meta, level)
    raws = r.hmget(key, [f"{read}:{i}" for i in range(n)]) if n else []
    if any(raw is None for raw in raws):
        return None  # reset under us (the run was re-queued): the caller reads the records instead
    return view(meta, level, [unpack(raw) for raw in raws], columns)


# --- the archive ---------------------------------------------------------------------------------


def write(records: list[dict[str, Any]], run_dir: Path) -> None:
    """``<run_dir>/envelope/`` for these records (see ``write_pyramid``)."""
    pyramid = Pyramid(keep=True)
    pyramid.add(records)
    write_pyramid(pyramid, run_dir)


def write_pyramid(pyramid: Pyramid, run_dir: Path) -> None:
    """``<run_dir>/envelope/``: meta.msgpack (with the tails) and one ``L<k>.msgpack`` of complete blocks per level."""
    assert pyramid.keep, "write_pyramid needs a Pyramid(keep=True)"
    folder = run_dir / FOLDER
    tmp = run_dir / f".{FOLDER}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        for level, blocks in enumerate(pyramid.blocks):
            (tmp / f"L{level}.msgpack").write_bytes(pack(blocks))
        (tmp / "meta.msgpack").write_bytes(pack(pyramid.meta()))
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def pyramid_view(pyramid: Pyramid, points: int) -> dict[str, Any] | None:
    """The view from a pyramid in memory (kept blocks), as ``store_view`` would give it."""
    level = level_for(pyramid.n, points)
    if level is None or not pyramid.counts:
        return None
    return view(pyramid.meta(), level, pyramid.blocks[min(level, len(pyramid.counts) - 1)], None)


def store_meta(run_dir: Path) -> dict[str, Any] | None:
    try:
        return unpack((run_dir / FOLDER / "meta.msgpack").read_bytes())
    except (OSError, ValueError):
        return None


def store_view(run_dir: Path, points: int, columns: list[str] | None) -> dict[str, Any] | None:
    """The view from an archive's envelope files; None without them or when the series is too short for one."""
    meta = store_meta(run_dir)
    if meta is None:
        return None
    level = level_for(meta["n"], points)
    if level is None or not meta["counts"]:
        return None
    read = min(level, len(meta["counts"]) - 1)
    try:
        blocks = unpack((run_dir / FOLDER / f"L{read}.msgpack").read_bytes())
    except (OSError, ValueError):
        return None
    return view(meta, level, blocks, columns)

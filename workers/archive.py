"""The run store on disk: ``<run_store>/<id>/`` holds series.parquet (and .csv), envelope/, summary.json, spec.json, job.json.

A finished run is archived from its stream, so that the run survives a Redis flush: the API reads a
run's record and series from here when Redis no longer has them. Writing goes to a temporary folder
that is renamed into place, so a reader sees a whole archive or none. Run ids match ``keys.RUN_ID``
(letters, digits, ``_`` and ``-``), so nothing a user sends can name a path outside the store.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers import envelopes, keys, records, series
from workers.job import Job, dumps

log = logging.getLogger(__name__)

SERIES_FILE = "series.parquet"


def run_dir(store: Path, run_id: str) -> Path:
    if not keys.RUN_ID.match(run_id):
        raise ValueError(f"invalid run id {run_id!r}")
    return store / run_id


def write_series(rows: list[dict[str, Any]], out_dir: Path) -> None:
    """series.parquet and series.csv in the core's format (``noether.io.write_series``)."""
    from noether.io import write_series as core_write

    core_write(rows, out_dir)


def stored_page(
    store: Path, run_id: str, after: int = 0, limit: int | None = None
) -> tuple[list[dict[str, Any]], int] | None:
    """Records ``after..after+limit`` of an archived run and how many it has; None without an archive.

    Only the page is turned into Python objects (a 200k-record run is paged, not loaded whole).
    """
    path = run_dir(store, run_id) / SERIES_FILE
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    total = table.num_rows
    start = min(after, total)
    page = table.slice(start, None if limit is None else max(0, limit))
    return [series.clean({k: v for k, v in row.items() if v is not None}) for row in page.to_pylist()], total


def series_length(store: Path, run_id: str) -> int | None:
    """Records of an archived run (from the Parquet footer, nothing else read); None without an archive."""
    path = run_dir(store, run_id) / SERIES_FILE
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def iter_series(store: Path, run_id: str, after: int = 0, batch: int = 2000) -> Iterator[list[dict[str, Any]]]:
    """Records ``after..`` of an archived run in lists of at most ``batch``, read as they are needed."""
    path = run_dir(store, run_id) / SERIES_FILE
    if not path.exists():
        return
    import pyarrow.parquet as pq

    seen = 0
    for part in pq.ParquetFile(path).iter_batches(batch_size=batch):
        rows = part.num_rows
        if seen + rows > after:
            page = part.slice(max(0, after - seen)).to_pylist()
            yield [series.clean({k: v for k, v in row.items() if v is not None}) for row in page]
        seen += rows


def read_job(store: Path, run_id: str) -> Job | None:
    """The job record as archived (job.json), or None."""
    try:
        return Job.model_validate_json((run_dir(store, run_id) / "job.json").read_bytes())
    except (OSError, ValueError):
        return None


def archive(r: Any, store: Path, run_id: str, *, stream_ttl: int) -> bool:
    """Write a finished run to the store and let its stream expire; False if it is not finished (or gone)."""
    rec = records.get(r, run_id)
    if rec is None or not rec.terminal:
        return False
    got = series.read_all(r, run_id)
    rows = got[0] if got is not None else []
    store.mkdir(parents=True, exist_ok=True)
    final = run_dir(store, run_id)
    tmp = store / f".{run_id}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        if rows:
            write_series(rows, tmp)
            envelopes.write(rows, tmp)
        (tmp / "job.json").write_text(_job_json(rec))
        (tmp / "spec.json").write_text(json.dumps(rec.spec or {}, indent=2))
        (tmp / "summary.json").write_text(dumps(rec.summary or {}))
        if not r.exists(keys.run(run_id)):  # deleted while we wrote: leave nothing behind
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    with r.pipeline() as pipe:
        pipe.hset(keys.run(run_id), "archived", "1")
        pipe.zrem(keys.UNARCHIVED, run_id)
        if stream_ttl > 0:
            pipe.expire(keys.series(run_id), stream_ttl)
            pipe.expire(keys.envelope(run_id), stream_ttl)
        else:
            pipe.delete(keys.series(run_id), keys.envelope(run_id))
        pipe.execute()
    # tags or note changed while we wrote: PATCH saw archived=0 and left the file to us
    latest = records.get(r, run_id)
    if latest is not None and (latest.tags, latest.note) != (rec.tags, rec.note):
        write_job(store, run_id, latest)
    return True


def _job_json(rec: Job) -> str:
    """job.json: the public record, archived."""
    return dumps(rec.model_copy(update={"archived": True}).public())


def write_job(store: Path, run_id: str, rec: Job) -> None:
    """(Re)write job.json atomically from a record."""
    folder = run_dir(store, run_id)
    tmp = folder / f".job.{uuid.uuid4().hex[:8]}.tmp"
    tmp.write_text(_job_json(rec))
    tmp.replace(folder / "job.json")


def remove(store: Path, run_id: str) -> None:
    """Delete a run's archive, if any."""
    shutil.rmtree(run_dir(store, run_id), ignore_errors=True)


def archived_ids(store: Path) -> list[str]:
    """Ids of every archived run."""
    if not store.exists():
        return []
    return [p.name for p in store.iterdir() if p.is_dir() and keys.RUN_ID.match(p.name) and (p / "job.json").exists()]

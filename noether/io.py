"""A run on disk, the same for the CLI and the workers' archive: one folder with four files.

- ``series.parquet``: every record; scalar keys as columns, list-valued keys (views, per-neuron values,
  matrices) as Parquet list columns;
- ``series.csv``: the scalar columns only (lists do not fit a CSV cell);
- ``summary.json``: the ``RunSummary`` (with its ``laws`` list);
- ``spec.json``: the ``ExperimentSpec`` that produced it, to rerun.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from noether.spec import ExperimentSpec
from noether.summary import Record, RunSummary

SERIES_PARQUET = "series.parquet"
SERIES_CSV = "series.csv"
SUMMARY_JSON = "summary.json"
SPEC_JSON = "spec.json"


def _columns(records: list[Record]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            seen.setdefault(k, None)
    return list(seen)


def _arrow_type(values: list[Any]) -> pa.DataType:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, list):
        inner = next((x for v in values if v for x in v), None)
        if isinstance(inner, list):
            return pa.list_(pa.list_(pa.float64()))
        return pa.list_(pa.float64())
    if isinstance(sample, bool):
        return pa.bool_()
    if isinstance(sample, int) and all(isinstance(v, int) for v in values if v is not None):
        return pa.int64()
    if isinstance(sample, int | float):
        return pa.float64()
    return pa.string()


def series_table(records: list[Record]) -> pa.Table:
    """The records as an Arrow table (columns in first-seen order; missing values are null)."""
    cols = _columns(records)
    arrays = {}
    for c in cols:
        values = [r.get(c) for r in records]
        typ = _arrow_type(values)
        if typ == pa.string():
            values = [None if v is None else str(v) for v in values]
        elif typ == pa.float64():
            values = [None if v is None else float(v) for v in values]
        arrays[c] = pa.array(values, type=typ)
    return pa.table(arrays) if arrays else pa.table({"step": pa.array([], pa.int64())})


def write_series(records: Iterable[Record], out_dir: str | Path) -> tuple[Path, Path]:
    """Write series.parquet (every key) and series.csv (scalar keys) into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = series_table(list(records))
    parquet = out / SERIES_PARQUET
    pq.write_table(table, parquet, compression="zstd")
    scalar = [f.name for f in table.schema if not pa.types.is_list(f.type)]
    csv = out / SERIES_CSV
    pacsv.write_csv(table.select(scalar), csv)
    return parquet, csv


def read_series(path: str | Path) -> list[Record]:
    """The records of a series.parquet (or series.csv, or a run folder), as a list of dicts."""
    p = Path(path)
    if p.is_dir():
        p = p / SERIES_PARQUET if (p / SERIES_PARQUET).exists() else p / SERIES_CSV
    if p.suffix == ".csv":
        table = pacsv.read_csv(p)
    else:
        table = pq.read_table(p)
    rows = table.to_pylist()
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _json_safe(obj: Any) -> Any:
    """NaN and infinities as null, so that the file is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write_summary(summary: RunSummary, out_dir: str | Path) -> Path:
    """Write summary.json (strict JSON: non-finite numbers become null)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SUMMARY_JSON
    path.write_text(json.dumps(_json_safe(summary.model_dump(mode="json")), indent=2) + "\n")
    return path


def read_summary(path: str | Path) -> RunSummary:
    """A RunSummary from summary.json (or a run folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / SUMMARY_JSON
    return RunSummary.model_validate_json(p.read_text())


def write_spec(spec: ExperimentSpec, out_dir: str | Path) -> Path:
    """Write spec.json, the spec to rerun."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SPEC_JSON
    path.write_text(json.dumps(spec.model_dump(mode="json"), indent=2) + "\n")
    return path


def write_run(out_dir: str | Path, spec: ExperimentSpec, records: Iterable[Record], summary: RunSummary) -> Path:
    """Archive one run: series.parquet, series.csv, summary.json and spec.json in ``out_dir``."""
    out = Path(out_dir)
    write_series(records, out)
    write_summary(summary, out)
    write_spec(spec, out)
    return out

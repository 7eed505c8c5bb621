"""A run on disk, the same for the CLI and the workers' archive: one folder with four files.

- ``series.parquet``: every record; scalar keys as columns, list-valued keys (views, per-neuron values,
  matrices) as Parquet list columns;
- ``series.csv``: the scalar columns, and each vector view flattened to one column per entry,
  ``<name>[0]``, ``<name>[1]``, ... (``position[0..2]`` for a 3-d toy); matrices and long vectors stay
  out (see ``csv_table``);
- ``summary.json``: the ``RunSummary`` (with its ``laws`` list);
- ``spec.json``: the ``ExperimentSpec`` that produced it, to rerun.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from noether.spec import ExperimentSpec
from noether.summary import Record, RunSummary

SERIES_PARQUET = "series.parquet"
SERIES_CSV = "series.csv"
SUMMARY_JSON = "summary.json"
SPEC_JSON = "spec.json"
CSV_MAX_VECTOR = 64  # entries of a vector that series.csv flattens: a potential's position (simulate.MAX_VIEW_DIM)
_CSV_ENTRY = re.compile(r"^(.+)\[(\d+)\]$")  # '<name>[i]', a flattened vector's entry


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


def csv_table(table: pa.Table) -> pa.Table:
    """The columns of a series table that fit a CSV, in order: what series.csv and the API's CSV export hold.

    Scalar columns as they are. A vector column (a flat list of numbers with the same length in every
    record that has it, at most ``CSV_MAX_VECTOR`` entries: ``position``, ``velocity``,
    ``angular_momentum:vector``, short ``<law>:neurons``) becomes one column per entry, ``<name>[0]``,
    ``<name>[1]``, ...; a record without it leaves them empty. Matrices (``particles``,
    ``<law>:matrix``) and longer vectors (e.g. 200 per-neuron values) are left out: series.parquet and the
    JSON export keep them.
    """
    names: list[str] = []
    columns: list[Any] = []
    for field, col in zip(table.schema, table.columns, strict=True):
        if not pa.types.is_list(field.type):
            names.append(field.name)
            columns.append(col)
            continue
        if pa.types.is_list(field.type.value_type):
            continue  # a matrix
        lengths = pc.unique(pc.list_value_length(col).drop_null()).to_pylist()
        if len(lengths) != 1 or not 0 < lengths[0] <= CSV_MAX_VECTOR:
            continue  # ragged, empty or long
        for i in range(lengths[0]):
            names.append(f"{field.name}[{i}]")
            columns.append(pc.list_element(col, i))
    return pa.table(columns, names=names)


def write_series(records: Iterable[Record], out_dir: str | Path) -> tuple[Path, Path]:
    """Write series.parquet (every key) and series.csv (``csv_table``) into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = series_table(list(records))
    parquet = out / SERIES_PARQUET
    pq.write_table(table, parquet, compression="zstd")
    csv = out / SERIES_CSV
    pacsv.write_csv(csv_table(table), csv)
    return parquet, csv


def read_series(path: str | Path) -> list[Record]:
    """The records of a series.parquet (or series.csv, or a run folder), as a list of dicts.

    From a CSV, the ``<name>[i]`` columns of a flattened vector come back as the list ``<name>``.
    """
    p = Path(path)
    if p.is_dir():
        p = p / SERIES_PARQUET if (p / SERIES_PARQUET).exists() else p / SERIES_CSV
    if p.suffix == ".csv":
        return [_unflatten(row) for row in pacsv.read_csv(p).to_pylist()]
    rows = pq.read_table(p).to_pylist()
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _unflatten(row: dict[str, Any]) -> Record:
    """A CSV row with ``<name>[0]``, ``<name>[1]``, ... (written in index order) as the list ``<name>``."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        entry = _CSV_ENTRY.match(k)
        if entry:
            out.setdefault(entry[1], []).append(v)
        else:
            out[k] = v
    empty = [k for k, v in out.items() if v is None or (isinstance(v, list) and all(x is None for x in v))]
    return {k: v for k, v in out.items() if k not in empty}


def finite(obj: Any) -> Any:
    """The same structure with every NaN or infinity as None, so that it is strict JSON (JSON has neither).

    Plain floats, the common case (a record's 200 per-neuron values), are checked inline, without a call.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: (v if math.isfinite(v) else None) if type(v) is float else finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [(v if math.isfinite(v) else None) if type(v) is float else finite(v) for v in obj]
    return obj


def write_summary(summary: RunSummary, out_dir: str | Path) -> Path:
    """Write summary.json (strict JSON: non-finite numbers become null)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SUMMARY_JSON
    path.write_text(json.dumps(finite(summary.model_dump(mode="json")), indent=2) + "\n")
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

"""``FolderSink``: a watched run written as a run folder, the same files as ``noether run --out``.

``series.parquet`` and ``series.csv`` (every record), ``summary.json`` (the ``RunSummary``) and
``spec.json``, which for a watched run describes it instead of a spec to rerun: ``{"kind": "external",
"name", "script", "optimizer", "laws", "unsupported", ...}``. ``noether import <folder>`` sends it to a lab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from noether.io import SPEC_JSON, write_series, write_summary
from noether.summary import Record, RunSummary


class FolderSink:
    """Keep the records and write the run folder at ``close`` (series, summary, description)."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.records: list[Record] = []
        self.meta: dict[str, Any] = {}

    def open(self, meta: dict[str, Any]) -> None:
        self.meta = {"kind": "external", **meta}
        self.out.mkdir(parents=True, exist_ok=True)

    def write(self, records: list[Record]) -> None:
        self.records.extend(records)

    def close(self, summary: RunSummary) -> None:
        write_series(self.records, self.out)
        write_summary(summary, self.out)
        (self.out / SPEC_JSON).write_text(json.dumps(self.meta, indent=2, default=str) + "\n")

"""A run's series: pages after a cursor, downsampled envelopes, exports, and the live WebSocket stream."""

from __future__ import annotations

import io
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response

from backend import fanout
from backend.deps import RunIdPath, State, ws_state
from backend.reads import HeavyReads
from backend.resolve import invalid
from backend.schemas import ERRORS, Downsampled
from noether.io import finite
from workers import client as jobs
from workers.client import SeriesPage

log = logging.getLogger("backend")
router = APIRouter(tags=["series"])

COLUMNS_SHOWN = 24  # column names a 422 on ?columns= lists


@router.get("/runs/{run_id}/series", response_model=SeriesPage | Downsampled, responses=ERRORS)
def get_series(
    run_id: RunIdPath,
    state: State,
    after: Annotated[int, Query(ge=0, le=10_000_000, description="cursor: records already seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    points: Annotated[int | None, Query(ge=1, le=10_000, description="downsample to N buckets instead")] = None,
    columns: Annotated[str | None, Query(max_length=2000, description="comma-separated columns to keep; 422 if the run records no such column")] = None,
) -> Response:
    """Records after a cursor in step order, or (with ``points``) N buckets with min/max envelopes.

    ``columns`` must name columns the run records (422 otherwise, listing them); with ``points`` they
    must be curves (numbers), not views such as ``position``. Before the first record nothing is checked.
    """
    wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if points is None:
        cost = limit if limit <= HeavyReads.RECORDS else min(
            limit, max(0, jobs.series_length(state.redis, state.settings, run_id) - after))
        with state.heavy_reads(cost):
            page = jobs.series_page(state.redis, state.settings, run_id, after=after, limit=limit)
            rows = page.records
            if wanted:
                known = rows[:1] or jobs.series_page(state.redis, state.settings, run_id, limit=1).records
                _check_columns(wanted, known, columns, curves=False)
                keep = {"step", "t", *wanted}
                rows = [{k: v for k, v in rec.items() if k in keep} for rec in rows]
            return _json({"records": rows, "cursor": page.cursor, "done": page.done, "status": str(page.status)})
    view = jobs.envelope_view(state.redis, state.settings, run_id, points)
    if view is None:  # a short series (bucketed exactly from its records), or one without stored levels
        with state.heavy_reads(jobs.series_length(state.redis, state.settings, run_id)):
            view = jobs.downsample_records(state.redis, state.settings, run_id, points)
    views = view.pop("views", None)  # list-valued columns, known from the stored levels
    if wanted:
        curves = [{c: 0.0 for c in view["columns"]}] if view["columns"] else []
        known = ([(curves[0] if curves else {}) | {v: [] for v in views}] if views is not None
                 else jobs.series_page(state.redis, state.settings, run_id, limit=1).records + curves)
        _check_columns(wanted, known, columns, curves=True)
        view["columns"] = {c: view["columns"].get(c) or _empty(len(view["step"])) for c in wanted if c != "step"}
    elif view.get("downsampled") and view.get("total"):  # the record that ends the envelope: one request less
        last = jobs.series_page(state.redis, state.settings, run_id, after=view["total"] - 1, limit=1).records
        view["last"] = last[0] if last else None
    return _json(finite(view))


def _empty(n: int) -> dict[str, list]:
    return {"mean": [None] * n, "min": [None] * n, "max": [None] * n}


def _check_columns(wanted: list[str], rows: list[dict[str, Any]], given: str | None, *, curves: bool) -> None:
    """A 422 on ``columns`` naming what the run does not record (or, for ``points``, what is not a curve)."""
    if not rows:
        return  # nothing recorded yet: the run's columns are not known
    names = list(dict.fromkeys(k for rec in rows for k in rec))
    views = {n for n in names if isinstance(next((rec[n] for rec in rows if rec.get(n) is not None), None), list)}
    offered = [n for n in names if n not in views] if curves else names
    shown = ", ".join(offered[:COLUMNS_SHOWN]) + (f", ... ({len(offered)} in all)" if len(offered) > COLUMNS_SHOWN else "")
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise invalid(("query", "columns"), f"unknown column(s) {', '.join(unknown)}; this run has: {shown}", given)
    not_curves = [c for c in wanted if c in views] if curves else []
    if not_curves:
        raise invalid(("query", "columns"), f"{', '.join(not_curves)}: a list per record, which points= cannot "
                      f"summarise (read it without points=); curves: {shown}", given)


def _json(payload: dict[str, Any]) -> Response:
    """A series answer as JSON, encoded once (records are large; they are finite already, see series.clean)."""
    return Response(json.dumps(payload, separators=(",", ":"), allow_nan=False), media_type="application/json")


@router.get("/runs/{run_id}/export", responses={200: {"content": {"text/csv": {}, "application/octet-stream": {},
                                                                  "application/json": {}}}, **ERRORS})
def export(run_id: RunIdPath, state: State, format: Literal["csv", "parquet", "json", "spec"] = "csv") -> Response:
    """The whole series as CSV, Parquet or JSON, or (format=spec) the spec as JSON to run again."""
    rec = jobs.require(state.redis, state.settings, run_id)
    if format == "spec":
        return _attachment(JSONResponse(rec.spec or {}), f"{run_id}.spec.json")
    folder = jobs.store_path(state.settings, run_id)
    if rec.terminal and format in ("csv", "parquet"):
        path = folder / f"series.{format}"
        if path.exists():
            media = "text/csv" if format == "csv" else "application/octet-stream"
            return FileResponse(path, media_type=media, filename=f"{run_id}.{format}")
    with state.heavy_reads(jobs.series_length(state.redis, state.settings, run_id)):
        return _export(state, run_id, format)


def _export(state: Any, run_id: str, format: str) -> Response:
    rows = jobs.all_records(state.redis, state.settings, run_id)
    if format == "json":
        return _attachment(JSONResponse(rows), f"{run_id}.json")
    if format == "csv":
        return _attachment(Response(_csv(rows), media_type="text/csv"), f"{run_id}.csv")
    return _attachment(Response(_parquet(rows), media_type="application/octet-stream"), f"{run_id}.parquet")


def _attachment(response: Response, filename: str) -> Response:
    response.headers["content-disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv(rows: list[dict[str, Any]]) -> bytes:
    """The CSV of series.csv (``noether.io.csv_table``): scalar columns and vectors as ``<name>[i]`` columns;
    matrices and long vectors (particles, 200 per-neuron values) only in Parquet and JSON."""
    import pyarrow.csv as pacsv

    from noether.io import csv_table, series_table

    buf = io.BytesIO()
    pacsv.write_csv(csv_table(series_table(rows)), buf)
    return buf.getvalue()


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows) if rows else pa.table({}), buf)
    return buf.getvalue()


# --- the live stream -----------------------------------------------------------------------------


@router.websocket("/runs/{run_id}/stream")
async def stream(websocket: WebSocket, run_id: str, after: int = 0) -> None:
    """Replay every record after ``after``, then follow live: ``{records, cursor}`` messages, then ``{done}``."""
    await fanout.serve(websocket, ws_state(websocket), run_id, after)

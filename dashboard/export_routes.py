"""``GET /export/<run id>.png|svg|pdf|zip``: the run's composed figure, drawn on the server, and its archive.

The dashboard reads the run over the API like every page (``NOETHER_API_URL`` or its own loopback port),
forwarding the browser's own ``Authorization`` and ``Cookie`` headers (``dashboard.api``): an export shows
exactly what its reader may read. ``dashboard.export`` composes the figure; plotly.io draws it through kaleido
in a headless Chromium (the system's: ``BROWSER_PATH``, else ``chromium`` on PATH), one export at a time per web
process, in a thread (the server's event loop keeps serving). The archive holds the spec, the summary, the
series (Parquet and CSV), the figure in the three formats and a README that says what the CSV leaves out.
"""

from __future__ import annotations

import asyncio
import atexit
import csv as csvlib
import io
import json
import logging
import re
import threading
import zipfile
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dashboard import api, export

log = logging.getLogger("dashboard.export")

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # as the API's run ids (backend.schemas.RUN_ID_PATTERN)
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "zip": "application/zip"}
CURVE_POINTS = 1000  # buckets of the downsampled curves (min/max envelopes beyond that many records)
PAGE = 5000  # records per page when reading the views (3D path, per-neuron values)
TIMEOUT = httpx.Timeout(60.0, connect=5.0)

IDLE_S = 120.0  # the Chromium is closed this long after the last export (it holds hundreds of MB)

_render_lock = threading.Lock()  # one Chromium drawing at a time in this process
_server_started = False
_idle_timer: threading.Timer | None = None


def register(server: FastAPI) -> None:
    """Add the export route to the dashboard's server."""

    @server.get("/export/{name}", include_in_schema=False)
    async def export_run(name: str, request: Request) -> Response:
        run_id, _, fmt = name.rpartition(".")
        if fmt not in FORMATS:
            return _problem(404, f"unknown export format '{fmt[:20]}': use one of {', '.join(FORMATS)}")
        if not RUN_ID.match(run_id):
            return _problem(422, "the run id must be 8-64 letters, digits, '-' or '_' "
                                 f"(got {run_id[:80]!r})")
        headers = {k: request.headers[k] for k in api.FORWARDED if request.headers.get(k)}
        async with httpx.AsyncClient(base_url=api.api_base(), timeout=TIMEOUT, headers=headers) as client:
            info = await client.get(f"/runs/{run_id}")
            if info.status_code != 200:
                return _problem(info.status_code, _detail(info))
            run = info.json()
            figure = await _figure(client, run_id, run)
            if fmt != "zip":
                try:
                    body = await asyncio.to_thread(draw, figure, fmt)
                except RenderError as exc:
                    return _problem(503, str(exc))
                return Response(body, media_type=FORMATS[fmt],
                                headers={"content-disposition": f'attachment; filename="{run_id}.{fmt}"'})
            try:
                body = await _archive(client, run_id, run, figure)
            except RenderError as exc:
                return _problem(503, str(exc))
        return Response(body, media_type=FORMATS["zip"],
                        headers={"content-disposition": f'attachment; filename="{run_id}.zip"'})


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status if status >= 400 else 502)


def _detail(res: httpx.Response) -> str:
    try:
        data = res.json()
    except ValueError:
        return res.text[:300]
    return str(data.get("detail", data)) if isinstance(data, dict) else str(data)


async def _figure(client: httpx.AsyncClient, run_id: str, run: dict[str, Any]) -> Any:
    """The composed figure from the run record, its downsampled curves and its view records."""
    res = await client.get(f"/runs/{run_id}/series", params={"points": CURVE_POINTS})
    down = res.json() if res.status_code == 200 else None
    total = int((down or {}).get("total") or 0)
    first = await client.get(f"/runs/{run_id}/series", params={"limit": 1})
    first_records = (first.json().get("records") or []) if first.status_code == 200 else []
    views = [k for k, v in (first_records[0] if first_records else {}).items() if isinstance(v, list)]
    records: list[dict[str, Any]] = []
    if views:
        cursor = 0
        while cursor < min(total or export.VIEW_RECORDS, export.VIEW_RECORDS):
            page = await client.get(f"/runs/{run_id}/series",
                                    params={"after": cursor, "limit": PAGE, "columns": ",".join(views)})
            if page.status_code != 200:
                break
            data = page.json()
            batch = data.get("records") or []
            records.extend(batch)
            if len(batch) < PAGE:
                break
            cursor = data.get("cursor") or cursor + len(batch)
    return await asyncio.to_thread(export.figure_of_run, run, down, records, total)


class RenderError(RuntimeError):
    """The figure could not be drawn (no Chromium for kaleido, or it failed)."""


def draw(figure: Any, fmt: str) -> bytes:
    """The figure as PNG (at ``export.DPI``), SVG or PDF, drawn by kaleido's Chromium (one at a time)."""
    import plotly.io as pio

    global _server_started, _idle_timer
    scale = export.PNG_SCALE if fmt == "png" else 1
    with _render_lock:
        if _idle_timer is not None:
            _idle_timer.cancel()
        try:
            if not _server_started:
                import kaleido

                kaleido.start_sync_server(silence_warnings=True)  # one Chromium kept for every later export
                _server_started = True
                atexit.register(_stop)
            body = pio.to_image(figure, format=fmt, width=figure.layout.width, height=figure.layout.height,
                                scale=scale)
        except Exception as exc:  # kaleido's errors: no browser found, a browser that died
            log.warning("export: drawing the figure failed: %s", exc)
            _stop()
            raise RenderError("the figure could not be drawn on the server: kaleido needs a Chromium "
                              f"(scripts/install-browser.sh, or BROWSER_PATH); {str(exc)[:300]}") from exc
        _idle_timer = threading.Timer(IDLE_S, _stop_when_idle)
        _idle_timer.daemon = True
        _idle_timer.start()
    return export.png_with_dpi(body) if fmt == "png" else body


def _stop_when_idle() -> None:
    with _render_lock:
        _stop()


def _stop() -> None:
    global _server_started
    if _server_started:
        try:
            import kaleido

            kaleido.stop_sync_server(silence_warnings=True)
        except Exception:  # already gone
            pass
        _server_started = False


async def _archive(client: httpx.AsyncClient, run_id: str, run: dict[str, Any], figure: Any) -> bytes:
    """spec.json, summary.json, series.parquet, series.csv, figure.png/.svg/.pdf and README.txt, zipped."""
    files: dict[str, bytes] = {
        "spec.json": json.dumps(run.get("spec") or {}, indent=2).encode(),
        "summary.json": json.dumps(run.get("summary") or {}, indent=2).encode(),
    }
    for fmt in ("parquet", "csv"):
        res = await client.get(f"/runs/{run_id}/export", params={"format": fmt})
        if res.status_code == 200:
            files[f"series.{fmt}"] = res.content
    for fmt in ("png", "svg", "pdf"):
        files[f"figure.{fmt}"] = await asyncio.to_thread(draw, figure, fmt)
    left_out = csv_left_out(files.get("series.parquet"), files.get("series.csv"))
    readme = export.readme(run, left_out, list(files), int(figure.layout.height))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{run_id}/README.txt", readme)
        for name, body in files.items():
            zf.writestr(f"{run_id}/{name}", body)
    return buf.getvalue()


def csv_left_out(parquet: bytes | None, csv: bytes | None) -> list[str]:
    """The Parquet columns the CSV leaves out (from the two files' headers)."""
    if not parquet or not csv:
        return []
    import pyarrow.parquet as pq

    columns = pq.read_schema(io.BytesIO(parquet)).names
    header = csv.split(b"\n", 1)[0].decode(errors="replace").strip()
    names = next(csvlib.reader([header])) if header else []
    return export.csv_left_out(columns, names)

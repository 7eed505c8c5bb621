"""The dashboard's client of the backend API (docs/api.md), over HTTP only.

Server-side callbacks use it with ``await``: Dash's FastAPI backend runs a synchronous callback on the
event loop, so a blocking request to the same server would wait on itself forever.

Security (docs/operations.md): calls go to one configured address, ``settings.internal_api_url``
(``NOETHER_API_URL``, else this server's own loopback address and port), never to anything derived from
a request's headers. The dashboard holds no credential of its own: each call carries the browser's own
``Authorization`` and ``Cookie`` headers (its bearer token or session cookie), so the API grants a
callback exactly what it grants the person clicking, and a callback cannot change anything the person
may not. In the browser, ``assets/live-*.js`` use relative ``/api/...`` URLs (same origin).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

_settings: Any = None
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def configure(settings: Any) -> None:
    """Remember the settings (the internal API address) for every later call."""
    global _settings
    _settings = settings


def api_base() -> str:
    """Base URL of the API, ending in /api: the configured internal address, whatever the request says."""
    url = getattr(_settings, "internal_api_url", None) or f"http://127.0.0.1:{getattr(_settings, 'port', 8050)}"
    url = url.rstrip("/")
    return url if url.endswith("/api") else url + "/api"


FORWARDED = ("authorization", "cookie")  # the browser's own credential, passed on as it came


def _headers() -> dict[str, str]:
    """The current browser request's credential headers (none outside a request: tests calling callbacks)."""
    try:
        from dash.backends._fastapi import get_current_request

        incoming = get_current_request().headers
    except Exception:
        return {}
    return {name: incoming[name] for name in FORWARDED if incoming.get(name)}


@dataclass
class ApiResult:
    """A response: status code and decoded JSON (or text)."""

    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def message(self) -> str:
        """The error in one line: FastAPI's ``detail`` string, or its validation list joined."""
        detail = self.data.get("detail") if isinstance(self.data, dict) else self.data
        if isinstance(detail, list):
            return "; ".join(error_line(e) for e in detail)
        return str(detail)


def error_line(err: Any) -> str:
    if not isinstance(err, dict):
        return str(err)
    loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


async def request(method: str, path: str, *, json: Any = None, params: dict | None = None,
                  base: str | None = None) -> ApiResult:
    """One call to the API; network failures come back as status 0 with the reason."""
    url = (base or api_base()) + path
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            resp = await client.request(method, url, json=json, params=params, headers=_headers())
    except httpx.HTTPError as exc:
        return ApiResult(0, {"detail": f"cannot reach the API at {url}: {exc}"})
    try:
        data = resp.json()
    except ValueError:
        data = {"detail": resp.text}
    return ApiResult(resp.status_code, data)


async def get(path: str, **params: Any) -> ApiResult:
    return await request("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})


async def post(path: str, body: Any = None) -> ApiResult:
    return await request("POST", path, json=body)


async def patch(path: str, body: Any) -> ApiResult:
    return await request("PATCH", path, json=body)


async def all_records(run_id: str, columns: str | None = None, page: int = 5000, max_pages: int = 100) -> list[dict]:
    """Every record of a run so far, following the series cursor page by page."""
    records: list[dict] = []
    cursor = None
    for _ in range(max_pages):
        res = await get(f"/runs/{run_id}/series", after=cursor, limit=page, columns=columns)
        if not res.ok:
            break
        batch = res.data.get("records") or []
        records.extend(batch)
        cursor = res.data.get("cursor")
        if len(batch) < page:
            break
    return records


async def downsampled(run_id: str, points: int, columns: str | None = None) -> dict | None:
    """The series bucketed to ``points`` (mean/min/max per column), or None."""
    res = await get(f"/runs/{run_id}/series", points=points, columns=columns)
    return res.data if res.ok else None

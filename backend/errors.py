"""Exception handlers: every refusal is a 4xx with a ``detail`` that says what to change."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from noether.spec import SpecError
from workers.client import JobError

log = logging.getLogger("backend")


MAX_ECHO_DEPTH = 6  # nesting of an echoed input kept in a 422; deeper parts become "..."
MAX_ECHO_ITEMS = 50  # items of an echoed list or object kept; the rest become "..."
MAX_ECHO_CHARS = 1000  # characters of an echoed string kept


def echo(value: Any, depth: int = 0) -> Any:
    """``value`` made writable as JSON, to name it in an error: NaN and infinities as the strings 'nan', 'inf'
    and '-inf', text that is not valid Unicode (a lone surrogate '\\ud800') with escapes, deep or long inputs
    cut short, anything else as its text."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        text = value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "..."
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return text
    if depth >= MAX_ECHO_DEPTH:
        return "..."
    if isinstance(value, dict):
        out = {str(echo(k, depth + 1)): echo(v, depth + 1) for k, v in list(value.items())[:MAX_ECHO_ITEMS]}
        if len(value) > MAX_ECHO_ITEMS:
            out["..."] = f"{len(value) - MAX_ECHO_ITEMS} more"
        return out
    if isinstance(value, list | tuple):
        items = [echo(v, depth + 1) for v in list(value)[:MAX_ECHO_ITEMS]]
        return items + ["..."] if len(value) > MAX_ECHO_ITEMS else items
    return echo(str(value), depth)


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error as JSON: where (loc), what is wrong with the bound (msg), the value (input)."""
    out: dict[str, Any] = {
        "type": echo(error.get("type", "value_error")),
        "loc": [echo(part, MAX_ECHO_DEPTH - 1) for part in error.get("loc", ())][:32],
        "msg": echo(error.get("msg", "invalid")),
        "input": echo(error.get("input")),
    }
    if error.get("ctx"):
        out["ctx"] = {str(k): echo(v, MAX_ECHO_DEPTH - 1) for k, v in error["ctx"].items()}
    return out


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with FastAPI's list of errors, each naming field, bound and value, whatever the value was."""
    return JSONResponse({"detail": [_problem(dict(e)) for e in exc.errors()]}, status_code=422)


async def job_error(request: Request, exc: JobError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def spec_error(request: Request, exc: SpecError) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": ["body", "spec"], "msg": echo(line), "input": None}
                    for line in exc.lines]},
        status_code=422,
    )


def without_data_dir(text: str, request: Request) -> str:
    """``text`` with the lab's data directory (absolute) said as NOETHER_DATA_DIR: users never see where it is."""
    state = getattr(request.app.state, "noether", None)
    if state is None:
        return text
    root = Path(state.settings.data_dir)
    for path in sorted({str(root.resolve()), str(root.absolute())}, key=len, reverse=True):
        text = text.replace(path, "NOETHER_DATA_DIR")
    return text


async def redis_down(request: Request, exc: redis.RedisError) -> JSONResponse:
    log.warning("Redis error on %s %s: %s", request.method, request.url.path, exc)
    detail = without_data_dir(f"the job store (Redis) is unavailable: {exc}", request)
    return JSONResponse({"detail": detail}, status_code=503)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: log the bug and answer a clear 500 (tests fuzz the API so that this never runs)."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); it has been logged"}, status_code=500)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(JobError, job_error)
    app.add_exception_handler(SpecError, spec_error)
    app.add_exception_handler(redis.ConnectionError, redis_down)
    app.add_exception_handler(redis.TimeoutError, redis_down)
    app.add_exception_handler(Exception, unexpected)

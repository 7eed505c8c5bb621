"""Exception handlers: every refusal is a 4xx with a ``detail`` that says what to change."""

from __future__ import annotations

import logging

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from noether.spec import SpecError
from workers.client import JobError

log = logging.getLogger("backend")


async def job_error(request: Request, exc: JobError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def spec_error(request: Request, exc: SpecError) -> JSONResponse:
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": ["body", "spec"], "msg": line, "input": None} for line in exc.lines]},
        status_code=422,
    )


async def redis_down(request: Request, exc: redis.RedisError) -> JSONResponse:
    log.warning("Redis error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": f"the job store (Redis) is unavailable: {exc}"}, status_code=503)


async def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: log the bug and answer a clear 500 (tests fuzz the API so that this never runs)."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); it has been logged"}, status_code=500)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JobError, job_error)
    app.add_exception_handler(SpecError, spec_error)
    app.add_exception_handler(redis.ConnectionError, redis_down)
    app.add_exception_handler(redis.TimeoutError, redis_down)
    app.add_exception_handler(Exception, unexpected)

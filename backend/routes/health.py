"""GET /api/health."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response

from backend.deps import State
from backend.schemas import Health
from noether import __version__
from workers import client as jobs

router = APIRouter(tags=["health"])


def degraded_reason(live: int, expected: int) -> str | None:
    """Why a lab with ``live`` of ``expected`` workers cannot run as configured (None: it can)."""
    if live >= expected:
        return None
    if live == 0:
        return f"no worker is running (0 of {expected}): queued runs wait"
    return f"{live} of {expected} workers running"


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "Redis is down"}})
def health(state: State, response: Response) -> Health:
    """Whether Redis answers, how many workers are alive (of how many configured) and how many runs wait."""
    expected = max(1, state.settings.workers)
    try:
        state.redis.ping()
        workers = len(jobs.live_workers(state.redis))
        queued = jobs.queued_count(state.redis, state.settings)
    except redis.RedisError as exc:
        response.status_code = 503
        return Health(status="degraded", reason=f"Redis does not answer ({type(exc).__name__})", redis=False,
                      workers=0, workers_expected=expected, queued=0, version=__version__)
    reason = degraded_reason(workers, expected)
    return Health(status="degraded" if reason else "ok", reason=reason, redis=True, workers=workers,
                  workers_expected=expected, queued=queued, version=__version__)

"""GET /api/health."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response

from backend.deps import State
from backend.schemas import Health
from noether import __version__
from workers import client as jobs

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "Redis is down"}})
def health(state: State, response: Response) -> Health:
    """Whether Redis answers, how many workers are alive and how many runs wait."""
    try:
        state.redis.ping()
        workers = len(jobs.live_workers(state.redis))
        queued = jobs.queued_count(state.redis, state.settings)
    except redis.RedisError:
        response.status_code = 503
        return Health(status="degraded", redis=False, workers=0, queued=0, version=__version__)
    return Health(status="ok" if workers else "degraded", redis=True, workers=workers, queued=queued, version=__version__)

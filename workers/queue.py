"""The queue library's side of a run: one RQ job per attempt, a delivery mechanism (the job record is the truth)."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue

from workers import keys

TASK = "workers.task.run"


def rq_queue(r: redis.Redis, settings: Any) -> Queue:
    return Queue(settings.queue, connection=r)


def enqueue(r: redis.Redis, settings: Any, run_id: str, attempt: int, *, pipeline: Any = None) -> None:
    """Put one attempt of a run on the RQ queue (inside ``pipeline``'s transaction when given)."""
    rq_queue(r, settings).enqueue_call(
        TASK,
        args=(run_id, attempt),
        job_id=keys.rq_job_id(run_id, attempt),
        timeout=-1,  # runs take seconds to hours: the lease, not a timeout, detects dead workers
        result_ttl=60,
        failure_ttl=24 * 3600,
        description=f"noether run {run_id} attempt {attempt}",
        pipeline=pipeline,
    )

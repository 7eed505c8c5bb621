"""The work horse's handler of jobs of kind 'discovery': Algorithm 1 on the record's spec, published like a run.

The verification run's records (the discovered laws' columns next to the catalogue's) are published to
the run's stream as they come, so the dashboard follows them live; the summary is the verification
run's summary (``laws``: discovered and catalogue) with the whole ``DiscoveryResult`` under ``discovery``.
Cancel is honoured between the search and the verification, and at every record of the verification.
"""

from __future__ import annotations

import time
from typing import Any

from workers import series
from workers.job import Job, Status

MAX_BATCH = 2000


class Cancelled(Exception):
    pass


def run_discovery(attempt: Any, rec: Job, device: str) -> tuple[Status, str, Any]:
    """workers.task.KINDS['discovery']: (status, reason, summary) of one attempt."""
    from noether.discovery import DiscoveryOptions, discover
    from noether.spec import parse_spec

    spec = parse_spec(rec.spec).model_copy(update={"device": device})
    attempt.steps = spec.steps
    buffer: list[dict[str, Any]] = []
    last_flush = [time.monotonic()]
    interval = attempt.settings.publish_interval

    def stop() -> bool:
        return bool(attempt.cancel_asked or attempt.fenced)

    def on_record(record: dict[str, Any]) -> None:
        buffer.append(series.clean(record))
        attempt.last_step = record.get("step", attempt.last_step)
        if len(buffer) >= MAX_BATCH or time.monotonic() - last_flush[0] >= interval:
            attempt.flush(list(buffer))
            buffer.clear()
            last_flush[0] = time.monotonic()

    if stop():
        return Status.CANCELLED, "cancelled by user", None
    result = discover(
        spec, DiscoveryOptions(verify_steps=spec.steps), data_root=attempt.settings.datasets_dir,
        on_record=on_record, should_stop=stop,
    )
    attempt.flush(list(buffer))
    run = result.run_summary.model_dump(mode="json") if result.run_summary is not None else {"laws": []}
    summary = {**run, "discovery": result.model_dump(mode="json", exclude={"run_summary"})}
    status = result.verification_status or "succeeded"
    if status == "cancelled" or stop():
        return Status.CANCELLED, "cancelled by user" if attempt.cancel_asked else "stopped", summary
    if status == "diverged":
        return Status.DIVERGED, "the verification run diverged (the discovered laws stand; their verdicts do not)", summary
    if status != "succeeded":
        return Status.FAILED, f"verification ended with status {status}", summary
    return Status.SUCCEEDED, "", summary

"""The job record: one typed, immutable value per run, and its one encoding as a Redis hash.

In the manner of dramatiq's ``Message``: a frozen model with its fields, its encoding (``to_hash``,
``encode_fields``) and its decoding (``Job.from_hash``) in this one place. Redis holds one hash per run
(``keys.run``); records.py changes it only through atomic transitions; the API shows ``Job.public()``,
and its response models derive from ``JobView`` (backend/schemas.py), so the record's fields are
declared once.

Status moves ``queued -> running -> succeeded | failed | cancelled | diverged`` (records.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import IntEnum, StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from noether.io import finite


class Status(StrEnum):
    """Where a run is in its life; the record is the source of truth for it."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.DIVERGED})
Kind = Literal["run", "discovery", "external"]


class CancelOutcome(IntEnum):
    """What a cancel request did (records.request_cancel)."""

    NOTHING = 0  # the run had already ended
    CANCELLED = 1  # it was queued: cancelled at once
    FLAGGED = 2  # it is running: its worker is asked to stop at its next step


class Lease(IntEnum):
    """What a lease renewal found (records.heartbeat)."""

    SUPERSEDED = -1  # this attempt is no longer the run's: stop, publish nothing
    HELD = 0  # renewed; carry on
    CANCEL_ASKED = 1  # renewed, and the user asked to cancel


class JobView(BaseModel):
    """The job record of a run as the API shows it, without its spec (the source of truth for its status)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: str = "run"
    status: Status
    reason: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    worker: str | None = None
    device: str | None = None
    progress: float = 0.0
    step: int = 0
    steps: int = 0
    attempt: int = 0
    preset: str | None = None
    name: str = ""
    dynamics: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    group: str | None = None
    summary: dict[str, Any] | None = None
    archived: bool = Field(
        False, description="true once the finished run is in the run store; false while its archive is pending"
    )


class WithSpec(BaseModel):
    """The run's spec (JSON of noether.spec.ExperimentSpec; for an external run, what was watched)."""

    spec: dict[str, Any] | None = None


class Job(JobView, WithSpec):
    """The whole job record: what the API shows, its spec, and the job system's own bookkeeping."""

    client: str = ""  # who submitted it (the per-client queue limit)
    request_hash: str = ""  # fingerprint of the submission (an idempotent retry vs a conflicting reuse of an id)
    rq_job: str = ""  # the queue library's job id of the current attempt
    cancel_requested: bool = False  # set for a running run; its worker polls it

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def public(self, *, with_spec: bool = True) -> dict[str, Any]:
        """The record as the API shows it (bookkeeping left out), ready for JSON (the summary and spec are
        JSON already: they were stored as JSON without NaN, see ``dumps``)."""
        out = {name: getattr(self, name) for name in JobView.model_fields}
        out["status"], out["tags"] = self.status.value, list(self.tags)
        if with_spec:
            out["spec"] = self.spec
        return out

    def to_hash(self) -> dict[str, str]:
        """Every field as the Redis hash holds it."""
        return encode_fields(self.model_dump())

    @classmethod
    def from_hash(cls, raw: Mapping[bytes, bytes] | Mapping[str, str]) -> Job:
        """The record from its Redis hash (bytes or text); empty fields take their defaults."""
        values: dict[str, Any] = {}
        for k, v in raw.items():
            name = k.decode() if isinstance(k, bytes) else k
            text = v.decode() if isinstance(v, bytes) else v
            if name in _BOOL:
                values[name] = text == "1"
            elif text == "":
                continue
            elif name in _JSON:
                values[name] = json.loads(text)
            else:
                values[name] = text
        return cls.model_validate(values)


_JSON = {"tags", "spec", "summary"}
_BOOL = {"cancel_requested", "archived"}


def dumps(obj: Any) -> str:
    """Compact JSON of ``obj`` with non-finite numbers as null."""
    return json.dumps(finite(obj), separators=(",", ":"), allow_nan=False)


def encode_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """Hash field values (text) from some or all of a record's fields: JSON for tags, spec and summary,
    "1"/"0" for flags, "" for None."""
    out = {}
    for name, value in fields.items():
        if name in _JSON:
            out[name] = "" if value is None else dumps(list(value) if isinstance(value, tuple) else value)
        elif name in _BOOL:
            out[name] = "1" if value else "0"
        elif value is None:
            out[name] = ""
        else:
            out[name] = str(value)
    return out

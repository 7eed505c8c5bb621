"""External runs: a training loop outside the lab (``noether.watch(..., lab=URL)``) streams into a run of its own.

The run is created ``running`` with kind "external" and tagged with the script's name; the monitor appends
record batches to its series (the same stream and record format as a lab run, so the run page draws it
the same way) and finishes it with its ``RunSummary``; the run is then archived like any other.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.deps import Auth, ClientId, RunIdPath, State
from backend.schemas import ErrorBody, Run, Tag
from noether.spec import MAX_TAGS
from noether.summary import RunSummary
from workers import client as jobs

router = APIRouter(tags=["external runs"])

MAX_RECORDS = 5000  # records per append
MAX_KEYS = 2000  # columns per record
ERRORS = {401: {"model": ErrorBody}, 404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}


class ExternalCreate(BaseModel):
    """A watched training loop to show in the lab."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=120, description="the run's name (default: the script's)")
    script: str = Field("python", min_length=1, max_length=255, description="the script's file name; becomes a tag")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    note: str = Field("", max_length=4000)
    device: str = Field("", max_length=64)
    description: dict[str, Any] = Field(
        default_factory=dict,
        description="what was watched: optimizer, laws found, layers not understood (kept as the run's spec)",
    )


class RecordBatch(BaseModel):
    """Records to append, in order: ``step``, ``t``, ``loss``, ``<law>``, ``<law>:pred``, ... (docs/api.md)."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_RECORDS)

    @field_validator("records")
    @classmethod
    def _records(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, rec in enumerate(value):
            if not isinstance(rec.get("step"), int) or rec["step"] < 0:
                raise ValueError(f"records[{i}].step must be an integer >= 0 (got {rec.get('step')!r})")
            if len(rec) > MAX_KEYS:
                raise ValueError(f"records[{i}] must have <= {MAX_KEYS} columns (got {len(rec)})")
            for k, v in rec.items():
                if len(k) > 200:
                    raise ValueError(f"records[{i}]: column names must be <= 200 characters (got {len(k)})")
                if not (v is None or isinstance(v, bool | int | float | str | list)):
                    raise ValueError(f"records[{i}].{k} must be a number, a string or a list")
        return value


class Appended(BaseModel):
    records: int = Field(..., description="records the run's series holds now")


class ExternalFinish(BaseModel):
    """How the watched loop ended, with the monitor's summary."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["succeeded", "failed", "cancelled"] = "succeeded"
    reason: str = Field("", max_length=4000)
    summary: RunSummary


@router.post("/external", status_code=201, response_model=Run, dependencies=[Auth], responses=ERRORS)
def create_external(body: ExternalCreate, state: State, client: ClientId) -> dict:
    """Create a running run of kind "external" for a watched training loop."""
    tags = ["external", body.script[:64] if _tag_ok(body.script) else "script", *body.tags]
    rec = jobs.create_external(state.redis, state.settings, name=body.name, description=
                               {"kind": "external", "script": body.script, **body.description},
                               tags=tags, note=body.note, client=client, device=body.device)
    return rec.public()


@router.post("/external/{run_id}/records", response_model=Appended, dependencies=[Auth], responses=ERRORS)
def append_records(run_id: RunIdPath, body: RecordBatch, state: State) -> dict:
    """Append a batch of records to an external run's series."""
    return {"records": jobs.append_external(state.redis, state.settings, run_id, body.records)}


@router.post("/external/{run_id}/finish", response_model=Run, dependencies=[Auth], responses=ERRORS)
def finish_external(run_id: RunIdPath, body: ExternalFinish, state: State) -> dict:
    """End an external run with its summary (per law: predictions, drift, verdict) and archive it."""
    summary = body.summary.model_dump(mode="json")
    rec = jobs.finish_external(state.redis, state.settings, run_id, status=body.status, summary=summary,
                               reason=body.reason)
    return rec.public()


def _tag_ok(text: str) -> bool:
    return bool(re.fullmatch(r"[\w.:-]{1,64}", text))

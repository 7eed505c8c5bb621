"""POST /api/discover: find a model's conserved quantities (Algorithm 1) as a job of kind 'discovery'."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field, ValidationError

from backend.deps import Auth, ClientId, State
from backend.resolve import relocate, resolve
from backend.routes.runs import submission
from backend.schemas import Problem, Run, RunCreate
from workers import client as jobs
from workers import records

router = APIRouter(tags=["discovery"])


class DiscoverCreate(RunCreate):
    """A spec (or a preset with overrides) whose symmetries to discover; the verification run has ``verify_steps``."""

    verify_steps: int = Field(200, ge=1, le=100_000, strict=True, description="steps of the verification run (at most spec.steps)")


@router.post(
    "/discover", status_code=201, response_model=Run, dependencies=[Auth],
    responses={200: {"model": Run, "description": "the same id and body again: the existing job"},
               401: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
def submit_discovery(body: DiscoverCreate, state: State, client: ClientId, response: Response) -> dict:
    """Discover the spec's conserved quantities and verify them in a run; the result is in ``summary.discovery``."""
    spec, preset = resolve(body, state.settings.datasets_dir)
    try:
        spec = spec.with_overrides(steps=min(spec.steps, body.verify_steps))
    except ValidationError as exc:
        raise relocate(exc, ("body", "spec")) from None
    body_hash = jobs.request_hash({**body.model_dump(mode="json", exclude={"id"}), "kind": "discovery"})
    item = submission(spec, preset, run_id=body.id, tags=body.tags, note=body.note, request_hash=body_hash,
                      kind="discovery")
    rec, created = jobs.submit(state.redis, state.settings, [item], client=client)[0]
    if not created:
        response.status_code = 200
    return records.public(rec)

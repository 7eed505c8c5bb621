"""POST /api/discover: find a model's conserved quantities (Algorithm 1) as a job of kind 'discovery'."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import Field, ValidationError

from backend.deps import Auth, ClientId, State
from backend.resolve import relocate, resolve
from backend.schemas import ErrorBody, Run, RunCreate
from backend.submission import submission
from noether.discovery import DiscoveryOptions
from workers import client as jobs

router = APIRouter(tags=["discovery"])


class DiscoverCreate(RunCreate):
    """A spec (or a preset with overrides) whose symmetries to discover; the verification run has ``verify_steps``."""

    verify_steps: Annotated[int, DiscoveryOptions.model_fields["verify_steps"], Field(strict=True)]  # the core's bounds


@router.post(
    "/discover", status_code=201, response_model=Run, dependencies=[Auth],
    responses={200: {"model": Run, "description": "the same id and body again: the existing job"},
               401: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}},
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
    return rec.public()

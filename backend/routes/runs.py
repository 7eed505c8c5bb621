"""Runs: submit, list, read, change tags and note, cancel, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from backend.deps import Auth, ClientId, RunIdPath, State
from backend.resolve import resolve
from backend.schemas import ERRORS, ErrorBody, Run, RunCreate, RunList, RunPatch
from backend.submission import submission
from noether import __version__
from noether.naming import configuration, overview
from noether.scaling import flatten, swept_paths
from workers import client as jobs
from workers.client import Kind, Status

router = APIRouter(tags=["runs"])


@router.post(
    "/runs", status_code=201, response_model=Run, dependencies=[Auth],
    responses={200: {"model": Run, "description": "the same id and body again: the existing run"},
               401: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody},
               429: {"model": ErrorBody}},
)
def submit_run(body: RunCreate, state: State, client: ClientId, response: Response) -> dict:
    """Submit a run: a spec, or a preset with overrides; with an id, submitting again is idempotent."""
    spec, preset = resolve(body, state.settings.datasets_dir)
    item = submission(spec, preset, run_id=body.id, tags=body.tags, note=body.note,
                      request_hash=jobs.request_hash(body.model_dump(mode="json", exclude={"id"})))
    rec, created = jobs.submit(state.redis, state.settings, [item], client=client)[0]
    if not created:
        response.status_code = 200
    return rec.public()


@router.get("/runs", response_model=RunList)
def list_runs(
    state: State,
    status: Status | None = None,
    preset: Annotated[str | None, Query(max_length=120, description=(
        "part of the preset's name, any case: 'toy' lists toy-gf, toy-nd and toy-nag runs"))] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    group: Annotated[str | None, Query(max_length=64)] = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict:
    """List runs, newest first, filtered by status, preset, tag, group or kind (items without spec).

    ``preset`` matches a substring of the preset's name, ignoring case; status, tag, group and kind match exactly.
    """
    items, total = jobs.list_runs(state.redis, state.settings, status=status, preset=preset, tag=tag, group=group,
                                  kind=kind, limit=limit, offset=offset)
    return {"items": with_overview(items), "total": total, "limit": limit, "offset": offset}


def with_overview(items: list[jobs.Job]) -> list[dict]:
    """Public items, each with its spec's overview (model, widths, lr, steps...) and, for the members of a
    sweep on this page, the values of the fields their sweep varies (``swept``)."""
    groups: dict[str, list[dict]] = {}
    for item in items:
        if item.group:
            groups.setdefault(item.group, []).append(item.spec or {})
    varied = {g: swept_paths(specs) for g, specs in groups.items() if len(specs) > 1}
    out = []
    for item in items:
        spec = item.spec or {}
        public = item.public(with_spec=False)
        public["overview"] = overview(spec) if spec else None
        public["swept"] = {p: flatten(spec).get(p) for p in varied.get(item.group or "", [])}
        out.append(public)
    return out


@router.get("/runs/{run_id}", response_model=Run, responses=ERRORS)
def get_run(run_id: RunIdPath, state: State) -> dict:
    """One run's record with its spec, (once finished) summary, and its configuration as labelled rows."""
    out = jobs.require(state.redis, state.settings, run_id).public()
    if out.get("spec"):
        out["configuration"] = [[k, v] for k, v in configuration(out["spec"])] + [["code", f"noether {__version__}"]]
    return out


@router.patch("/runs/{run_id}", response_model=Run, dependencies=[Auth], responses={401: {"model": ErrorBody}, **ERRORS})
def patch_run(run_id: RunIdPath, body: RunPatch, state: State) -> dict:
    """Change a run's tags and/or note."""
    return jobs.patch(state.redis, state.settings, run_id, tags=body.tags, note=body.note).public()


@router.post("/runs/{run_id}/cancel", response_model=Run, dependencies=[Auth],
             responses={401: {"model": ErrorBody}, **ERRORS})
def cancel_run(run_id: RunIdPath, state: State) -> dict:
    """Cancel a queued or running run; a running one stops within 1 s and keeps its series."""
    return jobs.cancel(state.redis, state.settings, run_id).public()


@router.delete("/runs/{run_id}", status_code=204, dependencies=[Auth], responses={401: {"model": ErrorBody}, **ERRORS})
def delete_run(run_id: RunIdPath, state: State) -> Response:
    """Cancel the run if needed, then delete its record, series and archive."""
    jobs.delete(state.redis, state.settings, run_id)
    return Response(status_code=204)

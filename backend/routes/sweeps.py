"""POST /api/sweeps: a grid over spec fields that fans out as runs sharing a group id;
GET /api/sweeps/{group}: the sweep's analysis (each law's error against the swept value, fitted on log-log axes)."""

from __future__ import annotations

import math
import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import ValidationError

from backend.deps import Auth, ClientId, State
from backend.resolve import check_data, check_path, check_value, invalid, preset_spec, relocate, resolve
from backend.schemas import ErrorBody, SweepAnalysis, SweepCreate, SweepOut
from backend.submission import submission
from noether.io import finite
from noether.spec import SpecError
from workers import client as jobs

router = APIRouter(tags=["sweeps"])


@router.post(
    "/sweeps", status_code=201, response_model=SweepOut, dependencies=[Auth],
    responses={401: {"model": ErrorBody}, 422: {"model": ErrorBody}, 429: {"model": ErrorBody}},
)
def submit_sweep(body: SweepCreate, state: State, client: ClientId) -> dict:
    """Fan a grid (seeds, learning rates, widths, dynamics...) out as runs sharing one group id."""
    from noether.sweep import expand

    spec, preset = resolve(body, state.settings.datasets_dir)
    grid = body.grid
    if grid is None and preset is not None:
        grid = preset_spec(preset)[1].sweep
    if not grid:
        raise invalid(("body", "grid"), "give at least one field to sweep, e.g. {'seed': [0, 1, 2]}", grid)
    for path, values in grid.items():
        check_path(path, ("body", "grid", path), values)
        check_value(values, ("body", "grid", path))
        if not values:
            raise invalid(("body", "grid", path), "must list at least one value", values)
    size = math.prod(len(v) for v in grid.values())
    bound = state.settings.max_sweep_runs
    if size > bound:
        raise invalid(("body", "grid"), f"the grid has {size} runs; must be <= {bound} (NOETHER_MAX_SWEEP_RUNS)",
                      size, kind="less_than_equal")
    try:
        expanded = expand(spec, grid, limit=bound)
    except ValidationError as exc:
        raise relocate(exc, ("body", "grid")) from None
    except SpecError as exc:
        raise invalid(("body", "grid"), "; ".join(exc.lines), None) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise invalid(("body", "grid"), str(exc), None) from None
    for _, point in expanded:
        check_data(point, state.settings.datasets_dir, ("body", "grid"))
    group = uuid.uuid4().hex[:16]
    items = [
        submission(s, preset, run_id=None, tags=body.tags, note=body.note, group=group, label="" if s.name else str(label),
                   request_hash=uuid.uuid4().hex)
        for label, s in expanded
    ]
    created = jobs.submit(state.redis, state.settings, items, client=client)
    return {"group": group, "runs": [rec.public(with_spec=False) for rec, _ in created]}


GroupPath = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="the sweep's group id")]


@router.get("/sweeps/{group}", response_model=SweepAnalysis, responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
def analyse_sweep(group: GroupPath, state: State) -> dict:
    """The sweep's runs ordered by swept value and, per law with a prediction, each run's error (the largest
    |Q - prediction| over the time window every run covers) with a log-log fit and the slope theory expects."""
    from noether.scaling import analyse_sweep as analyse

    items, total = jobs.list_runs(state.redis, state.settings, group=group, limit=state.settings.max_sweep_runs)
    if not items:
        raise jobs.NotFound(f"no sweep with group '{group}'")
    runs, laws = [], {}
    for item in items:
        rec = jobs.get(state.redis, state.settings, item.id) or item
        summary = rec.summary or {}
        for law in summary.get("laws") or []:
            if law.get("verdict") != "not applicable":
                laws.setdefault(law["id"], {"id": law["id"], "name": law.get("name", law["id"]),
                                            "family": law.get("family", "")})
        runs.append(rec)
    wanted = {"t", *laws, *(f"{law}:pred" for law in laws)}
    inputs = []  # one run's records in memory at a time (a heavy read each), then only t, laws and predictions
    for rec in runs:
        series: dict[str, list] = {}
        if rec.terminal:
            with state.heavy_reads(jobs.series_length(state.redis, state.settings, rec.id)):
                rows = jobs.all_records(state.redis, state.settings, rec.id)
            cols = [c for c in wanted if rows and c in rows[0]]
            series = {c: [row.get(c) for row in rows] for c in cols}
        inputs.append({"id": rec.id, "spec": rec.spec or {}, "series": series})
    out = analyse(inputs, list(laws.values()))
    by_id = {rec.id: rec for rec in runs}
    for run in out["runs"]:
        run.pop("spec", None)
        run["record"] = by_id[run["id"]].public(with_spec=False)
        run["worst_verdict"] = _worst(by_id[run["id"]].summary)
    out["group"] = group
    out["total"] = total
    return finite(out)


def _worst(summary: dict | None) -> str | None:
    verdicts = {law.get("verdict") for law in (summary or {}).get("laws") or []}
    return next((v for v in ("broken", "holds") if v in verdicts), None)

"""POST /api/sweeps: a grid over spec fields that fans out as runs sharing a group id."""

from __future__ import annotations

import math
import uuid

from fastapi import APIRouter
from pydantic import ValidationError

from backend.deps import Auth, ClientId, State
from backend.resolve import check_data, check_path, check_value, invalid, preset_spec, relocate, resolve
from backend.routes.runs import submission
from backend.schemas import Problem, SweepCreate, SweepOut
from noether.spec import SpecError
from workers import client as jobs
from workers import records

router = APIRouter(tags=["sweeps"])


@router.post(
    "/sweeps", status_code=201, response_model=SweepOut, dependencies=[Auth],
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
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
    return {"group": group, "runs": [records.public(rec, with_spec=False) for rec, _ in created]}

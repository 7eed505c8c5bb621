"""GET /api/presets and GET /api/laws: what the lab knows how to run and measure."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis
from fastapi import APIRouter
from pydantic import BaseModel

from backend.deps import State

router = APIRouter(tags=["catalogue"])


def plain(obj: Any) -> Any:
    """A pydantic model, dataclass or mapping as JSON-ready data."""
    if hasattr(obj, "to_dict"):
        return plain(obj.to_dict())
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


@router.get("/presets", response_model=list[dict[str, Any]])
def presets(state: State) -> list[dict[str, Any]]:
    """The presets (the paper's figures first): name, title, figure, explanation, look_at, prediction, spec,
    and runtime_estimate (from the speed of its recent runs here, else a conservative default)."""
    from noether import presets as catalogue
    from workers import client as jobs

    try:
        measured = jobs.recent_summaries(state.redis, state.settings)
    except redis.RedisError:
        measured = {}
    out = []
    for p in catalogue.all():
        item = plain(p)
        item["runtime_estimate"] = jobs.runtime_estimate(p.spec.steps, p.runtime, measured.get(p.name, []))
        out.append(item)
    return out


@router.get("/laws", response_model=list[dict[str, Any]])
def laws() -> list[dict[str, Any]]:
    """The law catalogue: symmetry, condition, quantity and prediction per dynamics (as docs/laws.md)."""
    from noether import laws as catalogue

    return [plain(entry) for entry in catalogue.catalogue()]

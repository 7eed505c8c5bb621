"""GET /api/schema/spec and POST /api/validate: the experiment spec's form and its checks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from backend.deps import State
from backend.resolve import laws_for, resolve
from backend.schemas import ErrorBody, SpecSource, Validated
from noether.spec import ExperimentSpec

router = APIRouter(tags=["spec"])


@router.get("/schema/spec", response_model=dict[str, Any])
def spec_schema() -> dict[str, Any]:
    """The JSON schema of the experiment spec (the dashboard builds its form from it)."""
    return ExperimentSpec.model_json_schema()


@router.post("/validate", response_model=Validated, responses={422: {"model": ErrorBody}})
def validate(body: SpecSource, state: State) -> Validated:
    """Validate a spec, or a preset with overrides, without running it: the normalised spec and its laws.

    It changes nothing, so it is a read: open to everyone unless NOETHER_PUBLIC_READ is off.
    """
    spec, _ = resolve(body, state.settings.datasets_dir)
    apply, skip = laws_for(spec)
    return Validated(spec=spec.model_dump(mode="json"), laws=apply, not_applicable=skip)

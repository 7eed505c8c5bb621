"""What the job record says about a spec to run: its name, dynamics, tags and steps (one place for every route)."""

from __future__ import annotations

from noether.naming import describe
from noether.spec import ExperimentSpec
from workers import client as jobs


def submission(spec: ExperimentSpec, preset: str | None, *, run_id: str | None, tags: list[str], note: str,
               request_hash: str, group: str | None = None, label: str = "", kind: str = "run") -> jobs.Submission:
    """The submission of ``spec``: named by the spec, else its preset, else what it describes (``label``:
    a sweep member's swept values, appended in brackets); its tags with the spec's own after them."""
    name = spec.name or preset or describe(spec)
    if label:
        name = f"{name} [{label}]" if name else label
    merged = list(dict.fromkeys([*tags, *spec.tags]))
    return jobs.Submission(
        spec=spec.model_dump(mode="json"), run_id=run_id, kind=kind, preset=preset, name=name,
        dynamics=spec.dynamics.kind, tags=tuple(merged), note=note, group=group, steps=spec.steps,
        request_hash=request_hash,
    )

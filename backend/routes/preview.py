"""POST /api/preview: a small potential run computed at once and answered whole (the run page's sliders).

A lecturer drags a slider on a toy's run page (learning rate, initial speed, t0, friction) and the chart
redraws within about a second, the previous result kept faintly beside it (in the spirit of TensorFlow
Playground). Going through the queue would add a worker's pick-up, a fork and a stream to every drag, so
a preview is simulated here, in a thread, for analytic potentials only and at most ``MAX_STEPS`` steps;
nothing is stored. Real runs (kept, streamed, archived) still go through ``POST /api/runs``.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from backend.deps import Auth
from backend.resolve import invalid, resolve
from backend.schemas import ErrorBody, SpecSource
from noether.spec import ExperimentSpec

router = APIRouter(tags=["runs"])

MAX_STEPS = 20_000  # a toy step costs about 0.3 ms: a preview stays well under a second of CPU
MAX_ROWS = 600  # records answered (evenly spaced, the last one always)
_ONE_AT_A_TIME = threading.Lock()  # previews share the web process with every page: one simulates at a time


class Preview(BaseModel):
    """A preview's records (columns of scalars, plus positions) and its verdicts."""

    columns: dict[str, list[float | None]] = Field(..., description="step, t, loss and every scalar law column")
    position: list[list[float]] = Field(default_factory=list, description="w at each record (first 3 coordinates)")
    laws: list[dict[str, Any]] = Field(default_factory=list, description="id, name, prediction, verdict per law")
    status: str
    steps: int


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def simulate_preview(spec: ExperimentSpec) -> Preview:
    """Run ``spec`` (a potential, at most MAX_STEPS steps) on the CPU and keep at most MAX_ROWS records."""
    from noether.simulate import simulate

    spec = spec.with_overrides(device="cpu")
    with _ONE_AT_A_TIME:
        sim = simulate(spec)
        records = sim.collect()
    every = max(1, math.ceil(len(records) / MAX_ROWS))
    rows = records[::every]
    if records and rows[-1] is not records[-1]:
        rows.append(records[-1])
    names = [k for k, v in (rows[0].items() if rows else []) if isinstance(v, int | float) and not isinstance(v, bool)]
    columns = {k: [_finite(r.get(k)) for r in rows] for k in names}
    position = [list(r["position"])[:3] for r in rows if isinstance(r.get("position"), list)]
    laws = [{"id": s.id, "name": s.name, "prediction": s.prediction, "verdict": s.verdict}
            for s in sim.summary.laws]
    return Preview(columns=columns, position=position, laws=laws, status=sim.summary.status, steps=sim.step)


@router.post("/preview", response_model=Preview, dependencies=[Auth], responses={422: {"model": ErrorBody}})
async def preview(body: SpecSource) -> Preview:
    """Simulate a small potential spec at once and answer its records (nothing is stored or queued)."""
    spec, _ = resolve(body)
    if spec.potential is None:
        raise invalid(("body", "spec", "potential"), "a preview runs analytic potentials only; submit networks as runs")
    if spec.steps > MAX_STEPS:
        raise invalid(("body", "spec", "steps"), f"a preview runs at most {MAX_STEPS} steps (got {spec.steps})",
                      spec.steps)
    return await run_in_threadpool(simulate_preview, spec)

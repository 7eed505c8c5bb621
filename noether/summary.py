"""The run summary (``summary.json`` next to every finished run, and in the API) and the run record.

A *record* is what the driver yields at the recording cadence: a flat ``dict`` whose scalar entries
become the columns of the series, and whose list entries are views (positions, particles, per-neuron
values). Keys:

============================ ==================================================================
``step``                     int, number of updates done
``t``                        float, physical time of that step (t = k eta for GD, k sqrt(eta) for ND/NAG)
``loss``                     float, L(w_k)
``<law id>``                 float, the law's measured value (e.g. ``balance/h2``)
``<law id>:pred``            float, the paper's prediction for that value at this step
``<law id>:neurons``         list[float], per-neuron values (per-neuron laws only)
``position``, ``velocity``   list[float], w and w' for potentials of dimension <= 3 (and larger ones)
``sq_norm/<name>``           float, squared norm of each parameter tensor of a network (W1, b1, beta1, W2, ...)
``particles``                list[list[float]], 3D points: first-layer neurons W_1[i,:] when d_x = 3,
                             else their projection on 3 fixed directions
============================ ==================================================================
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Record = dict[str, Any]

Verdict = Literal["holds", "broken", "not applicable"]
Status = Literal["running", "succeeded", "diverged", "cancelled", "failed"]


class LawSummary(BaseModel):
    """One law's outcome in one run."""

    id: str = Field(..., description="unique within the run, e.g. 'balance/h2'")
    name: str = Field(..., description="the quantity in words or symbols, e.g. '|W_2|^2 - |W_3|^2'")
    family: str = Field(..., description="the catalogue entry it comes from")
    symmetry: str
    dynamics: str = Field(..., description="the dynamics of the run, e.g. 'gd (discretised gradient flow)'")
    prediction: str = Field(..., description="what the paper predicts, e.g. 'conserved', 'decays as t^-3'")
    initial: float | None = None
    final: float | None = None
    max_abs_drift: float | None = None
    max_rel_drift: float | None = None
    verdict: Verdict
    tolerance: float | None = None
    reason: str | None = Field(None, description="why it does not apply, or how it was judged")


class RunSummary(BaseModel):
    """What a finished (or stopped) run reports, law by law."""

    name: str = ""
    status: Status
    steps_done: int
    steps: int
    t_final: float
    loss_initial: float | None = None
    loss_final: float | None = None
    loss_best: float | None = None
    diverged_at: int | None = Field(None, description="step at which a non-finite value appeared")
    last_finite: dict[str, Any] | None = Field(None, description="the last record with finite values")
    laws: list[LawSummary] = Field(default_factory=list)
    device: str = "cpu"
    dtype: str = "float32"
    wall_time_s: float = 0.0
    steps_per_s: float = 0.0
    spec_fingerprint: str = ""

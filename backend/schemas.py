"""Request and response bodies of the API, one family per resource (their docstrings become OpenAPI text)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from noether.spec import MAX_TAGS, ExperimentSpec, Text
from workers.client import JobView, WithSpec

RUN_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
Tag = Annotated[str, Field(pattern=r"^[\w.:-]{1,64}$")]


class _In(BaseModel):
    """A request body: unknown fields, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SpecSource(_In):
    """An experiment given as a full spec, or as a preset name with optional overrides (exactly one of the two)."""

    spec: ExperimentSpec | None = Field(None, description="the full experiment spec (docs/spec.md)")
    preset: Text | None = Field(None, max_length=120, description="a preset name (GET /api/presets)")
    overrides: dict[str, Any] | None = Field(
        None,
        description="changes to the preset's spec: dotted paths ('dynamics.lr': 0.1, 'steps': 200) or nested objects",
    )


class RunCreate(SpecSource):
    """A run to submit. With an ``id``, submitting the same body again is a no-op (idempotent)."""

    id: str | None = Field(None, pattern=RUN_ID_PATTERN, description="client-chosen run id; default a UUID")
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    note: Text = Field("", max_length=4000)


class RunPatch(_In):
    """New tags and/or note for a run."""

    tags: list[Tag] | None = Field(None, max_length=MAX_TAGS)
    note: Text | None = Field(None, max_length=4000)


class RunItem(JobView):
    """The job record of a run (source of truth for its status), without its spec."""

    overview: dict[str, Any] | None = Field(None, description="in lists: model, widths, activation, dynamics, lr, steps")
    swept: dict[str, Any] = Field(default_factory=dict, description="in lists: for a sweep's members on the page, "
                                                                    "the values of the fields the sweep varies")


class Run(RunItem, WithSpec):
    """The job record of a run with its full spec and (once finished) its summary."""

    configuration: list[list[str]] = Field(default_factory=list, description="(label, value) rows: model, data, "
                                           "loss, dynamics with every coefficient, steps, seed, dtype, device, code")


class RunList(BaseModel):
    """One page of runs, newest first."""

    items: list[RunItem]
    total: int
    limit: int
    offset: int


class Envelope(BaseModel):
    mean: list[float | None]
    min: list[float | None]
    max: list[float | None]


class Downsampled(BaseModel):
    """The series in N buckets, each column with its mean and its min/max envelope (spikes stay visible)."""

    downsampled: bool = Field(..., description="false when every record is its own bucket")
    total: int = Field(..., description="records in the series")
    step: list[int] = Field(..., description="the first step of each bucket")
    columns: dict[str, Envelope]
    last: dict[str, Any] | None = Field(None, description="the series' last record, every column (when downsampled "
                                        "and no columns= is given): where the envelope ends")


class SweepCreate(SpecSource):
    """A grid over spec fields whose product fans out as runs sharing one group id."""

    grid: dict[str, list[Any]] | None = Field(
        None,
        description="dotted field path -> values, e.g. {'seed': [0, 1], 'dynamics.lr': [0.01, 0.1]}; "
        "default: the preset's own sweep",
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    note: Text = Field("", max_length=4000)


class SweepOut(BaseModel):
    """The sweep's group id and its runs."""

    group: str
    runs: list[RunItem]


class SweepAnalysis(BaseModel):
    """A sweep's analysis (noether.scaling): runs ordered by the swept value, per law each run's error over
    the common window [t0, t_end], the log-log fit and the slope theory expects."""

    group: str
    total: int = Field(description="runs in the sweep")
    paths: list[str] = Field(description="the spec fields whose values differ between the runs")
    main: str | None = Field(description="the swept field on the x axis (the first that is not the seed)")
    dynamics: str
    t_end: float | None = Field(description="end of the time window every ended run covers")
    runs: list[dict[str, Any]] = Field(description="id, value, x (the value as a number), record, worst_verdict")
    fits: list[dict[str, Any]] = Field(description="id, name, family, points [{id, x, error}], fit {slope, "
                                                   "intercept, r2, n} or null, expected slope or null, reason, "
                                                   "rounding (the law holds exactly at every step: no fit)")


class Validated(BaseModel):
    """The normalised spec and the laws that would apply to it."""

    spec: dict[str, Any]
    laws: list[dict[str, Any]] = Field(default_factory=list, description="laws that apply: id, name, prediction")
    not_applicable: list[dict[str, Any]] = Field(default_factory=list, description="laws that do not, with why")


class Health(BaseModel):
    """Whether the lab can run experiments."""

    status: Literal["ok", "degraded"]
    reason: str | None = Field(None, description="why the lab is degraded (null when ok)")
    redis: bool
    workers: int
    workers_expected: int = Field(1, description="workers the lab is configured to run (NOETHER_WORKERS, at least 1)")
    queued: int
    version: str


class ErrorBody(BaseModel):
    """An error: what went wrong and what to change."""

    detail: Any


ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}  # a route's answers when a run id is unknown or bad

"""What ``discover`` returns: generators as small block matrices, the laws, their verification. JSON-ready."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from noether.summary import LawSummary, RunSummary


class DiscoveryOptions(BaseModel):
    """How hard to search and how long to verify; the defaults suit every preset on a laptop CPU."""

    points: int = Field(6, ge=2, le=64, description="sampled parameter points of the model stage (w_0 first)")
    oversample: float = Field(3.0, ge=1.5, le=20.0, description="equations per unknown of the largest joint block")
    tolerance: float = Field(1e-5, gt=0.0, le=0.1, description="exact symmetries: RMS cosine of grad L with A w")
    data_tolerance: float = Field(0.05, gt=0.0, le=0.5, description="data symmetries: RMS cosine bound")
    z_max: float = Field(3.0, gt=0.0, le=100.0, description="data symmetries: RMS z-score against sampling noise")
    gl_joint_max: int = Field(8, ge=1, le=64, description="gl(d) families up to this d join the joint solve")
    gl_max: int = Field(512, ge=1, le=4096, description="gl(d) families up to this d are screened; wider ones left out")
    joint_max: int = Field(512, ge=16, le=8192, description="largest block of candidates solved as one eigenproblem")
    families: list[Literal["rescale", "mix", "input", "output", "rotation"]] = Field(
        default_factory=lambda: ["rescale", "mix", "input", "output", "rotation"]
    )
    verify: bool = Field(True, description="run the spec's dynamics and measure every discovered law")
    verify_steps: int = Field(200, ge=1, le=100_000, description="steps of the verification run (at most spec.steps)")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class GeneratorBlock(BaseModel):
    """Generators as a small matrix for a heatmap: rows and columns labelled, values the coefficients."""

    title: str
    group: str
    rows: list[str]
    cols: list[str]
    matrix: list[list[float]]
    parity: Literal["symmetric", "antisymmetric", "mixed", "pattern"]
    residual: float | None = None


class DiscoveredLaw(BaseModel):
    """A family of independent discovered quantities (or the residual law of a group of generators)."""

    id: str = Field(..., description="series column and summary id, e.g. 'discovered/layer1/quantity'")
    group: str = Field(..., description="'layer h', 'inputs', 'outputs', 'potential' or 'across groups'")
    kind: Literal["quantity", "charge", "residual"] = Field(
        ..., description="quantity: w^T A w / 2 (A symmetric, GF); charge: w'^T A w (A antisymmetric, ND); residual"
    )
    level: Literal["model", "data", "potential"] = Field(
        ..., description="model: every sample's loss is invariant (survives SGD); data: only the whole data set's"
    )
    count: int = Field(..., description="independent quantities (generators, for a residual law)")
    name: str
    symmetry: str
    prediction: str
    matches: list[str] = Field(default_factory=list, description="catalogue law ids it coincides with")
    new: bool = Field(..., description="no catalogue law of this spec covers it")
    note: str | None = None
    coefficients: dict[str, float] | None = Field(
        None, description="per-neuron laws: the coefficient found for each piece (row normalised to 1), mean"
    )
    coefficient_spread: float | None = Field(None, description="largest deviation of a neuron from that mean")
    residual: float = Field(..., description="largest held-out RMS cosine of grad L with A w over its generators")
    zscore: float | None = Field(None, description="data level: largest held-out RMS z-score")


class DiscoveryResult(BaseModel):
    """Algorithm 1 for one spec: what was searched, what was found, and how the laws fared in a run."""

    name: str = ""
    spec_fingerprint: str = ""
    parameters: int
    candidates: dict[str, int] = Field(..., description="candidate generators per family")
    equations: dict[str, int] = Field(..., description="equations (rows) per stage")
    tolerance: float
    data_tolerance: float | None = None
    z_max: float | None = None
    gap: dict[str, float | None] = Field(
        default_factory=dict, description="per stage, the smallest residual that was rejected (the spectral gap)"
    )
    generators: int
    symmetric: int
    antisymmetric: int
    mixed: int
    closed_under_transposition: bool
    trivial_relations: int = Field(0, description="null vectors dropped because their generator is the zero map")
    laws: list[DiscoveredLaw]
    blocks: list[GeneratorBlock]
    verification: list[LawSummary] = Field(default_factory=list, description="the discovered laws in a run")
    catalogue: list[LawSummary] = Field(default_factory=list, description="the catalogue's laws in the same run")
    verification_status: str | None = None
    verification_steps: int = 0
    run_summary: RunSummary | None = Field(None, description="the verification run's whole summary")
    timing: dict[str, float] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

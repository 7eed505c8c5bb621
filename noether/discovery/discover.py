"""``discover(spec)``: the paper's Algorithm 1 (FINDCONSERVEDQUANTITIES) done numerically, end to end.

1. candidates: structured bases of linear generators xi(w) = A w (``candidates``);
2. equations and null space: <grad, A_j w> at many sampled points, tolerance and residuals (``search``);
3. laws: symmetric / antisymmetric split, quantities, charges, residual laws, catalogue names (``laws``);
4. verification: the spec's dynamics with the discovered laws measured like catalogue laws (``verify``).

The search runs in float64 (on the spec's device); the verification run uses the same float64 problem for
``min(spec.steps, options.verify_steps)`` steps with the spec's dynamics.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from noether.discovery.quantities import make_blocks, make_laws
from noether.discovery.result import DiscoveredLaw, DiscoveryOptions, DiscoveryResult
from noether.discovery.search import Found, SearchOptions, search
from noether.discovery.verify import trackers
from noether.problem import build_problem
from noether.spec import ExperimentSpec, SpecError, parse_spec
from noether.summary import Record

OnRecord = Callable[[Record], None]


def discovery_spec(spec: ExperimentSpec, options: DiscoveryOptions) -> ExperimentSpec:
    """The spec discovery works on: float64, and the verification run's length and cadence."""
    steps = max(1, min(spec.steps, options.verify_steps))
    return spec.with_overrides(dtype="float64", steps=steps, record_every=max(1, steps // 100))


def discover(
    spec: ExperimentSpec | dict,
    options: DiscoveryOptions | dict | None = None,
    *,
    data_root: Path | None = None,
    on_record: OnRecord | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DiscoveryResult:
    """Find the model's conserved quantities and verify them; see the module docstring.

    ``on_record`` receives every record of the verification run (the discovered laws' columns next to
    the catalogue's) as it is made; ``should_stop`` is polled between records to cancel it.
    """
    if not isinstance(spec, ExperimentSpec):
        spec = parse_spec(spec)
    if spec.model is not None and any(spec.model.batch_norms()):
        raise SpecError([
            "model.batch_norm: discovery samples the gradient one sample at a time, and BatchNorm couples the samples "
            "of a batch; its scale symmetry is in the catalogue instead (scale/h<h>, see `noether laws`)"
        ])
    if options is None:
        options = DiscoveryOptions()
    elif not isinstance(options, DiscoveryOptions):
        options = DiscoveryOptions.model_validate(options)
    t0 = time.perf_counter()
    vspec = discovery_spec(spec, options)
    problem = build_problem(vspec, data_root)
    timing = {"build_s": time.perf_counter() - t0}
    if should_stop is not None and should_stop():
        options = options.model_copy(update={"verify": False})
    found = search(problem, search_options(options))
    if should_stop is not None and should_stop():
        options = options.model_copy(update={"verify": False})
    timing.update({f"search_{k}": v for k, v in found.timing.items()})
    t = time.perf_counter()
    catalogue_ids, context = _catalogue(vspec, problem)
    plans = make_laws(found, problem.structure, catalogue_ids)
    blocks = make_blocks(found, plans)
    timing["laws_s"] = time.perf_counter() - t
    result = _result(spec, problem, found, [p.info for p in plans], blocks, timing)
    if options.verify and plans:
        t = time.perf_counter()
        _verify(vspec, problem, found, plans, result, on_record, should_stop)
        timing["verify_s"] = time.perf_counter() - t
    timing["total_s"] = time.perf_counter() - t0
    result.timing = {k: round(v, 4) for k, v in timing.items()}
    return result


def search_options(options: DiscoveryOptions) -> SearchOptions:
    """The search's knobs from the user's options: every field the two share, by name (the rest keep
    SearchOptions' defaults; verify and verify_steps are the verification's)."""
    shared = {f.name for f in dataclasses.fields(SearchOptions)} & set(DiscoveryOptions.model_fields)
    values = options.model_dump(include=shared)
    return SearchOptions(**{**values, "families": tuple(options.families)})


def _catalogue(spec: ExperimentSpec, problem) -> tuple[set[str], Any]:
    """The ids of the catalogue laws that apply to this spec (what a discovered law may match)."""
    from noether.laws import make_context, select

    context = make_context(spec, problem.structure)
    laws, _ = select(spec, problem.structure, context)
    return {law.id for law in laws}, context


def _result(spec, problem, found: Found, laws: list[DiscoveredLaw], blocks, timing) -> DiscoveryResult:
    generators = sum(law.count for law in laws if law.kind == "residual")
    sym = sum(law.count for law in laws if law.kind == "quantity")
    anti = sum(law.count for law in laws if law.kind == "charge")
    candidates: dict[str, int] = {}
    for f in found.families:
        candidates[f.name] = candidates.get(f.name, 0) + f.size
    return DiscoveryResult(
        name=spec.name,
        spec_fingerprint=spec.fingerprint(),
        parameters=sum(p.numel() for p in problem.params),
        candidates=candidates,
        equations=found.equations,
        tolerance=found.tolerance,
        data_tolerance=found.data_tolerance,
        z_max=found.z_max,
        gap=found.gap,
        generators=generators,
        symmetric=sym,
        antisymmetric=anti,
        mixed=generators - sym - anti,
        closed_under_transposition=generators == sym + anti,
        trivial_relations=found.trivial,
        laws=laws,
        blocks=blocks,
        timing=timing,
        notes=list(found.notes),
    )


def _verify(vspec, problem, found, plans, result: DiscoveryResult, on_record, should_stop) -> None:
    """Run the spec's dynamics with the discovered laws added to the catalogue's."""
    from noether.simulate import Simulation

    sim = Simulation(vspec, problem=problem)
    mine = trackers(plans, found, sim.context)
    sim.laws.extend(mine)
    for record in sim:
        if on_record is not None:
            on_record(record)
        if should_stop is not None and should_stop():
            sim.stop()
    ids = {law.id for law in mine}
    summary = sim.summary
    result.verification = [law.summary() for law in mine]
    result.catalogue = [s for s in summary.laws if s.id not in ids]
    result.verification_status = summary.status
    result.verification_steps = summary.steps_done
    result.run_summary = summary

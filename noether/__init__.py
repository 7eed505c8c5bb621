"""Noether: conservation laws of neural-network training dynamics (Głuch & Urbanke), measured.

The science core: spec, models, data, dynamics, laws, discovery and the driver loop. It imports torch
and numpy, never redis, fastapi or dash.

    import noether
    sim = noether.simulate(noether.presets.get("toy-nd").spec)
    for record in sim: ...
    print(sim.summary)
"""

__version__ = "0.1.0"

from noether import presets, sweep  # noqa: E402
from noether.problem import Problem, build_problem  # noqa: E402
from noether.simulate import Simulation, simulate  # noqa: E402
from noether.spec import ExperimentSpec, SpecError, load_spec, parse_spec  # noqa: E402
from noether.summary import LawSummary, RunSummary  # noqa: E402
from noether.watcher import Monitor, watch  # noqa: E402

__all__ = [
    "ExperimentSpec",
    "LawSummary",
    "Monitor",
    "Problem",
    "RunSummary",
    "Simulation",
    "SpecError",
    "build_problem",
    "load_spec",
    "parse_spec",
    "presets",
    "simulate",
    "sweep",
    "watch",
]

"""Sweeps: the product of a grid of spec fields, each point a validated ExperimentSpec.

A grid maps a dotted field path to the values it takes, e.g.
``{"seed": [0, 1], "dynamics.lr": [0.1, 0.01], "model.widths": [[64, 50, 10], [64, 400, 10]],
"dynamics": [{"kind": "gd"}, {"kind": "sgd", "batch_size": 32}]}``. Each point is the base spec edited by
``noether.edit.apply``, the one editor of specs: a value is set at its path, an object merges into the one
there, and another dynamics kind keeps the fields it shares with the base's (``{"dynamics": [{"kind": "nd"}]}``
on GD with lr 0.05 runs ND at lr 0.05). A more specific path wins over a less specific one whatever the
grid's order (``dynamics`` is set before ``dynamics.lr``), so ``{"dynamics.lr": [...], "dynamics":
[{"kind": "gd"}]}`` sweeps GD at each learning rate. The CLI, the API and presets use the same ``expand``.
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from noether import edit
from noether.spec import ExperimentSpec, SpecError, parse_spec

MAX_SWEEP_RUNS = 1024  # the API applies its own, smaller limit (NOETHER_MAX_SWEEP_RUNS)


def label_of(path: str, value: Any) -> str:
    """A short readable 'path=value' for one grid coordinate."""
    if isinstance(value, dict):
        inner = ",".join(f"{k}={v}" for k, v in value.items() if k != "kind")
        text = value.get("kind", "") + (f"({inner})" if inner else "")
    elif isinstance(value, list):
        text = "-".join(str(v) for v in value)
    else:
        text = json.dumps(value) if isinstance(value, str) else str(value)
    return f"{path}={text}"


def expand(spec: ExperimentSpec | dict, grid: dict[str, list[Any]] | None, *, limit: int = MAX_SWEEP_RUNS) -> list[tuple[str, ExperimentSpec]]:
    """(label, spec) for every point of the grid's product, in order; SpecError names each bad point."""
    base = spec.model_dump(mode="json") if isinstance(spec, ExperimentSpec) else copy.deepcopy(spec)
    if not grid:
        return [("", spec if isinstance(spec, ExperimentSpec) else parse_spec(base))]
    paths = list(grid)
    errors: list[str] = []
    for path in paths:
        values = grid[path]
        if not isinstance(values, list) or not values:
            errors.append(f"grid.{path}: must be a non-empty list of values")
    if errors:
        raise SpecError(errors)
    total = 1
    for path in paths:
        total *= len(grid[path])
    if total > limit:
        raise SpecError([f"grid: the sweep has {total} runs; must be <= {limit}"])
    out: list[tuple[str, ExperimentSpec]] = []
    for combo in itertools.product(*(grid[p] for p in paths)):
        label = ", ".join(label_of(p, v) for p, v in zip(paths, combo, strict=True))
        try:
            data = edit.apply(base, dict(zip(paths, combo, strict=True)))
            if data.get("name"):
                data["name"] = f"{data['name']} [{label}]"[:120]
            out.append((label, parse_spec(data)))
        except SpecError as exc:
            errors.extend(f"{label}: {line}" for line in exc.lines)
    if errors:
        raise SpecError(errors)
    return out

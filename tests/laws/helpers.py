"""Small runs through the real driver loop (noether.simulate), for the law physics tests."""

from __future__ import annotations

from typing import Any

import numpy as np

import noether
from noether.spec import parse_spec


def net_spec(
    widths: list[int],
    activation: Any = "relu",
    *,
    bias: bool = False,
    dynamics: dict | None = None,
    steps: int = 100,
    dtype: str = "float64",
    loss: str = "nll",
    samples: int = 48,
    record_every: int = 1,
    **extra: Any,
) -> dict:
    """A small network on synthetic data of widths[0] inputs and widths[-1] classes."""
    return {
        "model": {"widths": widths, "activation": activation, "bias": bias, **extra.pop("model", {})},
        "data": {"kind": "synthetic", "samples": samples, "inputs": widths[0], "classes": widths[-1]},
        "loss": loss,
        "dynamics": dynamics or {"kind": "gd", "lr": 0.05},
        "steps": steps,
        "record_every": record_every,
        "dtype": dtype,
        "device": "cpu",
        **extra,
    }


def run(spec: dict, extra_laws=None):
    """(records, summary by law id, simulation); ``extra_laws(sim)`` may return laws to watch besides the catalogue's."""
    sim = noether.simulate(parse_spec(spec))
    if extra_laws is not None:
        sim.laws.extend(extra_laws(sim))
    records = sim.collect()
    summary = {law.id: law for law in sim.summary.laws}
    return records, summary, sim


def column(records: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in records], dtype=float)


def slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def preset_spec(name: str, **overrides: Any) -> dict:
    """A preset's spec as a dict, with top-level fields replaced."""
    from noether import presets

    spec = presets.get(name).spec.model_dump(mode="json")
    spec.update(overrides)
    return spec


def law_of(sim, law_id: str):
    """The law instance ``law_id`` of a simulation."""
    return next(law for law in sim.laws if law.id == law_id)

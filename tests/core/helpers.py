"""Small spec builders shared by the core tests."""

from __future__ import annotations

import numpy as np

import noether


def toy(dynamics: dict, steps: int, *, position=(0.5, 0.5, 0.5), velocity=(-2.0, 1.0, 1.0), record_every=None, **kw) -> dict:
    """The rotation toy L(w) = (|w|^2 - 1)^2 on R^3 in float64 (paper Sec. 6.1)."""
    initial = {"position": list(position)}
    if velocity is not None:
        initial["velocity"] = list(velocity)
    return {"potential": {"kind": "sphere", "dim": 3}, "initial": initial, "dynamics": dynamics, "steps": steps,
            "record_every": record_every or steps, "dtype": "float64", **kw}


def run(spec: dict) -> list[dict]:
    sim = noether.simulate(spec)
    records = list(sim)
    assert sim.status == "succeeded", sim.status
    return records


def final_position(spec: dict) -> np.ndarray:
    return np.array(run(spec)[-1]["position"])


def fitted_slope(xs, ys) -> float:
    """Slope of log y against log x (least squares)."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def tiny_net(**kw) -> dict:
    """A 64-12-12-10 ReLU network on 60 digits: milliseconds per step."""
    spec = {"model": {"widths": [64, 12, 12, 10]}, "data": {"kind": "digits", "samples": 60}, "steps": 5}
    spec.update(kw)
    return spec

"""Presets: the paper's experiments (and a few beyond it), each a validated spec with an explanation a
teacher can read aloud: what to look at, and what the paper predicts.

``get(name)`` and ``all()`` serve the CLI (``noether presets``, ``noether run --preset``) and the API
(``GET /api/presets``). A preset with a ``sweep`` grid fans out over it (``noether.sweep.expand``).
Step counts are chosen so that each run (each point of a sweep) finishes in seconds to a few minutes
on 2 CPU cores; ``runtime`` is a conservative figure for 2 busy cores (measured under the test suite's
load: fig1-gd took 2 min 10 s, fig1-nd 42 s, fig1-nag 2 min 46 s), what the API's ``runtime_estimate``
falls back to before a run of the preset has measured the speed of this lab's workers (``workers.speed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from noether.spec import ExperimentSpec, parse_spec


@dataclass(frozen=True)
class Preset:
    """One ready-made experiment."""

    name: str
    title: str
    figure: str  # the paper's figure/table/section it reproduces, or "beyond the paper"
    explanation: str  # what the experiment is, in two or three sentences
    look_at: str  # what to watch in the plots
    prediction: str  # what the paper predicts
    spec: ExperimentSpec
    sweep: dict[str, list[Any]] | None = None  # dotted field path -> values
    runtime: str = ""  # rough wall time on 2 CPU cores
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's preset object)."""
        return {
            "name": self.name,
            "title": self.title,
            "figure": self.figure,
            "explanation": self.explanation,
            "look_at": self.look_at,
            "prediction": self.prediction,
            "spec": self.spec.model_dump(mode="json"),
            "sweep": self.sweep,
            "runtime": self.runtime,
            "tags": list(self.tags),
        }


def make(name: str, *, spec: dict[str, Any], **fields: Any) -> Preset:
    """A Preset whose spec is validated now (a broken preset fails at import, not in front of a class)."""
    spec = {"name": name, **spec}
    return Preset(name=name, spec=parse_spec(spec), **fields)


def _registry() -> dict[str, Preset]:
    from noether.presets import beyond, paper

    out: dict[str, Preset] = {}
    for preset in [*paper.PRESETS, *beyond.PRESETS]:
        if preset.name in out:
            raise ValueError(f"duplicate preset name '{preset.name}'")
        out[preset.name] = preset
    return out


_PRESETS: dict[str, Preset] | None = None


def _presets() -> dict[str, Preset]:
    global _PRESETS
    if _PRESETS is None:
        _PRESETS = _registry()
    return _PRESETS


def get(name: str) -> Preset:
    """The preset called ``name``; KeyError names the ones that exist."""
    presets = _presets()
    if name not in presets:
        raise KeyError(f"unknown preset '{name}' (known: {', '.join(presets)})")
    return presets[name]


def all() -> list[Preset]:
    """Every preset, the paper's first."""
    return list(_presets().values())


def names() -> list[str]:
    return list(_presets())

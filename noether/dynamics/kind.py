"""One record per dynamics kind: its (init, step) pair, the flow it discretises, its time map and its names.

A ``DynamicsKind`` is everything the rest of the core knows about a kind: the driver calls ``init`` and
``step``, the laws' ``Context`` reads ``flow(cfg)`` (the continuous flow k2(t) w'' + k1(t) w' + grad L = 0
with its coefficients), the run summary and the form read ``label`` and ``description``, and the spec
validates ``cfg`` with ``config``. ``noether.dynamics`` registers one record per kind (``register``).

The Nesterov friction k1(t) = 3/t is singular at t = 0: ``nesterov_friction`` is +inf there, the one
place that guards it (a run at t0 = 0 never evaluates it there; the laws' rate r = k1/k2 reads 0 where it
is not finite, ``noether.laws.tracking.flow_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from noether.expr import parse_expression

Coefficient = Callable[[float], float]  # t -> k1(t) or k2(t)


def _zero(t: float) -> float:
    return 0.0


def _one(t: float) -> float:
    return 1.0


def nesterov_friction(t: float) -> float:
    """k1(t) = 3/t of NAGF (Su et al. 2014), +inf at t = 0 where it is singular."""
    return 3.0 / t if t > 0 else math.inf


@dataclass(frozen=True)
class Flow:
    """A continuous flow a dynamics discretises: gf (w' = -grad L), or k2(t) w'' + k1(t) w' + grad L = 0."""

    name: str  # "gf", "nd", "nagf", "general", or "none" (no paper flow: Adam)
    k1: Coefficient | None = None  # None for first-order flows
    k2: Coefficient | None = None


GRADIENT_FLOW = Flow("gf")
NEWTONIAN = Flow("nd", _zero, _one)  # w'' + grad L = 0 (eq. 21's flow)
NESTEROV = Flow("nagf", nesterov_friction, _one)  # w'' + (3/t) w' + grad L = 0
NO_FLOW = Flow("none")


def general_flow(k1: str, k2: str) -> Flow:
    """k2(t) w'' + k1(t) w' + grad L = 0 with the spec's expressions of t (eq. 22)."""
    return Flow("general", parse_expression(k1), parse_expression(k2))


def constant_friction(k1: float) -> Flow:
    """w'' + k1 w' + grad L = 0 with a constant k1 (heavy ball)."""
    return Flow("general", lambda t: k1, _one)


@dataclass(frozen=True)
class DynamicsKind:
    """Everything the core knows about one ``dynamics.kind`` of the spec.

    ``init(problem, cfg, params, velocity) -> state`` and ``step(problem, cfg, state, batch) -> (state,
    Observation)`` are the pure pair of ``noether.dynamics.base``; ``flow(cfg)`` is the continuous flow
    that kind discretises for that configuration; ``time`` says how t_k follows from k; ``order`` is the
    declared order of accuracy against the flow (None: not claimed), which tests/core/test_dynamics.py fits.
    """

    name: str  # the spec's dynamics.kind, e.g. "nag"
    config: type  # the pydantic model of its spec section (noether.spec.NAG)
    init: Callable[..., Any]
    step: Callable[..., tuple[Any, Any]]
    flow: Callable[[Any], Flow]  # cfg -> the flow it discretises, with k1(t), k2(t)
    label: str  # readable, e.g. "Nesterov (NAG), eq. 20"
    description: str  # one line, e.g. "Nesterov, eq. 20, discretises NAGF, t = k sqrt(eta)"; "{flow}" is the flow's name
    time: str  # the time map t_k, e.g. "k sqrt(eta)"
    order: int | None = None

    def describe(self, flow: str) -> str:
        """The one-line name of a run's dynamics in its summary, e.g. 'nd (Newtonian dynamics, eq. 21, t = k sqrt(eta))'."""
        return f"{self.name} ({self.description.format(flow=flow)})"

"""Adding a law is one class (in a family module) and one registration: the runner then watches it in every run.

The family below is CONTRIBUTING.md's worked example: gradient flow never raises the loss,
dL/dt = <grad L, w'> = -|grad L|^2 <= 0, so L(w_t) <= L(w_0) (a bound, not a symmetry's law).
"""

from __future__ import annotations

import sys

import pytest

from noether.laws.catalogue import catalogue, register, unregister
from noether.laws.entry import CatalogueEntry
from noether.laws.tracking import TrackedLaw, not_applicable

from .helpers import column, net_spec, run

# ---- the new law: one class, with its catalogue row and its choice per run -------------------------------

ENTRIES = [
    CatalogueEntry(
        id="descent", title="Loss descent", ids=["descent"], symmetry="none: L is a Lyapunov function of the flow",
        condition="flow gf (gd, sgd, rk4 with flow gf)", quantity="L(w_t)",
        predictions={"gf": "L(t) <= L(0)", "nd": "-", "nagf": "-", "general": "-", "none": "-"},
        columns=["descent", "descent:pred"], paper="-", tolerance="1e-9 of the loss's movement",
    )
]


class Descent(TrackedLaw):
    """L(w_t) <= L(w_0) under gradient flow: dL/dt = -|grad L|^2."""

    kind = "bound"  # drift = max(value - prediction, 0)

    def __init__(self, context):
        super().__init__(context, id="descent", family="descent", name="L(w_t)", symmetry="-",
                         prediction="L(t) <= L(0)", default_tolerance=1e-9)
        self.L0 = None

    def measure(self, snap):
        if self.L0 is None:
            self.L0 = snap.loss
        self.track(snap.loss, pred=self.L0, scale=(snap.loss - self.L0).abs(), size=snap.loss.abs())
        return {self.id: snap.loss, self.id + ":pred": self.L0}


def select(spec, structure, context, ws):
    if context.flow != "gf":
        reason = f"only gradient flow is a descent (this run's flow: {context.flow})"
        return [], [not_applicable(context, id="descent", family="descent", name="L(w_t)", symmetry="-", reason=reason)]
    return [Descent(context)], []


# ---- the registration (a family of the lab: noether.laws.catalogue.FAMILIES; undone after the test) -------------------


@pytest.fixture
def descent():
    family = sys.modules[__name__]
    register(family)
    yield family
    unregister(family)


def test_a_registered_law_is_watched_in_every_run_and_listed(descent):
    records, summary, _ = run(net_spec([6, 8, 3], dynamics={"kind": "gd", "lr": 0.05}, steps=40, record_every=4))
    law = summary["descent"]
    assert law.verdict == "holds" and law.dynamics.startswith("gd (")
    loss = column(records, "loss")
    assert list(column(records, "descent")) == list(loss)
    assert set(column(records, "descent:pred")) == {loss[0]} and loss[-1] < loss[0]
    assert any(entry.id == "descent" for entry in catalogue())
    _, summary, _ = run(net_spec([6, 8, 3], dynamics={"kind": "nd", "lr": 0.01}, steps=4))
    assert summary["descent"].verdict == "not applicable" and "flow: nd" in summary["descent"].reason


def test_a_raised_loss_breaks_it(descent):
    """GD past the stability limit 2/lambda on a quadratic raises the loss: the bound is broken."""
    spec = {"potential": {"kind": "quadratic", "eigenvalues": [1.0, 1.0]}, "initial": {"position": [1.0, 1.0]},
            "dynamics": {"kind": "gd", "lr": 2.1}, "steps": 10, "dtype": "float64"}
    _, summary, _ = run(spec)
    assert summary["descent"].verdict == "broken"


def test_unregistered_it_is_gone():
    _, summary, _ = run(net_spec([6, 8, 3], steps=2))
    assert "descent" not in summary and all(entry.id != "descent" for entry in catalogue())

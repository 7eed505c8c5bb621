"""The law catalogue and the runner's choice of laws for a spec (users never wire laws by hand).

Each family module exposes ``ENTRIES`` (its rows of the catalogue) and
``select(spec, structure, context, ws) -> (laws, not_applicable)``; this module only lists them
(``ntk`` is selected by ``energy``, whose velocity bound judges it). Adding a law is one class in a family
module and one ``register`` of that module (CONTRIBUTING.md has a worked example).
"""

from __future__ import annotations

from typing import Any, Protocol

from noether.laws import energy, homogeneity, linear, ntk, rotation, scale, translation, typed
from noether.laws.base import Context, Law
from noether.laws.conditions import make_context
from noether.laws.entry import CatalogueEntry
from noether.laws.workspace import Workspace
from noether.spec import ExperimentSpec
from noether.structure import Structure
from noether.summary import LawSummary


class Family(Protocol):
    """A family of laws: its catalogue rows, and the laws it watches for one run (with the ones that do not apply)."""

    ENTRIES: list[CatalogueEntry]

    def select(
        self, spec: ExperimentSpec, structure: Structure, context: Context, ws: Workspace
    ) -> tuple[list[Law], list[LawSummary]]: ...


FAMILIES: list[Family] = [homogeneity, linear, scale, translation, rotation, typed, energy]  # each has select(); energy also picks ntk_drift
DOCUMENTED: list[Family] = [homogeneity, linear, scale, translation, rotation, typed, energy, ntk]


def register(family: Family) -> Family:
    """Watch ``family``'s laws in every run from now on and list its entries in the catalogue (and docs/laws.md)."""
    if family not in FAMILIES:
        FAMILIES.append(family)
    if family not in DOCUMENTED:
        DOCUMENTED.append(family)
    return family


def unregister(family: Family) -> None:
    """Undo ``register`` (tests that add a family for a while)."""
    for families in (FAMILIES, DOCUMENTED):
        if family in families:
            families.remove(family)


def catalogue() -> list[CatalogueEntry]:
    """Every family of laws, with its symmetry, condition, quantity and prediction per flow."""
    return [entry for family in DOCUMENTED for entry in family.ENTRIES]


def select(
    spec: Any, structure: Structure | None = None, context: Context | None = None, ws: Workspace | None = None
) -> tuple[list[Law], list[LawSummary]]:
    """The laws that apply to ``spec`` (fresh instances for one run) and those that do not, with the reason.

    ``ws``: the run's workspace (the driver shares it with the laws); a fresh one if None.
    """
    if context is None:
        context = make_context(spec, structure)
    if structure is None:
        structure = context.structure
    ws = ws if ws is not None else Workspace()
    laws: list[Law] = []
    not_applicable: list[LawSummary] = []
    for family in FAMILIES:
        found, skipped = family.select(spec, structure, context, ws)
        laws.extend(found)
        not_applicable.extend(skipped)
    return laws, not_applicable

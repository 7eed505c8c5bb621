"""The law catalogue: conservation laws and residual laws of the paper, chosen per spec by the runner.

- ``select(spec, structure, context) -> (laws, not_applicable)``: fresh law instances for one run and
  the laws that do not apply, each with the reason (e.g. "GELU is not homogeneous");
- ``catalogue() -> list[CatalogueEntry]``: every family with its symmetry, condition, quantity and
  prediction per flow (``noether laws``, ``GET /api/laws``, docs/laws.md via ``noether.laws.docs``);
- ``Snapshot``, ``Context``, ``Law``: the contract with the driver loop (``noether.laws.base``);
- ``make_context(spec)``: the Context the driver would build, for validation without a run.
"""

from noether.laws.base import Context, Law, Snapshot
from noether.laws.catalogue import catalogue, select
from noether.laws.conditions import flow_of, make_context
from noether.laws.entry import CatalogueEntry
from noether.summary import LawSummary

__all__ = [
    "CatalogueEntry",
    "Context",
    "Law",
    "LawSummary",
    "Snapshot",
    "catalogue",
    "flow_of",
    "make_context",
    "select",
]

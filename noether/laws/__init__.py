"""The law catalogue: conservation laws and residual laws of the paper, chosen per spec by the runner.

- ``select(spec, structure, context) -> (laws, not_applicable)``: fresh law instances for one run and
  the laws that do not apply, each with the reason (e.g. "GELU is not homogeneous");
- ``catalogue() -> list[CatalogueEntry]``: every family with its symmetry, condition, quantity and
  prediction per flow (``noether laws``, ``GET /api/laws``, docs/laws.md via ``noether.laws.docs``);
- ``Snapshot``, ``Context``, ``Law``, ``Bank``, ``Block``, ``Columns``: the protocol between the driver loop
  and the laws (``noether.laws.base``);
- ``make_context(spec)``: the Context the driver would build, for validation without a run.
"""

from noether.laws.base import Bank, Block, Columns, Context, Law, Snapshot
from noether.laws.catalogue import catalogue, select
from noether.laws.conditions import flow_of, make_context
from noether.laws.entry import CatalogueEntry
from noether.summary import LawSummary

__all__ = [
    "Bank",
    "Block",
    "CatalogueEntry",
    "Columns",
    "Context",
    "Law",
    "LawSummary",
    "Snapshot",
    "catalogue",
    "flow_of",
    "make_context",
    "select",
]

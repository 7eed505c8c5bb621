"""One row of the law catalogue: what a law is, when it applies and what the paper predicts per flow."""

from __future__ import annotations

from pydantic import BaseModel, Field

FLOWS = ("gf", "nd", "nagf", "general", "none")


class CatalogueEntry(BaseModel):
    """A family of laws (e.g. the balance of consecutive layers), instantiated per layer or per run."""

    id: str = Field(..., description="family id, e.g. 'balance'")
    title: str
    ids: list[str] = Field(..., description="the instance ids it produces, e.g. 'balance/h{h}'")
    symmetry: str
    condition: str = Field(..., description="when the runner selects it")
    quantity: str
    predictions: dict[str, str] = Field(..., description="per flow: gf, nd, nagf, general, none")
    columns: list[str] = Field(..., description="series columns of one instance")
    paper: str = Field(..., description="where the paper states it")
    tolerance: str = Field(..., description="default tolerance and how drift is scaled")
    notes: str = ""

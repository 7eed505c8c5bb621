"""``mon.figure()``: the lab's own plotly figures (``dashboard.figures``) built from a monitor's records."""

from __future__ import annotations

from typing import Any

from dashboard import figures as lab_figures


def columns(records: list[dict[str, Any]]) -> dict[str, list]:
    """Records as aligned columns (None where a record lacks a column)."""
    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r))
    return {n: [r.get(n) for r in records] for n in names}


def figures(records: list[dict[str, Any]], summary: Any = None, *, law: str | None = None,
            x_name: str = "step") -> Any:
    """The loss and one chart per law (value, terms, gradient-flow, exact and modified-flow predictions).

    With ``law`` only that law's chart (a ``plotly.graph_objects.Figure``); otherwise a list of figures,
    loss first, then the verdict table as a figure if the summary has laws.
    """
    cols = columns(records)
    laws = {}
    if summary is not None:
        data = summary.model_dump(mode="json") if hasattr(summary, "model_dump") else dict(summary)
        laws = {item["id"]: item for item in data.get("laws", [])}
    ids = [c for c in cols if c not in ("step", "t", "loss") and ":" not in c]
    if law is not None:
        if law not in ids:
            raise KeyError(f"no law '{law}' in this run (laws: {', '.join(ids) or 'none'})")
        ids = [law]
    out = []
    for law_id in ids:
        meta = laws.get(law_id, {})
        out.append(lab_figures.law_figure(cols, law_id, meta.get("name", ""), meta.get("prediction", ""),
                                          x_name=x_name))
    if law is not None:
        return out[0]
    if "loss" in cols:
        out.insert(0, lab_figures.loss_figure(cols, x_name=x_name))
    return out

"""The run page's configuration panel: what ran, where, with which code (from ``GET /api/runs/{id}``).

The API gives the spec as labelled rows (``configuration``: model, data, loss, dynamics with every
coefficient, initial state, steps, seed, dtype, the device asked, code); the record adds the worker that ran
it and the device it ran on. The panel is closed by default (one click opens it), so the charts stay near the top of the page.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, callback, html


def panel(info: dict[str, Any] | None) -> list[Any] | None:
    """The panel's rows (pure, for tests): the API's configuration, then worker and device."""
    if not info or "error" in info:
        return None
    rows = [tuple(r) for r in info.get("configuration") or []]
    if info.get("worker"):
        rows.append(("worker", str(info["worker"])))
    if info.get("device"):
        rows.append(("device used", str(info["device"])))
    if not rows:
        return None
    return [
        html.Summary("Configuration"),
        html.Table(className="config-table", children=[
            html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in rows]),
        ]),
    ]


@callback(Output("run-config", "children"), Input("run-info", "data"), prevent_initial_call=True)  # laid out with it
def show(info):
    return panel(info)

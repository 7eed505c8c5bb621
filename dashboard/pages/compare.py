"""Compare: several runs overlaid on shared axes (GD vs ND vs NAG, seeds, step sizes, widths).

``/compare?ids=a,b,c``. Each run's series comes from the API's envelopes (``?points=``, read from the
levels the workers keep, whatever the run's length), all runs at once: a run of at most ENVELOPE_POINTS
records comes whole, a longer one as min/max envelopes, and the chart says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard import api, figures
from dashboard.series import law_ids, norm_columns

dash.register_page(__name__, path="/compare", name="Compare", title="Compare · Noether Lab", order=3)

ENVELOPE_POINTS = 300  # buckets per run (2 points each: min and max); shorter runs come record by record


async def layout(ids: str | None = None, **_: Any) -> html.Div:
    """The page with its runs read and their chart drawn: no callback round trip before the chart (issue 12 item 4)."""
    chosen = [i for i in (ids or "").split(",") if i]
    runs, options, value, legend = await read_runs(chosen, None)
    return page(ids, chosen, runs, options, value, legend, draw(runs, value, "t", []))


def page(ids: str | None, chosen: list[str], runs: list[dict[str, Any]], options: list[dict[str, str]],
         value: list[str], legend: list, graphs: Any) -> html.Div:
    return html.Div(
        className="compare",
        children=[
            dcc.Store(id="compare-ids", data=chosen),
            dcc.Store(id="compare-data", data=runs),
            html.H1("Compare runs"),
            html.Div(className="toolbar", children=[
                dcc.Input(id="compare-input", value=ids or "", placeholder="run ids, comma-separated",
                          debounce=True, className="input wide"),
                dcc.Dropdown(id="compare-columns", multi=True, placeholder="quantities", className="filter wide",
                             options=options, value=value),
                dcc.RadioItems(id="compare-x", value="t", inline=True,
                               options=[{"label": " physical time t", "value": "t"},
                                        {"label": " step k", "value": "step"}]),
                dcc.Checklist(id="compare-options", value=[], inline=True,
                              options=[{"label": " log y", "value": "log"},
                                       {"label": " log x", "value": "logx"},
                                       {"label": " drift from t = 0", "value": "drift"}]),
            ]),
            html.Div(legend, id="compare-legend", className="hint"),
            dcc.Loading(html.Div(graphs, id="compare-graphs", className="compare-graphs")),
        ],
    )


def columns_from_downsampled(data: dict[str, Any]) -> dict[str, list]:
    """Columns from the API's bucketed series: each bucket drawn as its min and its max (an envelope), or,
    when every record is its own bucket (``downsampled`` false), the records as they are."""
    steps = data.get("step") or []
    if not data.get("downsampled", True):
        return {"step": list(steps)} | {name: list(agg.get("mean") or agg.get("min") or [])
                                         for name, agg in (data.get("columns") or {}).items() if name != "step"}
    cols: dict[str, list] = {"step": []}
    for s in steps:
        cols["step"] += [s, s]
    for name, agg in (data.get("columns") or {}).items():
        lo, hi = agg.get("min") or agg.get("mean") or [], agg.get("max") or agg.get("mean") or []
        merged: list = []
        for a, b in zip(lo, hi, strict=False):
            merged += [a, b]
        if name == "step":
            continue
        cols[name] = merged
    return cols


FIELDS = (("lr", lambda s: (s.get("dynamics") or {}).get("lr")),
          ("dt", lambda s: (s.get("dynamics") or {}).get("dt")),
          ("width", lambda s: max(((s.get("model") or {}).get("widths") or [0, 0, 0])[1:-1] or [0])),
          ("seed", lambda s: s.get("seed")))


def ordered(runs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str | None]]:
    """The runs sorted by the first numeric field that varies between them (lr, dt, width, seed) and their
    colours: along one sequential scale when such a field exists (small values dark), else the palette."""
    specs = [r.get("spec") or {} for r in runs]
    for _, get in FIELDS:
        values = [get(s) for s in specs]
        if all(isinstance(v, int | float) for v in values) and len(set(values)) > 1:
            pairs = sorted(zip(values, range(len(runs)), strict=True))
            runs = [runs[i] for _, i in pairs]
            return runs, figures.sequential_colours(len(runs))
    return runs, [None] * len(runs)


def run_label(run: dict[str, Any], others: list[dict[str, Any]]) -> str:
    """A short label that tells the runs apart: dynamics, lr, seed, widths where they differ."""
    spec = run.get("spec") or {}
    dyn = spec.get("dynamics") or {}
    parts = [str(dyn.get("kind", run.get("dynamics", "?")))]
    specs = [o.get("spec") or {} for o in others]
    for key, get in (("lr", lambda s: (s.get("dynamics") or {}).get("lr")),
                     ("dt", lambda s: (s.get("dynamics") or {}).get("dt")),
                     ("seed", lambda s: s.get("seed")),
                     ("widths", lambda s: "-".join(map(str, (s.get("model") or {}).get("widths") or [])) or None)):
        values = {str(get(s)) for s in specs}
        if len(values) > 1 or key in ("lr", "dt") and get(spec) is not None:
            if get(spec) is not None:
                parts.append(f"{key}={get(spec)}")
    return " ".join(parts) + f" ({run['id'][:8]})"


@callback(
    Output("compare-ids", "data"),
    Input("compare-input", "value"),
    prevent_initial_call=True,
)
def set_ids(text):
    return [i.strip() for i in (text or "").split(",") if i.strip()]


@callback(
    Output("compare-data", "data"),
    Output("compare-columns", "options"),
    Output("compare-columns", "value"),
    Output("compare-legend", "children"),
    Input("compare-ids", "data"),
    State("compare-columns", "value"),
    prevent_initial_call=True,  # the page is laid out with its runs (layout)
)
async def load(ids, chosen):
    """Another set of runs typed in: read them (the page's own were read when it was laid out)."""
    return await read_runs(list(ids or []), chosen)


async def read_runs(ids: list[str], chosen: list[str] | None) -> tuple[list[dict[str, Any]], list[dict[str, str]],
                                                                       list[str], list]:
    """Each run's record and series (whole, or as envelopes when long), every run at once: the runs to draw,
    the quantities they share (options and the ones chosen) and the legend above the chart."""
    records = await asyncio.gather(*(api.get(f"/runs/{run_id}") for run_id in ids))
    series = await asyncio.gather(*(api.downsampled(run_id, ENVELOPE_POINTS) if res.ok else _none()
                                    for run_id, res in zip(ids, records, strict=True)))
    runs, missing, data = [], [], {}
    for run_id, res, got in zip(ids, records, series, strict=True):
        if not res.ok:
            missing.append(f"{run_id}: {res.message()}")
            continue
        runs.append(res.data)
        data[res.data["id"]] = got
    runs, colours = ordered(runs)
    names = [r.get("name") for r in runs]
    out = []
    for run, colour in zip(runs, colours, strict=True):
        cols = columns_from_downsampled(data.get(run["id"]) or {})
        name = run.get("name")
        label = name if name and names.count(name) == 1 else run_label(run, runs)
        out.append({"id": run["id"], "label": label, "columns": cols, "color": colour,
                    "envelope": bool((data.get(run["id"]) or {}).get("downsampled"))})
    common: list[str] = []
    for r in out:
        for c in ["loss", *law_ids(r["columns"]), *norm_columns(r["columns"])]:
            if c in r["columns"] and c not in common:
                common.append(c)
    value = [c for c in (chosen or []) if c in common] or common[:4]
    legend = ["Comparing: " + "; ".join(r["label"] for r in out)] if out else ["Select runs on the Runs page."]
    long = [r["label"] for r in out if r["envelope"]]
    if long:
        legend.append(html.Div(f"Drawn as min/max envelopes of {ENVELOPE_POINTS} buckets (every spike kept): "
                               + "; ".join(long), className="hint", id="compare-envelope-note"))
    if missing:
        legend.append(html.Div("Not found: " + "; ".join(missing), className="error"))
    return out, [{"label": c, "value": c} for c in common], value, legend


async def _none() -> None:
    return None


@callback(
    Output("compare-graphs", "children"),
    Input("compare-data", "data"),
    Input("compare-columns", "value"),
    Input("compare-x", "value"),
    Input("compare-options", "value"),
    prevent_initial_call=True,  # drawn when the page is laid out
)
def draw(runs, columns, x_name, options):
    """One overlay per quantity; every chart shares the x axis (zoom one, all follow)."""
    if not runs:
        return html.P("Nothing to compare yet.", className="hint")
    options = options or []
    if not columns:
        return html.P("Choose the quantities to compare.", className="hint")
    fig = figures.compare_grid(runs, columns, x_name=x_name or "t", log_y="log" in options,
                               log_x="logx" in options, drift="drift" in options)
    return dcc.Graph(id="compare-graph", figure=fig, config={"displaylogo": False}, style={"width": "100%"})

"""A sweep's analysis: its runs by swept value, and each law's error against the swept parameter.

``/sweeps/<group>``. A sweep is the runs that share a group id (``POST /api/sweeps``). The swept fields
are the spec fields whose values differ between its runs. For each law with a prediction, each run gives
its error, the largest |Q - prediction| over the window of time that every run covers (``noether.scaling``),
drawn against the swept value on log-log axes with the fitted slope beside the slope the theory expects
(GD's distance from the flow's constants: slope 1). Runs are ordered by swept value and coloured along one
sequential scale, in the table, the fits and the overlays alike.
"""

from __future__ import annotations

import math
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dash_table, dcc, html, no_update

from dashboard import api, figures

dash.register_page(__name__, path_template="/sweeps/<group>", name="Sweep", title="Sweep · Noether Lab", order=5,
                   nav=False)

MAX_RUNS = 256
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}
TERMINAL = ("succeeded", "failed", "cancelled", "diverged")
ROUNDING = 1e-12  # an error below this is rounding, not a law's order
RESIDUALS = ("residual", "rotation_residual")  # zero at every step: what is left is rounding


def layout(group: str | None = None, **_: Any) -> html.Div:
    return html.Div(
        className="sweep",
        children=[
            dcc.Store(id="sweep-group", data=group),
            dcc.Store(id="sweep-data"),
            dcc.Interval(id="sweep-tick", interval=3000),
            html.H1(f"Sweep {group}" if group else "Sweep", id="sweep-title"),
            html.Div(id="sweep-summary", className="hint"),
            html.Div(id="sweep-table"),
            html.H2("Each law's error against the swept value"),
            html.P(
                "Error: the largest |Q(t) - prediction(t)| over the time every run of the sweep covers. On"
                " log-log axes a power law error ~ value^p is a straight line of slope p; the dashed line is"
                " the least-squares fit, and the title sets its slope beside the one the theory expects.",
                className="hint"),
            html.Div(id="sweep-fits", className="sweep-fits"),
            html.H2("Overlays"),
            html.Div(className="toolbar", children=[
                dcc.Dropdown(id="sweep-law", placeholder="law", className="filter wide", clearable=False),
                dcc.Checklist(id="sweep-log", value=["log"], inline=True,
                              options=[{"label": " log |Q - prediction|", "value": "log"}]),
            ]),
            html.Div(id="sweep-overlay"),
        ],
    )


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "-".join(str(v) for v in value)
    if isinstance(value, dict):
        return value.get("kind", str(value))
    return str(value)


@callback(
    Output("sweep-data", "data"),
    Output("sweep-tick", "disabled"),
    Input("sweep-group", "data"),
    Input("sweep-tick", "n_intervals"),
)
async def load(group, _tick):
    """The API's analysis of the sweep (``GET /api/sweeps/{group}``), re-read until every run has ended."""
    if not group:
        return {"error": "No sweep given: open a sweep from the Runs page or after 'Launch sweep'."}, True
    res = await api.get(f"/sweeps/{group}")
    if not res.ok:
        return {"error": f"Sweep {group}: {res.message()}"}, True
    done = all(r["record"].get("status") in TERMINAL for r in res.data["runs"])
    series: dict[str, dict[str, list]] = {}
    if res.data["fits"]:
        laws = [f["id"] for f in res.data["fits"]]
        for run in res.data["runs"]:
            if run["record"].get("status") in TERMINAL:
                series[run["id"]] = await _series(run["id"], laws)
    return {**res.data, "series": series}, done


async def _series(run_id: str, laws: list[str]) -> dict[str, list]:
    """t, each law and its prediction, for every record of the run (only the columns it records)."""
    first = await api.get(f"/runs/{run_id}/series", limit=1)
    if not first.ok or not first.data.get("records"):
        return {}
    known = set(first.data["records"][0])
    wanted = [c for law in laws for c in (law, f"{law}:pred") if c in known]
    records = await api.all_records(run_id, columns=",".join(["t", *wanted]))
    return {c: [r.get(c) for r in records] for c in ["t", *wanted]}


def fit_figure(entry: dict[str, Any], main: str, run_colour: dict[str, str]) -> go.Figure:
    """One law's error against the swept value on log-log axes, with the fitted line and the slopes."""
    pts = [p for p in entry["points"] if p["x"] and p["error"] and p["x"] > 0 and p["error"] > 0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p["x"] for p in pts], y=[p["error"] for p in pts], mode="markers", name="runs",
                             marker=dict(size=11, color=[run_colour.get(p["id"], "#444") for p in pts],
                                         line=dict(width=1, color="#222")),
                             hovertemplate=f"{main} = %{{x:.4g}}<br>error %{{y:.3e}}<extra></extra>"))
    fit = entry.get("fit")
    if fit and pts:
        xs = sorted(p["x"] for p in pts)
        ys = [math.exp(fit["intercept"]) * x ** fit["slope"] for x in xs]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"fit: slope {fit['slope']:.2f}",
                                 line=dict(dash="dash", color="#c0392b", width=2)))
        if entry.get("expected") is not None:
            mid = xs[len(xs) // 2]
            y_mid = math.exp(fit["intercept"]) * mid ** fit["slope"]
            ref = [y_mid * (x / mid) ** entry["expected"] for x in xs]
            fig.add_trace(go.Scatter(x=xs, y=ref, mode="lines", name=f"expected slope {entry['expected']:g}",
                                     line=dict(dash="dot", color="#7f8c8d", width=2)))
    rounding = bool(pts) and (max(p["error"] for p in pts) < ROUNDING or entry.get("family") in RESIDUALS
                              or bool(entry.get("rounding")))
    if rounding:
        fig.data = fig.data[:1]  # errors at rounding level: no trend to draw
    slope = ("zero at every step, only rounding is left: no trend to fit" if rounding else
             f"fitted slope {fit['slope']:.2f}" if fit else "no fit (needs two positive errors)")
    expected = f"expected {entry['expected']:g}" if entry.get("expected") is not None else "no power law expected"
    fig.update_layout(
        title=dict(text=f"{entry['name']}: {slope}, {expected}", font=dict(size=14)),
        xaxis=dict(type="log", title=main, exponentformat="power"),
        yaxis=dict(type="log", title="max |Q - prediction|", exponentformat="power"),
        height=340, margin=dict(l=70, r=20, t=50, b=50), template="plotly_white",
        legend=dict(orientation="h", yanchor="bottom", y=-0.45, x=0),
    )
    return fig


def _floats(values: list[Any]) -> list[float]:
    return [float(v) if isinstance(v, int | float) else math.nan for v in values]


def _loss(rec: dict[str, Any]) -> str:
    loss = (rec.get("summary") or {}).get("loss_final")
    return f"{loss:.4g}" if isinstance(loss, int | float) else "-"


def _name(run: dict[str, Any]) -> str:
    rec = run["record"]
    return rec.get("name") or rec.get("preset") or run["id"][:8]


@callback(
    Output("sweep-summary", "children"),
    Output("sweep-table", "children"),
    Output("sweep-fits", "children"),
    Output("sweep-law", "options"),
    Output("sweep-law", "value"),
    Output("sweep-title", "children"),
    Input("sweep-data", "data"),
)
def draw(a):
    """The table of runs by swept value and one log-log fit per law; the page's title says what was swept."""
    if not a or a.get("error"):
        return html.Div((a or {}).get("error", "Loading..."), className="error"), None, None, [], None, no_update
    runs, main = a["runs"], a["main"]
    run_colour = {r["id"]: c for r, c in zip(runs, figures.sequential_colours(len(runs)), strict=True)}
    swept = a["paths"] or ["(no field differs)"]
    done = sum(r["record"].get("status") in TERMINAL for r in runs)
    window = f"common window t <= {a['t_end']:.4g}" if a["t_end"] is not None else "no run has ended yet"
    summary = html.Div([
        html.Span(f"{len(runs)} runs of {a['dynamics']} over {', '.join(swept)}; {done} ended; {window}. "),
        dcc.Link("Compare these runs", href="/compare?ids=" + ",".join(r["id"] for r in runs)),
        html.Span(" · "),
        dcc.Link("Runs table", href=f"/runs?group={a['group']}"),
    ])
    rows = []
    for r in runs:
        rec = r["record"]
        row = {"value": _value_text(r.get("value")), "run": f"[{_name(r)}](/runs/{r['id']})",
               "status": rec.get("status", "?"),
               "final loss": _loss(rec),
               "worst verdict": r.get("worst_verdict") or "-"}
        rows.append(row)
    table = dash_table.DataTable(
        id="sweep-runs",
        columns=[{"name": main or "value", "id": "value"}, {"name": "run", "id": "run", "presentation": "markdown"},
                 {"name": "status", "id": "status"}, {"name": "final loss", "id": "final loss"},
                 {"name": "worst verdict", "id": "worst verdict"}],
        data=rows, sort_action="native", markdown_options={"link_target": "_self"},
        style_cell={"textAlign": "left", "fontSize": "0.9em", "padding": "4px 8px"},
        style_data_conditional=[{"if": {"row_index": i, "column_id": "value"}, "borderLeft": f"6px solid {c}"}
                                for i, c in enumerate(run_colour.values())],
    )
    if main is None:
        fits = html.P("Every run has the same spec: there is no swept value to put on an axis.", className="hint")
    elif not a["fits"]:
        fits = html.P("No law with a prediction has ended in every run yet.", className="hint")
    else:
        fits = [html.Div(className="sweep-fit", **{"data-law": f["id"],
                                                     "data-slope": "" if not f["fit"] else f"{f['fit']['slope']:.6f}"},
                         children=[dcc.Graph(figure=fit_figure(f, main, run_colour), config=GRAPH_CONFIG),
                                   html.P(f["reason"], className="hint")])
                for f in a["fits"]]
    options = [{"label": f["name"], "value": f["id"]} for f in a["fits"]]
    values = ", ".join(dict.fromkeys(_value_text(r.get("value")) for r in runs))
    title = f"Sweep of {main} over {values}" if main and values else f"Sweep {a.get('group', '')}".strip()
    return summary, table, fits, options, (options[0]["value"] if options else None), title


@callback(
    Output("sweep-overlay", "children"),
    Input("sweep-data", "data"),
    Input("sweep-law", "value"),
    Input("sweep-log", "value"),
)
def overlay(a, law, log):
    """|Q - prediction| against t for every run of the sweep, legend in swept order, one sequential scale."""
    if not a or a.get("error") or not law:
        return None
    fig = go.Figure()
    for run, colour in zip(a["runs"], figures.sequential_colours(len(a["runs"])), strict=True):
        cols = (a.get("series") or {}).get(run["id"]) or {}
        if law not in cols or f"{law}:pred" not in cols:
            continue
        err = [abs(v - p) if math.isfinite(v - p) else None
               for v, p in zip(_floats(cols[law]), _floats(cols[f"{law}:pred"]), strict=True)]
        label = f"{a['main']} = {_value_text(run.get('value'))}" if a["main"] else run["id"][:8]
        fig.add_trace(go.Scatter(x=cols["t"], y=err, mode="lines", name=label, line=dict(color=colour, width=2)))
    name = next((f["name"] for f in a["fits"] if f["id"] == law), law)
    fig.update_layout(title=f"|Q - prediction| of {name}", template="plotly_white", height=380,
                      xaxis=dict(title="physical time t"),
                      yaxis=dict(type="log" if "log" in (log or []) else "linear", exponentformat="power",
                                 title="|Q - prediction|"),
                      legend=dict(traceorder="normal"), margin=dict(l=70, r=20, t=50, b=50))
    if a["t_end"] is not None:
        fig.add_vline(x=a["t_end"], line=dict(dash="dot", color="#888"), annotation_text="common window ends")
    return dcc.Graph(id="sweep-overlay-graph", figure=fig, config=GRAPH_CONFIG)

"""One run, live: trajectory, loss, each law beside its prediction, balance diagnostics, verdicts.

The charts are laid out here from the pure builders (empty, with ``meta.live`` on each trace);
``assets/live-*.js`` streams the records into them (``run-live`` is its report back to Dash: the columns
and views it has seen, the frame count for the replay slider, whether the stream is done). Every
clientside function is in the ``dash_clientside.noether`` namespace (``assets/live-5-bridge.js``).
Status, progress, ETA and the verdict table come from the run record, polled once a second.
"""

from __future__ import annotations

import asyncio
import functools
import re
from typing import Any

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard import api, config_panel, export, figures, playground  # noqa: F401 (config_panel registers its callback)
from dashboard.mathtext import to_markdown
from dashboard.series import duration_seconds, eta_seconds, format_seconds, law_ids, norm_columns
from dashboard.specurl import launch_href

dash.register_page(__name__, path_template="/runs/<run_id>", name="Run", title="Run · Noether Lab", order=2)

TERMINAL = ("succeeded", "failed", "cancelled", "diverged")
GRAPH_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


async def layout(run_id: str | None = None, **_: Any) -> html.Div:
    """The run page, with the run record, its preset and its charts already in: no callback round trip before
    the charts are drawn (issue 12 item 4)."""
    info, preset, first = await first_info(run_id)
    live = live_of(run_id, first) if run_id and first else None
    charts = key = None
    if live is not None:
        charts = await charts_of(live, info, True, preset)  # the log loss axis is on by default (run-log)
        key = graph_key(live, info, preset)
    return page(run_id, info, preset, charts, key)


async def first_info(run_id: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None,
                                                  dict[str, Any] | None]:
    """The run record, its preset's texts and its first record as the page's first state; the record is
    {"error", "status_code"} where it cannot be read, the others None (the page's callbacks then fetch them)."""
    if not run_id:
        return None, None, None
    res, head = await asyncio.gather(api.get(f"/runs/{run_id}"), api.get(f"/runs/{run_id}/series", limit=1))
    if not res.ok or not isinstance(res.data, dict):
        return {"error": res.message(), "status_code": res.status}, None, None
    records = (head.ok and isinstance(head.data, dict) and head.data.get("records")) or []
    return res.data, await preset_of(res.data), (records[0] if records and isinstance(records[0], dict) else None)


def live_of(run_id: str, first: dict[str, Any]) -> dict[str, Any]:
    """What the page's stream will report in run-live once it holds this record (assets/live-2-store.js
    ``summary``): its number columns, its views with their shapes, and the key of that set."""
    columns = [k for k, v in first.items() if not isinstance(v, list)]
    views = {k: [len(v), len(v[0])] if v and isinstance(v[0], list) else [len(v)]
             for k, v in first.items() if isinstance(v, list)}
    return {"run": run_id, "columns": columns, "views": views,
            "key": ",".join(sorted(columns)) + "|" + ",".join(sorted(views))}


def graph_key(live: dict[str, Any], info: dict[str, Any] | None, preset: dict[str, Any] | None) -> str:
    """The charts' layout key as the page's ``graph_key`` (assets/live-5-bridge.js) computes it: the charts
    laid out with the page are kept when the stream reports the same columns, views and laws."""
    laws = sorted(law.get("id") or "" for law in ((info or {}).get("summary") or {}).get("laws") or [])
    return f"{live['run']}|{live.get('key') or ''}|{','.join(laws)}|{(preset or {}).get('name') or ''}"


def page(run_id: str | None, info: dict[str, Any] | None, preset: dict[str, Any] | None,
         charts: list | None = None, key: str | None = None) -> html.Div:
    """The page as its callbacks would draw it from the record and the preset: they need not run when it loads
    (each answer costs a server round trip and a pass of Dash's renderer over the page; issue 12 item 4)."""
    (status, status_class, progress, progress_text, eta, reason, cancel_disabled, cancel_hidden, title, verdicts,
     page_class) = show_info(info, preset, run_id)
    if verdicts is no_update:
        verdicts = html.P("The verdicts appear when the run ends.", className="hint")
    href, play_hidden, sliders = show_controls(info, None)
    if href is no_update:
        href, play_hidden, sliders = "/", True, []
    exports = export_links(run_id) if run_id else ("",) * 7
    csv, parquet, spec_json, png, svg, pdf, zip_ = exports
    return html.Div(
        id="run-page",
        className=page_class,
        **{"data-run": run_id or ""},
        children=[
            dcc.Store(id="run-id", data=run_id),
            dcc.Store(id="run-info", data=info),
            dcc.Store(id="run-live"),
            dcc.Store(id="run-graph-key", data=key),
            dcc.Store(id="run-preset", data=preset),
            dcc.Store(id="run-play-last"),
            # polls the record while the run goes on (not for one that had ended when the page was laid out)
            dcc.Interval(id="run-tick", interval=1000, disabled=settled(info)),
            dcc.Interval(id="run-play-tick", interval=120, disabled=True),
            html.Div(className="run-head", children=[
                html.H1(id="run-title", children=title),
                html.Span(run_id or "", id="run-id-text", className="run-id hint", title="run id"),
                html.Span(status, id="run-status", className=status_class),
                html.Button("Cancel", id="run-cancel", className="btn btn-danger", disabled=cancel_disabled,
                            hidden=cancel_hidden),
                dcc.Link("Edit and re-run", id="run-edit", href=href, className="btn",
                         title="open this run's spec in the launch form"),
                html.Span(id="run-cancel-msg", className="hint"),
            ]),
            html.Div(story(preset), id="run-story", className="run-story"),
            html.Div(className="run-progress", children=[
                html.Progress(id="run-progress", max=1, value=progress),
                html.Span(progress_text, id="run-progress-text", className="hint"),
                html.Span(eta, id="run-eta", className="hint"),
            ]),
            html.Div(reason, id="run-reason", className="errors"),
            html.Div(id="run-lag", className="lag"),
            html.Details(config_panel.panel(info), id="run-config", className="run-config", open=False),
            html.Div(className="toolbar", children=[
                dcc.Checklist(id="run-log", options=[{"label": " log loss axis", "value": "log"}], value=["log"],
                              inline=True),
                html.A("Open in Compare", id="run-compare", href=f"/compare?ids={run_id}" if run_id else "/compare",
                       className="btn btn-light", title="overlay with other runs; log x and log y axes"),
                html.Span("Export:", className="hint"),
                html.A("CSV", id="run-export-csv", href=csv, className="btn btn-light", target="_blank",
                       title=export.CSV_NOTE),
                html.A("Parquet", id="run-export-parquet", href=parquet, className="btn btn-light", target="_blank"),
                html.A("Spec (JSON)", id="run-export-spec", href=spec_json, className="btn btn-light", target="_blank"),
                # one composed figure (every chart, the 3D view, the verdicts), drawn on the server (dashboard/export*.py)
                html.A("Figure PNG (300 dpi)", id="run-export-png", href=png, className="btn btn-light", download="",
                       title=f"every chart, the 3D view and the verdict table, {export.WIDTH_IN:g} in wide at {export.DPI} dpi"),
                html.A("SVG", id="run-export-svg", href=svg, className="btn btn-light", download=""),
                html.A("PDF", id="run-export-pdf", href=pdf, className="btn btn-light", download=""),
                html.A("All (zip)", id="run-export-zip", href=zip_, className="btn btn-light", download="",
                       title="spec, summary, series (Parquet and CSV), the figure as PNG, SVG and PDF, a README"),
                html.Span(export.CSV_NOTE, id="run-export-note", className="hint"),
                html.Span(id="run-live-text", className="hint"),
            ]),
            html.Div(className="replay", children=[
                html.Button("Play", id="run-play", className="btn"),
                html.Div(dcc.Slider(id="run-slider", min=0, max=1, step=1, value=None, marks=None,
                                    updatemode="drag", allow_direct_input=False), className="slider"),
                html.Span(id="run-frame-text", className="hint"),
            ]),
            play_panel(play_hidden, sliders),
            html.Div(charts or [html.P("Waiting for the first records…", className="hint")], id="run-graphs",
                     className="graphs"),
            # loads plotly.js for the live charts (they are drawn by assets/live-*.js, not by dcc.Graph); their
            # formulas are Plotly's rich text (assets/present.js), not MathJax
            dcc.Graph(id="run-plotly-loader", figure={"data": [], "layout": {}}, style={"display": "none"}),
            html.H2("Verdicts"),
            html.Div(id="run-verdicts", children=verdicts),
        ],
    )


def settled(info: dict[str, Any] | None) -> bool:
    """The record will not change: the run has ended and its summary is in, or it does not exist."""
    if not info:
        return False
    if "error" in info:
        return info.get("status_code") == 404
    return info.get("status") in TERMINAL and info.get("summary") is not None


@callback(
    Output("run-info", "data"),
    Output("run-tick", "disabled"),
    Input("run-tick", "n_intervals"),
    State("run-id", "data"),
    State("run-info", "data"),
    prevent_initial_call=True,  # the page is laid out with the record (layout): its callbacks need not wait for this
)
async def poll(_n, run_id, previous):
    """The run record, once a second until the run has ended and its summary is in."""
    if not run_id:
        return None, True
    res = await api.get(f"/runs/{run_id}")
    if not res.ok:
        return {"error": res.message(), "status_code": res.status}, res.status == 404
    info = res.data
    done = settled(info)
    if previous == info or (previous and previous.get("status") == info.get("status")
                            and previous.get("progress") == info.get("progress")
                            and previous.get("summary") == info.get("summary") and not done):
        info = no_update  # the page was laid out with this record, or nothing a reader sees has changed
    return info, done


def status_view(info: dict[str, Any] | None) -> dict[str, Any]:
    """Texts of the header: status, progress, ETA, reason (pure, for tests)."""
    if not info:
        return {"status": "loading", "progress": 0, "progress_text": "", "eta": "", "reason": "", "cancellable": False}
    if "error" in info:
        return {"status": "not found" if info.get("status_code") == 404 else "error", "progress": 0,
                "progress_text": "", "eta": "", "reason": info["error"], "cancellable": False}
    status = info.get("status", "?")
    progress = float(info.get("progress") or 0.0)
    step, steps = info.get("step"), info.get("steps")
    text = f"step {step:,} of {steps:,}" if isinstance(step, int) and isinstance(steps, int) else f"{progress:.0%}"
    if status == "running":
        eta = f"ETA {format_seconds(eta_seconds(progress, info.get('started_at')))}"
    elif status in TERMINAL:
        eta = f"took {format_seconds(duration_seconds(info.get('started_at'), info.get('finished_at')))}"
    else:
        eta = "waiting for a worker"
    return {"status": status, "progress": progress if status != "succeeded" else 1.0, "progress_text": text,
            "eta": eta, "reason": info.get("reason") or "", "cancellable": status in ("queued", "running")}


@callback(
    Output("run-status", "children"),
    Output("run-status", "className"),
    Output("run-progress", "value"),
    Output("run-progress-text", "children"),
    Output("run-eta", "children"),
    Output("run-reason", "children"),
    Output("run-cancel", "disabled"),
    Output("run-cancel", "hidden"),  # a finished run has nothing to cancel: no button
    Output("run-title", "children"),
    Output("run-verdicts", "children"),
    Output("run-page", "className"),
    Input("run-info", "data"),
    Input("run-preset", "data"),
    State("run-id", "data"),
    prevent_initial_call=True,  # the layout is drawn with it (page)
)
def show_info(info, preset, run_id):
    v = status_view(info)
    title = run_title(info, preset)
    summary = (info or {}).get("summary")
    verdicts = verdict_table(summary) if summary else no_update
    missing = v["status"] == "not found"  # no series, exports or replay to show: only the message
    reason = [v["reason"], " ", dcc.Link("See the runs", href="/runs")] if missing else v["reason"]
    return (v["status"], f"status status-{v['status'].replace(' ', '-')}", v["progress"], v["progress_text"], v["eta"],
            reason, not v["cancellable"], not v["cancellable"], title, verdicts, "run run-missing" if missing else "run")


def run_title(info: dict[str, Any] | None, preset: dict[str, Any] | None) -> str:
    """The header: the preset's title (the run id stays beside it, small), else the run's name, else 'Run'."""
    if preset and preset.get("title"):
        return preset["title"]
    if info and (info.get("name") or info.get("preset")):
        return str(info.get("name") or info.get("preset"))
    return "Run"


@callback(
    Output("run-preset", "data"),
    Input("run-info", "data"),
    State("run-preset", "data"),
    prevent_initial_call=True,  # laid out with the page; fetched here when the record came later (by the poll)
)
async def load_preset(info, current):
    """The preset the run came from (its title, what to look at, the prediction), fetched once."""
    if current is not None or not info or "error" in info:
        return no_update
    return await preset_of(info)


async def preset_of(info: dict[str, Any]) -> dict[str, Any]:
    """The texts of the preset a run record names ({} for a run of no preset, or one the lab no longer has)."""
    name = info.get("preset") or info.get("name")
    if not name:
        return {}
    res = await api.get("/presets")
    items = (res.data if isinstance(res.data, list) else (res.data or {}).get("items", [])) if res.ok else []
    match = next((p for p in items if p.get("name") == name), None)
    return {k: match.get(k) for k in ("name", "title", "figure", "look_at", "prediction")} if match else {}


def story(preset: dict[str, Any] | None) -> list:
    """The card's "Look at" and "Prediction", typeset (MathJax), for the run page."""
    if not preset:
        return []
    out = []
    for key, label in (("look_at", "Look at: "), ("prediction", "Prediction: ")):
        if preset.get(key):
            out.append(html.Div([html.B(label), dcc.Markdown(to_markdown(preset[key]), mathjax=True,
                                                             className="math inline-md")],
                                className=f"card-text story-{key.replace('_', '-')}", id=f"run-story-{key.replace('_', '-')}"))
    return out


@callback(Output("run-story", "children"), Input("run-preset", "data"), prevent_initial_call=True)
def show_story(preset):
    """Look at / Prediction of the run's preset (typeset)."""
    return story(preset)


@callback(
    Output("run-edit", "href"),
    Output("run-play-box", "hidden"),
    Output("run-play-sliders", "children"),
    Input("run-info", "data"),
    State("run-edit", "href"),
    prevent_initial_call=True,  # the layout is drawn with it (page)
)
def show_controls(info, current_href):
    """The "Edit and re-run" link (the run's own spec in the form) and, for potential runs, the sliders.

    The spec never changes during a run: the run record's polls leave them alone."""
    spec = dict((info or {}).get("spec") or {})
    if not spec:
        return no_update, no_update, no_update
    href = launch_href(spec)
    if href == current_href:
        return no_update, no_update, no_update
    play = playground.applies(spec)
    return href, not play, [slider_component(s) for s in playground.sliders(spec)] if play else []


def slider_component(s: dict[str, Any]) -> html.Div:
    return playground.slider_component(s)  # a slider and its number box (Enter reruns)


def play_panel(hidden: bool = True, sliders: list | None = None) -> html.Div:
    """What if? Sliders that re-run a potential run at once (POST /api/preview), previous result faint."""
    return html.Details(id="run-play-box", className="play", hidden=hidden, children=[
        html.Summary([html.B("What if? "), html.Span("sliders that re-run this toy at once", className="hint")],
                     id="run-play-open"),
        html.P("Drag a slider: the run is simulated again at once over the same physical time, and the charts "
               "draw the new result over the previous one (faint).", className="hint"),
        html.Div(sliders or [], id="run-play-sliders", className="play-sliders"),
        html.Div(id="run-play-text", className="hint"),
        html.Div(className="graphs", children=[
            html.Div(dcc.Graph(id="run-play-path", config=GRAPH_CONFIG, mathjax=True), className="graph graph-3d"),
            html.Div(dcc.Graph(id="run-play-lines", config=GRAPH_CONFIG, mathjax=True), className="graph"),
        ]),
    ])


@callback(
    Output("run-play-path", "figure"),
    Output("run-play-lines", "figure"),
    Output("run-play-last", "data"),
    Output("run-play-text", "children"),
    Input({"type": "run-play", "name": ALL}, "value"),
    Input("run-play-open", "n_clicks"),
    State({"type": "run-play", "name": ALL}, "id"),
    State("run-info", "data"),
    State("run-play-last", "data"),
    State("app-present", "data"),
    prevent_initial_call=True,  # nothing to simulate before the panel is opened
)
async def play(values, opened, ids, info, last, present):
    """Simulate the run's spec with the sliders' values (the backend's preview) and draw it over the last result.

    Only once the panel has been opened: a closed panel costs the page no simulation and no 3D scene (it was a
    second of the run page's load). Closing and opening it again keeps what it shows."""
    spec = (info or {}).get("spec") or {}
    if not ids or not playground.applies(spec) or not opened:
        return no_update, no_update, no_update, no_update
    if ctx.triggered_id == "run-play-open" and last:
        return no_update, no_update, no_update, no_update
    chosen = {i["name"]: v for i, v in zip(ids, values, strict=True)}
    res = await api.post("/preview", {"spec": playground.play_spec(spec, chosen)})
    if not res.ok:
        return no_update, no_update, no_update, html.Span(f"Could not simulate: {res.message()}", className="error")
    current = dict(res.data, label=playground.describe(chosen, spec))
    path, lines = playground.figures(current, last, present=bool(present))
    text = f"now: {current['label']} ({current.get('steps', 0):,} steps, {current.get('status')}). " \
        + playground.verdict_line(current)
    return path, lines, current, text


def verdict_table(summary: dict[str, Any]) -> html.Div:
    """The run summary's verdicts, one law per row."""
    rows = figures.verdict_rows(summary)
    if not rows:
        return html.P("No law of the catalogue applies to this run.", className="hint")
    cols = ["law", "symmetry", "prediction", "initial", "final", "max rel. drift", "tolerance", "verdict", "why"]
    head = html.Tr([html.Th(c) for c in cols])
    body = [html.Tr([html.Td(r[c], className=f"verdict-{r['verdict'].replace(' ', '-')}" if c == "verdict" else None)
                     for c in cols], id=f"run-verdict-{i}") for i, r in enumerate(rows)]
    loss = []
    if summary.get("loss_final") is not None:
        loss = [html.P(f"Loss: {summary.get('loss_initial', 0):.4g} → {summary['loss_final']:.4g} "
                       f"(best {summary.get('loss_best') or summary['loss_final']:.4g}); "
                       f"{summary.get('steps_done', 0):,} steps at {summary.get('steps_per_s', 0):,.0f} steps/s "
                       f"on {summary.get('device', '?')}.", className="hint")]
    return html.Div([html.Table([html.Thead(head), html.Tbody(body)], className="table verdicts", id="run-verdict-table"),
                     *loss])


@callback(
    Output("run-export-csv", "href"),
    Output("run-export-parquet", "href"),
    Output("run-export-spec", "href"),
    Output("run-export-png", "href"),
    Output("run-export-svg", "href"),
    Output("run-export-pdf", "href"),
    Output("run-export-zip", "href"),
    Input("run-id", "data"),
    prevent_initial_call=True,  # the layout is drawn with them (page)
)
def export_links(run_id):
    base = f"/api/runs/{run_id}/export?format="
    return (base + "csv", base + "parquet", base + "spec",
            *(f"/export/{run_id}.{fmt}" for fmt in ("png", "svg", "pdf", "zip")))


@callback(
    Output("run-cancel-msg", "children"),
    Input("run-cancel", "n_clicks"),
    State("run-id", "data"),
    prevent_initial_call=True,
)
async def cancel(_n, run_id):
    res = await api.post(f"/runs/{run_id}/cancel")
    return "cancel requested" if res.ok else f"could not cancel: {res.message()}"


def live_plot(gid: str, figure_json: str) -> html.Div:
    """A chart that assets/live-4-render.js draws and grows (``Plotly.react`` from ``data-figure``), not a ``dcc.Graph``.

    A dcc.Graph answers each restyle with new ``restyleData``/``relayoutData`` props and draws itself
    again from its ``figure`` prop, which throws away the streamed points and loops; live charts are
    owned by the browser-side loop alone.
    """
    return html.Div(id=gid, className="plot-box",
                    children=html.Div(className="plot live-plot", **{"data-figure": figure_json}))


TRAJECTORY_RANGE = 1.6  # the 3D view spans +-1.6 radius on each axis when the start is not known
TRAJECTORY_MARGIN = 1.05  # else +-1.05 times the farthest the path can reach (figures.reach)


def _start(spec: dict[str, Any]) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """(w(0), w'(0)) of a potential's run from its spec, as tuples (cache keys), None where not given."""
    initial = spec.get("initial") or {}
    pos, vel = initial.get("position"), initial.get("velocity")
    if figures.flow_of_spec(spec) in ("gf", None):  # first order: no velocity, the path runs down the gradient
        vel = None
    as_tuple = lambda v: tuple(float(c) for c in v) if isinstance(v, list) and len(v) == 3 else None  # noqa: E731
    return as_tuple(pos), as_tuple(vel)



@functools.lru_cache(maxsize=256)
def empty_figure_json(kind: str, *args: Any) -> str:
    """The JSON of an empty live chart, cached by what it shows (column names, law texts, radius...).

    Building a plotly figure costs tens of milliseconds (templates are validated and deep-copied),
    and the runs of one preset share their charts; live-*.js fills them with the points.
    """
    if kind == "trajectory":
        radius, w0, v0 = (*args, None, None)[:3]
        # the cube just holds every point the path can reach (energy never grows), whatever it turns out to do
        half = TRAJECTORY_MARGIN * figures.reach(radius, w0, v0) if w0 is not None else TRAJECTORY_RANGE * (radius or 1)
        fig = figures.trajectory_figure([], radius=radius, start=(w0, v0), half_range=half)
    elif kind == "powerlaw":
        names, law_id, exponent, name = args
        fig = figures.power_law_figure(dict.fromkeys(names, []), law_id, exponent, name)
    elif kind == "particles":
        (d_x,) = args
        fig = figures.particles_figure([])
        if d_x is not None and d_x != 3:
            fig.update_layout(title_text=f"First-layer neurons W_1[i,:] (d_x = {d_x}) projected on 3 fixed directions")
    elif kind == "loss":
        names, log_y = args
        fig = figures.loss_figure(dict.fromkeys(names, []), log_y=log_y)
    elif kind == "law":
        names, law_id, name, prediction, dynamics = args
        fig = figures.law_figure(dict.fromkeys(names, []), law_id, name, prediction, dynamics=dynamics)
    elif kind == "drift":
        names, ids = args
        fig = figures.drift_figure(dict.fromkeys(names, []), list(ids))
    elif kind == "norms":
        names, norms = args
        fig = figures.norms_figure(dict.fromkeys(names, []), list(norms))
    elif kind == "neurons":
        fig = figures.neurons_heatmap([], [], col=args[0])
    elif kind == "hist":
        fig = figures.neurons_histogram([], col=args[0])
    elif kind == "matrix":
        fig = figures.matrix_heatmap([], col=args[0])
    else:
        raise ValueError(f"unknown chart kind '{kind}'")
    return fig.to_json()


def readable_names(ids: Any, catalogue: list[dict[str, Any]]) -> dict[str, str]:
    """Each law id's title from the catalogue (GET /api/laws), with its instance: 'balance/h2' -> 'Balance ... (h = 2)'.

    The run summary names its laws only when the run has ended; the catalogue does from the first record."""
    patterns = []
    for entry in catalogue:
        for pattern in entry.get("ids") or []:
            fields = re.findall(r"\{([^}]*)\}", pattern)  # 'chain/h{h}-h{h+k}' -> ['h', 'h+k']
            rx = "^" + "([\\w.]+)".join(re.escape(part) for part in re.split(r"\{[^}]*\}", pattern)) + "$"
            patterns.append((re.compile(rx), fields, entry.get("title") or entry.get("id")))
    out = {}
    for law_id in ids:
        for rx, fields, title in patterns:
            m = rx.match(law_id)
            if m and title:
                values = ", ".join(f"{f} = {v}" for f, v in zip(fields, m.groups(), strict=True))
                out[law_id] = title + (f" ({values})" if fields else "")
                break
    return out


_CATALOGUE: list[dict[str, Any]] = []


async def catalogue() -> list[dict[str, Any]]:
    """The law catalogue (GET /api/laws), fetched once per dashboard process."""
    if not _CATALOGUE:
        res = await api.get("/laws")
        if res.ok and isinstance(res.data, list):
            _CATALOGUE.extend(res.data)
    return _CATALOGUE


def build_graphs(live: dict[str, Any], info: dict[str, Any] | None, log_y: bool = True,
                 look_at: str | None = None, catalogue: list[dict[str, Any]] | None = None) -> list:
    """The run's charts for the columns and views the stream has shown, empty: live-*.js fills them.

    The charts a preset's "Look at" points at come first after the 3D views: a power law of t (NAG's |J|, on
    log-log axes) and the laws its text names (``(law balance/h2)``). Laws are titled by the run summary's
    names once it is in, before that by the catalogue's titles."""
    names = tuple(live.get("columns") or [])
    views = live.get("views") or {}
    spec = (info or {}).get("spec") or {}
    laws = {law["id"]: law for law in ((info or {}).get("summary") or {}).get("laws") or [] if "id" in law}
    titles = readable_names(law_ids(c for c in names if c not in ("step", "t", "loss")), catalogue or [])
    for law_id, title in titles.items():
        laws.setdefault(law_id, {"name": title})
    out = []

    def graph(gid: str, kind: str, *args: Any, cls: str = "graph") -> None:
        out.append(html.Div(live_plot(gid, empty_figure_json(kind, *args)), className=cls))

    if views.get("position") == [3]:
        potential = spec.get("potential") or {}
        radius = potential.get("radius", 1.0) if potential.get("kind") == "sphere" else None
        graph("run-graph-trajectory", "trajectory", radius, *_start(spec), cls="graph graph-3d")
    if len(views.get("particles") or []) == 2 and views["particles"][1] == 3:
        widths = (spec.get("model") or {}).get("widths") or []
        graph("run-graph-particles", "particles", widths[0] if widths else None, cls="graph graph-3d")
    ids = tuple(law_ids(c for c in names if c not in ("step", "t", "loss")))
    for i, law_id in enumerate(law_id for law_id in ids if "t" in names):
        exponent = figures.power_law_exponent(law_id, figures.flow_of_spec(spec))
        if exponent is not None:  # a power law: log-log with its reference line and the fitted slope
            graph(f"run-graph-powerlaw-{i}", "powerlaw", names, law_id, exponent, laws.get(law_id, {}).get("name", ""))
    focus = figures.pointed_at(look_at, ids)

    def law_graph(i: int, law_id: str) -> None:
        law = laws.get(law_id, {})
        graph(f"run-graph-law-{i}", "law", names, law_id, law.get("name", ""), law.get("prediction", ""),
              (spec.get("dynamics") or {}).get("kind"))

    for law_id in focus:
        law_graph(ids.index(law_id), law_id)
    if "loss" in names:
        graph("run-graph-loss", "loss", names, log_y)
    for i, law_id in enumerate(ids):
        if law_id not in focus:
            law_graph(i, law_id)
    if ids:
        graph("run-graph-drift", "drift", names, ids)
    norms = tuple(norm_columns(names))
    if norms:
        graph("run-graph-norms", "norms", names, norms)
    for i, view in enumerate(v for v in views if v.endswith(":neurons")):
        graph(f"run-graph-neurons-{i}", "neurons", view)
        graph(f"run-graph-hist-{i}", "hist", view)
    for i, view in enumerate(v for v in views if v.endswith(":matrix")):
        graph(f"run-graph-matrix-{i}", "matrix", view)
    if not out:
        out.append(html.P("Waiting for the first records…", className="hint"))
    return out


def js(name: str) -> ClientsideFunction:
    """A clientside function of the run page (``window.dash_clientside.noether``, assets/live-5-bridge.js)."""
    return ClientsideFunction("noether", name)


# Streaming starts with the run-id store (its output only makes Dash call it when the page is laid out: the
# stream reports into run-live itself) and stops when the path leaves the run pages.
clientside_callback(js("follow_run"), Output("run-live", "data"), Input("run-id", "data"))
clientside_callback(js("route"), Input("_pages_location", "pathname"))

# The charts are laid out again only when the set of columns, views or law ids changes: decided in the
# browser, so that the stream's reports (once a second) and the run record's polls cost no server call.
clientside_callback(
    js("graph_key"),
    Output("run-graph-key", "data"),
    Input("run-live", "data"),
    Input("run-info", "data"),
    Input("run-preset", "data"),
    State("run-graph-key", "data"),
)


@callback(
    Output("run-graphs", "children"),
    Input("run-graph-key", "data"),
    State("run-live", "data"),
    State("run-info", "data"),
    State("run-log", "value"),
    State("run-preset", "data"),
    prevent_initial_call=True,  # laid out with the page when it had a record (layout)
)
async def graphs(key, live, info, log_value, preset):
    """The charts for the columns and views the stream has shown (``run-graph-key`` changes only then).

    Built in a thread: Dash runs callbacks on the server's event loop, which also feeds every open
    run's WebSocket stream.
    """
    if not key or not live or live.get("run") is None:
        return [html.P("Waiting for the first records…", className="hint")]
    return await charts_of(live, info, "log" in (log_value or []), preset)


async def charts_of(live: dict[str, Any], info: dict[str, Any] | None, log_y: bool,
                    preset: dict[str, Any] | None) -> list:
    """build_graphs with the law catalogue's titles, in a thread (the page's layout and the graphs callback)."""
    return await asyncio.to_thread(build_graphs, live, info, log_y, (preset or {}).get("look_at"), await catalogue())


clientside_callback(
    js("live_text"),
    Output("run-slider", "max"),
    Output("run-live-text", "children"),
    Input("run-live", "data"),
)

clientside_callback(
    js("lag"),
    Output("run-lag", "children"),
    Output("run-lag", "className"),
    Input("run-live", "data"),
    Input("run-info", "data"),
)

clientside_callback(
    js("seek"),
    Output("run-frame-text", "children"),
    Input("run-slider", "value"),
    State("run-live", "data"),
    prevent_initial_call=True,
)

clientside_callback(js("log"), Input("run-log", "value"), prevent_initial_call=True)

clientside_callback(
    js("play_toggle"),
    Output("run-play-tick", "disabled"),
    Output("run-play", "children"),
    Input("run-play", "n_clicks"),
    State("run-play-tick", "disabled"),
    prevent_initial_call=True,
)

clientside_callback(
    js("play_step"),
    Output("run-slider", "value"),
    Input("run-play-tick", "n_intervals"),
    State("run-slider", "value"),
    State("run-slider", "max"),
    prevent_initial_call=True,
)

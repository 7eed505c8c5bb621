"""Discover: find a model's conserved quantities (Algorithm 1) and watch them verified live.

The user picks a preset (or pastes a spec as JSON), clicks Discover (``POST /api/discover``), and the
page follows the job: while it runs, the relative drift of each discovered law in the verification run;
once done, the generators as block heatmaps (per-neuron rescaling coefficients, gl(d) generators and
where they act), the laws (named after the catalogue, or flagged new) and their verdicts. The job id
is in the URL (``/discover?run=<id>``), so a discovery can be shared; its series are also on
``/runs/<id>``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import quote

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update

from dashboard import api
from dashboard.figures import LOG_FLOOR_NOTE, log_floor

dash.register_page(__name__, path="/discover", name="Discover", title="Discover · Noether Lab", order=3, nav=True)

TERMINAL = {"succeeded", "failed", "cancelled", "diverged"}
MAX_BLOCKS = 12  # heatmaps drawn
LAW_COLUMNS = [
    {"name": "where", "id": "where"},
    {"name": "kind", "id": "kind"},
    {"name": "n", "id": "count"},
    {"name": "quantity", "id": "name"},
    {"name": "in the catalogue?", "id": "catalogue"},
    {"name": "search residual", "id": "residual"},
    {"name": "verdict in the run", "id": "verdict"},
    {"name": "max rel. drift", "id": "drift"},
]
# what each term of the page means, for someone who has not read the paper (shown in a glossary and as tooltips)
TERMS = {
    "symmetry": "a change of the parameters w -> w + eps A w that leaves the loss unchanged; A is its generator",
    "quantity": "w^T A w / 2 for a symmetric generator A: conserved under gradient flow (Noether's theorem)",
    "charge": "w'^T A w for an antisymmetric generator A (a rotation): conserved under Newtonian dynamics, "
              "zero under gradient flow, decaying as t^-3 under Nesterov's flow; for rotations of w it is the "
              "angular momentum J = w' w^T - w w'^T (for A = E_ij - E_ji, w'^T A w is its entry ij), written with "
              "the paper's sign (eq. 48), as on the run page",
    "residual": "<grad L(w), A w>: zero at every step for any dynamics, since the loss does not change along A w",
    "where": "the part of the network the symmetry acts on: a hidden layer's neurons (rescalings), the outputs "
             "(the softmax ignores a common shift), the inputs or the data (rotations), or w itself (a potential)",
    "in the catalogue?": "the law of the lab's catalogue it reproduces, or 'new' for one the catalogue does not "
                         "list (found by the search alone)",
    "search residual": "how far the generator is from an exact symmetry at the sampled points (RMS cosine of grad L "
                       "with A w; about 1e-16 means exact). 'z' compares a data symmetry's defect with sampling noise",
    "closed under transposition": "whether the transpose of every generator found is also one; if not, some "
                                  "generators are neither symmetric nor antisymmetric and give only a residual law",
    "verdict": "holds: the quantity followed its prediction in the verification run within the tolerance; broken: "
               "it did not",
}


def layout(run: str | None = None, preset: str | None = None, **_: Any) -> html.Div:
    return html.Div(
        className="discover",
        children=[
            dcc.Store(id="discover-job", data=run),
            dcc.Interval(id="discover-tick", interval=1500, disabled=run is None),
            html.H1("Discover conserved quantities"),
            html.P(
                "Algorithm 1 of the paper, done numerically: candidate generators xi(w) = A w (per-neuron "
                "rescalings, gl(d_h) between layers, rotations of the inputs or of w) are tested against "
                "<grad L(w), A w> = 0 at many points; the null space becomes laws (w^T A w / 2 under gradient "
                "flow, w'^T A w under Newtonian dynamics, residual laws), which a short run of the spec's "
                "dynamics then verifies.",
                className="hint",
            ),
            html.Div(className="toolbar", children=[
                # the preset from the URL is an option from the start: a value outside the options is dropped
                dcc.Dropdown(id="discover-preset", value=preset, placeholder="a preset...", className="filter",
                             options=[{"label": preset, "value": preset}] if preset else []),
                html.Label("verification steps", htmlFor="discover-steps", className="hint"),
                dcc.Input(id="discover-steps", type="number", value=200, min=1, max=100000, debounce=True,
                          className="input", placeholder="verification steps"),
                html.Button("Discover", id="discover-go", className="btn btn-primary"),
                html.Span(id="discover-msg", className="hint"),
            ]),
            html.Details([
                html.Summary("or paste a spec (JSON)"),
                dcc.Textarea(id="discover-spec", value="", placeholder='{"potential": {"kind": "sphere", "dim": 3}}',
                             style={"width": "100%", "height": "8em", "fontFamily": "monospace"}),
            ]),
            html.Div(id="discover-status", className="status"),
            dcc.Graph(id="discover-drift", figure=drift_figure({}), config={"displaylogo": False}),
            html.Div(id="discover-summary", className="discover-summary"),
            html.Details(className="glossary", children=[
                html.Summary("What the terms mean"),
                html.Dl([item for term, text in TERMS.items() for item in (html.Dt(term), html.Dd(text))]),
            ]),
            html.Details([html.Summary("Search details"), html.Div(id="discover-header")]),
            html.H2("Laws"),
            dash_table.DataTable(
                id="discover-laws", columns=LAW_COLUMNS, data=[], page_size=30,
                tooltip_header={c["id"]: TERMS.get(c["name"], TERMS.get(c["id"], "")) for c in LAW_COLUMNS},
                tooltip_delay=0, tooltip_duration=None,
                style_cell={"textAlign": "left", "fontSize": "0.9em", "padding": "4px 8px", "whiteSpace": "normal"},
                style_data_conditional=[
                    {"if": {"filter_query": '{verdict} = "holds"', "column_id": "verdict"}, "color": "#2a7a2a"},
                    {"if": {"filter_query": '{verdict} = "broken"', "column_id": "verdict"}, "color": "#b02020"},
                    {"if": {"filter_query": '{catalogue} = "new"', "column_id": "catalogue"}, "color": "#a06000"},
                ],
            ),
            html.H2("Generators"),
            html.Div(id="discover-blocks", className="grid"),
        ],
    )


# ---------------------------------------------------------------------------------------------
# Pure builders (tested without a browser)


def block_figure(block: dict[str, Any]) -> go.Figure:
    """One generator block as a heatmap: coefficients (diverging, centred at 0) or a count pattern."""
    pattern = block.get("parity") == "pattern"
    fig = go.Figure(go.Heatmap(
        z=block.get("matrix") or [], x=block.get("cols") or None, y=block.get("rows") or None,
        colorscale="Greens" if pattern else "RdBu", zmid=None if pattern else 0, colorbar=dict(thickness=8),
        hovertemplate="%{y}, %{x}: %{z:.4g}<extra></extra>",
    ))
    fig.update_layout(
        title=dict(text=block.get("title", ""), font=dict(size=12)), height=320,
        margin=dict(l=70, r=20, t=50, b=40), yaxis=dict(autorange="reversed"), template="plotly_white",
    )
    return fig


def law_rows(discovery: dict[str, Any] | None, summary_laws: list[dict[str, Any]] | None = None) -> list[dict]:
    """The laws table: each discovered law with its catalogue match (or 'new') and its verdict in the run."""
    verdicts = {s.get("id"): s for s in summary_laws or []}
    rows = []
    for law in (discovery or {}).get("laws") or []:
        s = verdicts.get(law["id"], {})
        catalogue = ", ".join(law.get("matches") or []) or ("new" if law.get("new") else "-")
        res = law.get("residual")
        z = law.get("zscore")
        rows.append({
            "id": law["id"], "where": where(law), "kind": law["kind"], "level": law["level"], "count": law["count"],
            "name": law["name"] + (f" ({law['note']})" if law.get("note") else ""),
            "catalogue": catalogue,
            "residual": (f"{res:.2g}" if isinstance(res, int | float) else "-")
            + (f" (defect {z:.2g} x sampling noise)" if z is not None else ""),
            "verdict": s.get("verdict", "-"),
            "drift": f"{s['max_rel_drift']:.3g}" if isinstance(s.get("max_rel_drift"), int | float) else "-",
        })
    return rows


def where(law: dict[str, Any]) -> str:
    """Where a law's symmetry acts, in words: 'layer 1', 'outputs', 'inputs (data)', 'w (the potential)'."""
    parts = law["id"].split("/")
    group = str(law.get("group") or (parts[1] if len(parts) > 1 else law["id"]))
    group = group.replace("~data", " (data)").replace("~", " ")
    return "w (the potential)" if group == "potential" else group


def plain_summary(discovery: dict[str, Any] | None, summary_laws: list[dict[str, Any]] | None = None) -> list[Any]:
    """What was found, in sentences: how many symmetries, where, which laws they give, which are new.

    A candidate law whose verification run broke it (``summary_laws``: the run's verdicts) is not counted as a
    law: it came from generators that sampling noise let through, and the summary says so."""
    if not discovery:
        return []
    laws = discovery.get("laws") or []
    verdicts = {s.get("id"): s.get("verdict") for s in summary_laws or []}
    candidates = [law for law in laws if law["kind"] in ("quantity", "charge")]
    spurious = [law for law in candidates if verdicts.get(law["id"]) == "broken"]
    main = [law for law in candidates if law not in spurious]
    known = [law for law in main if law.get("matches")]
    new = [law for law in main if not law.get("matches")]
    n = discovery.get("generators", 0)
    lines = [html.P(html.B(
        f"{n} symmetr{'y' if n == 1 else 'ies'} found among {discovery.get('parameters', 0)} parameters. They give "
        f"{len(main)} conservation law{'' if len(main) == 1 else 's'}: {len(known)} of the lab's catalogue, "
        f"{len(new)} not in it (new)."
        + (f" {len(spurious)} more candidate{'' if len(spurious) == 1 else 's'} broke in the verification run: "
           "not a law (the search let sampling noise through)." if spurious else "")))]
    items = []
    for law in candidates:
        what = "a conserved quantity under gradient flow" if law["kind"] == "quantity" else \
            "a charge, conserved under Newtonian dynamics"
        tail = (": broke in the verification run, so not a conservation law" if law in spurious
                else f": the catalogue's {', '.join(law['matches'])}" if law.get("matches")
                else ": not in the catalogue (new)")
        symmetry = f" ({law['symmetry']})" if law.get("symmetry") else ""
        items.append(html.Li(f"{where(law)}: {law['count']} generator(s){symmetry} give {what}, "
                             f"{law['name']}{tail}."))
    residuals = sum(1 for law in laws if law["kind"] == "residual")
    if residuals:
        items.append(html.Li(f"{residuals} residual law(s): <grad L(w), A w> = 0 at every step, whatever the "
                             "dynamics (the loss does not change along any of these symmetries)."))
    mixed = discovery.get("mixed", 0)
    if mixed:
        items.append(html.Li(f"{mixed} generator(s) are neither symmetric nor antisymmetric (the set is not closed "
                             "under transposition): they give only the residual law."))
    return [*lines, html.Ul(items)]


def header(discovery: dict[str, Any] | None) -> list[Any]:
    """What was searched and found, in three lines."""
    if not discovery:
        return []
    cands = ", ".join(f"{k} {v}" for k, v in (discovery.get("candidates") or {}).items())
    eqs = ", ".join(f"{k} {v}" for k, v in (discovery.get("equations") or {}).items())
    gap = ", ".join(f"{k} {v:.3g}" for k, v in (discovery.get("gap") or {}).items() if isinstance(v, int | float))
    tol = f"tolerance {discovery.get('tolerance'):g} (RMS cosine of grad L with A w)"
    if discovery.get("data_tolerance") is not None:
        tol += f"; data symmetries: cosine <= {discovery['data_tolerance']:g}, z <= {discovery.get('z_max')}"
    found = (
        f"found {discovery.get('generators', 0)} generator(s): {discovery.get('symmetric', 0)} symmetric "
        f"(gradient-flow quantities), {discovery.get('antisymmetric', 0)} antisymmetric (Newtonian charges), "
        f"{discovery.get('mixed', 0)} neither; closed under transposition: "
        f"{'yes' if discovery.get('closed_under_transposition') else 'no'}"
    )
    total = (discovery.get("timing") or {}).get("total_s")
    lines = [
        f"{discovery.get('parameters', 0)} parameters; candidates: {cands}; equations: {eqs}",
        f"{tol}; smallest rejected residual: {gap or '-'}",
        found + (f"; {total:.1f} s" if isinstance(total, int | float) else ""),
        *[f"note: {n}" for n in discovery.get("notes") or []],
    ]
    return [html.P(line, className="hint" if line.startswith("note") else "") for line in lines]


def drift_columns(columns: list[str]) -> list[str]:
    """The series columns that show the discovered laws' relative drift (quantities, charges) or residuals."""
    keep = [c for c in columns if c.startswith("discovered/") and c.endswith(":drift")]
    keep += [c for c in columns if c.startswith("discovered/") and c.endswith("/residual")]
    return keep


def drift_figure(series: dict[str, Any]) -> go.Figure:
    """Relative drift of every discovered law over the verification run (log scale): flat and small when it holds."""
    fig = go.Figure()
    steps = series.get("step") or []
    floored = False
    for name, env in (series.get("columns") or {}).items():
        y = [abs(v) if isinstance(v, int | float) and math.isfinite(v) else None for v in env.get("max") or []]
        y, clipped = log_floor(y)  # an exact 0 (a residual at rounding) stays on the log axis, at its floor
        floored |= clipped
        fig.add_trace(go.Scatter(x=steps, y=y, mode="lines", name=drift_name(name)))
    fig.update_layout(
        title="Verification: relative drift of each discovered law (residual laws: relative residual)",
        xaxis_title="step", yaxis_title="relative drift", yaxis_type="log", yaxis_exponentformat="power",
        template="plotly_white",
        height=360, margin=dict(l=60, r=20, t=50, b=80), legend=dict(orientation="h", y=-0.25),
    )
    if not fig.data:
        fig.add_annotation(text="the verification run's drift appears here", showarrow=False, xref="paper",
                           yref="paper", x=0.5, y=0.5, font=dict(color="#888"))
    if floored:
        fig.add_annotation(text=LOG_FLOOR_NOTE, showarrow=False, xref="paper", yref="paper", x=0, y=1,
                           xanchor="left", yanchor="bottom", font=dict(size=10, color="#666"))
    return fig


def drift_name(column: str) -> str:
    """'discovered/layer2/quantity:drift' -> 'quantity (layer 2)': the legend in words, not the column id."""
    parts = column.removeprefix("discovered/").removesuffix(":drift").split("/")
    if len(parts) != 2:
        return column
    where, kind = parts
    data = where.endswith("~data")
    where = where.removesuffix("~data")
    place = {"potential": "w, the potential", "inputs": "the inputs", "outputs": "the outputs"}.get(where)
    if place is None:
        place = re.sub(r"^layer(\d+)$", r"layer \1", where).replace("~", " ")
    return f"{kind} ({place}{', from the data' if data else ''})"


def request_body(preset: str | None, spec_text: str | None, steps: Any) -> tuple[dict[str, Any] | None, str]:
    """The POST /api/discover body from the form, or (None, why not)."""
    body: dict[str, Any] = {}
    text = (spec_text or "").strip()
    if text:
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            return None, f"the spec is not valid JSON: {exc.msg} (line {exc.lineno})"
        if not isinstance(spec, dict):
            return None, "the spec must be a JSON object"
        body["spec"] = spec
    elif preset:
        body["preset"] = preset
    else:
        return None, "pick a preset or paste a spec"
    if steps not in (None, ""):
        try:
            body["verify_steps"] = int(steps)
        except (TypeError, ValueError):
            return None, f"verification steps must be a whole number (got {steps!r})"
    return body, ""


# ---------------------------------------------------------------------------------------------
# Callbacks


@callback(Output("discover-preset", "options"), Input("discover-preset", "id"))
async def presets(_):
    res = await api.get("/presets")
    if not res.ok:
        return []
    return [{"label": f"{p['name']}: {p.get('title', '')}", "value": p["name"]} for p in res.data]


@callback(
    Output("discover-job", "data"),
    Output("discover-tick", "disabled"),
    Output("discover-msg", "children"),
    Output("app-nav", "href", allow_duplicate=True),
    Input("discover-go", "n_clicks"),
    State("discover-preset", "value"),
    State("discover-spec", "value"),
    State("discover-steps", "value"),
    prevent_initial_call=True,
)
async def submit(_n, preset, spec_text, steps):
    """POST /api/discover; the job id goes to the URL so the page can be shared."""
    if not _n:  # the page laid out again after that navigation: no click, nothing to submit
        return no_update, no_update, no_update, no_update
    body, why = request_body(preset, spec_text, steps)
    if body is None:
        return no_update, no_update, why, no_update
    res = await api.post("/discover", body)
    if not res.ok:
        return no_update, no_update, res.message(), no_update
    job = res.data["id"]
    # the preset travels in the URL too, so the page (and a shared link) still says what was discovered
    url = f"/discover?run={job}" + (f"&preset={quote(body['preset'])}" if "preset" in body else "")
    return job, False, f"submitted {job}", url


@callback(
    Output("discover-status", "children"),
    Output("discover-drift", "figure"),
    Output("discover-header", "children"),
    Output("discover-summary", "children"),
    Output("discover-laws", "data"),
    Output("discover-blocks", "children"),
    Output("discover-tick", "disabled", allow_duplicate=True),
    Input("discover-tick", "n_intervals"),
    Input("discover-job", "data"),
    prevent_initial_call="initial_duplicate",
)
async def follow(_n, job):
    """Poll the job: status and live drift while it runs; everything once it has ended."""
    if not job:
        return "", no_update, [], [], [], [], True
    res = await api.get(f"/runs/{job}")
    if not res.ok:
        return res.message(), no_update, [], [], [], [], True
    rec = res.data
    status = rec.get("status", "")
    line = [html.B(status), f"  job {job}, step {rec.get('step', 0)}/{rec.get('steps', 0)}  ",
            dcc.Link("all series", href=f"/runs/{job}")]
    if rec.get("reason"):
        line.append(f"  ({rec['reason']})")
    figure = no_update
    if status in ("running", *TERMINAL):
        cols = await api.get(f"/runs/{job}/series", points=1)
        names = drift_columns(list((cols.data or {}).get("columns", {}).keys())) if cols.ok else []
        if names:
            series = await api.downsampled(job, 300, ",".join(names))
            if series:
                figure = drift_figure(series)
    done = status in TERMINAL
    summary = rec.get("summary") or {}
    discovery = summary.get("discovery")
    if not done or not discovery:
        return line, figure, [], [], [], [], done
    blocks = [dcc.Graph(figure=block_figure(b), config={"displaylogo": False}, className="cell")
              for b in (discovery.get("blocks") or [])[:MAX_BLOCKS]]
    if len(discovery.get("blocks") or []) > MAX_BLOCKS:
        blocks.append(html.P(f"{len(discovery['blocks']) - MAX_BLOCKS} more blocks in the JSON (GET /api/runs/{job})",
                             className="hint"))
    return (line, figure, header(discovery), plain_summary(discovery, summary.get("laws")),
            law_rows(discovery, summary.get("laws")), blocks,
            True)

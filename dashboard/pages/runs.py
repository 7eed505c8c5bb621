"""Runs: every run in a table with filters, editable tags and notes, and a selection to compare."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html, no_update

from dashboard import api
from dashboard.series import duration_seconds, format_seconds

dash.register_page(__name__, path="/runs", name="Runs", title="Runs · Noether Lab", order=1)

STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "diverged"]
COLUMNS = [
    {"name": "run", "id": "link", "presentation": "markdown"},
    # second, beside the name: at the far right of a wide table the link to a sweep's analysis was off-screen
    {"name": "sweep", "id": "group", "presentation": "markdown"},
    {"name": "status", "id": "status"},
    {"name": "kind", "id": "kind"},
    {"name": "preset", "id": "preset"},
    {"name": "dynamics", "id": "dynamics"},
    {"name": "lr", "id": "lr", "type": "numeric"},
    {"name": "model", "id": "model"},
    {"name": "steps", "id": "steps", "type": "numeric"},
    {"name": "final loss", "id": "final_loss", "type": "numeric", "format": {"specifier": ".4g"}},
    {"name": "verdicts", "id": "worst"},
    {"name": "tags", "id": "tags", "editable": True},
    {"name": "note", "id": "note", "editable": True},
    {"name": "created", "id": "created"},
    {"name": "duration", "id": "duration"},
]
MAX_SWEEPS = 5  # sweeps named in the banner above the table, newest first
SWEPT = "swept:"  # column ids of a sweep's varied fields start with this


def layout(group: str | None = None, status: str | None = None, tag: str | None = None,
           preset: str | None = None, **_: Any) -> html.Div:
    return html.Div(
        className="runs",
        children=[
            dcc.Interval(id="runs-tick", interval=2000),
            html.H1("Runs"),
            html.Div(id="runs-sweeps", className="runs-sweeps"),
            html.Div(className="toolbar", children=[
                dcc.Dropdown(id="runs-filter-status", options=STATUSES, value=status, placeholder="any status",
                             className="filter"),
                dcc.Input(id="runs-filter-preset", value=preset, placeholder="preset", debounce=True, className="input"),
                dcc.Input(id="runs-filter-tag", value=tag, placeholder="tag", debounce=True, className="input"),
                dcc.Input(id="runs-filter-group", value=group, placeholder="sweep group", debounce=True,
                          className="input"),
                html.Button("Compare selected", id="runs-compare", className="btn btn-primary"),
                html.Span(id="runs-msg", className="hint"),
            ]),
            dash_table.DataTable(
                id="runs-table",
                columns=COLUMNS,
                data=[],
                row_selectable="multi",
                selected_rows=[],
                page_size=25,
                sort_action="native",
                filter_action="native",
                style_table={"overflowX": "auto"},
                filter_options={"case": "insensitive"},
                markdown_options={"link_target": "_self"},
                style_cell={"textAlign": "left", "fontSize": "0.9em", "padding": "4px 8px", "whiteSpace": "normal"},
                style_data_conditional=[
                    {"if": {"filter_query": '{status} = "succeeded"', "column_id": "status"}, "color": "#2a7a2a"},
                    {"if": {"filter_query": '{status} = "diverged"', "column_id": "status"}, "color": "#b02020"},
                    {"if": {"filter_query": '{status} = "failed"', "column_id": "status"}, "color": "#b02020"},
                    {"if": {"column_editable": True}, "backgroundColor": "#fbfbf2"},
                ],
            ),
            html.P("Tags (comma-separated) and notes are editable in the table; changes are saved at once.",
                   className="hint"),
            dcc.Store(id="runs-previous"),
        ],
    )


def run_row(run: dict[str, Any]) -> dict[str, Any]:
    """One table row of a run record (pure): its readable name, what ran, how it ended."""
    summary = run.get("summary") or {}
    verdicts = [law.get("verdict") for law in summary.get("laws") or []]
    counts = {v: verdicts.count(v) for v in ("holds", "broken") if verdicts.count(v)}
    final = summary.get("loss_final")
    view = run.get("overview") or {}
    dyn = run.get("dynamics")
    if isinstance(dyn, dict):
        dyn = dyn.get("kind")
    name = run.get("name") or run.get("preset") or run["id"]
    row = {
        "id": run["id"],
        "link": f"[{name}](/runs/{run['id']}) `{run['id'][:8]}`",
        "status": run.get("status", ""),
        "kind": run.get("kind") or "run",
        "preset": run.get("preset") or "",
        "dynamics": dyn or view.get("dynamics") or "",
        "lr": view.get("lr"),
        "model": view.get("model") or "",
        "steps": view.get("steps") or run.get("steps"),
        "final_loss": final if isinstance(final, int | float) else None,
        "worst": worst_verdict(counts),
        "tags": ", ".join(run.get("tags") or []),
        "note": run.get("note") or "",
        "created": (run.get("created_at") or "")[:19].replace("T", " "),
        "duration": format_seconds(duration_seconds(run.get("started_at"), run.get("finished_at"))),
        "group": f"[sweep {run['group'][:8]}](/sweeps/{run['group']})" if run.get("group") else "",
    }
    for path, value in (run.get("swept") or {}).items():
        row[SWEPT + path] = "-".join(map(str, value)) if isinstance(value, list) else value
    return row


def worst_verdict(counts: dict[str, int]) -> str:
    """'broken (2 of 7)' when any law is broken, else 'holds (5)', else '-': the worst first, sortable."""
    total = sum(counts.values())
    if counts.get("broken"):
        return f"broken ({counts['broken']} of {total})"
    return f"holds ({total})" if total else "-"


def table_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fixed columns, with one column per swept field of the sweeps shown, after the run's name and sweep."""
    swept = list(dict.fromkeys(k for r in rows for k in r if k.startswith(SWEPT)))
    extra = [{"name": k.removeprefix(SWEPT), "id": k} for k in swept]
    return [*COLUMNS[:2], *extra, *COLUMNS[2:]]


def recent_sweeps(runs: list[dict[str, Any]], limit: int = MAX_SWEEPS) -> list[dict[str, Any]]:
    """The sweeps among ``runs``, newest first (pure): group, what it sweeps, how many of its runs are listed, and
    the address of its analysis page."""
    out: dict[str, dict[str, Any]] = {}
    for run in sorted(runs, key=lambda r: r.get("created_at") or "", reverse=True):
        group = run.get("group")
        if not group:
            continue
        sweep = out.setdefault(group, {"group": group, "href": f"/sweeps/{group}", "runs": 0, "swept": [],
                                       "created": (run.get("created_at") or "")[:16].replace("T", " ")})
        sweep["runs"] += 1
        sweep["swept"] = list(dict.fromkeys([*sweep["swept"], *(run.get("swept") or {})]))
    return list(out.values())[:limit]


def sweep_banner(sweeps: list[dict[str, Any]]) -> list[Any]:
    """Above the table: a link to each recent sweep's analysis (fits and slopes), where it cannot be missed."""
    if not sweeps:
        return []
    links: list[Any] = []
    for sweep in sweeps:
        what = ", ".join(sweep["swept"]) or "sweep"
        links.append(html.Li([
            dcc.Link(f"{what} · sweep {sweep['group'][:8]}", href=sweep["href"], className="sweep-link"),
            html.Span(f" {sweep['runs']} run{'' if sweep['runs'] == 1 else 's'} listed"
                      + (f", started {sweep['created']}" if sweep["created"] else ""), className="hint"),
        ]))
    return [html.Span("Sweeps: the analysis of each (fits, slopes) ", className="field-label"), html.Ul(links)]


@callback(
    Output("runs-table", "data"),
    Output("runs-previous", "data"),
    Output("runs-table", "columns"),
    Output("runs-sweeps", "children"),
    Input("runs-tick", "n_intervals"),
    Input("runs-filter-status", "value"),
    Input("runs-filter-preset", "value"),
    Input("runs-filter-tag", "value"),
    Input("runs-filter-group", "value"),
    State("runs-table", "active_cell"),
)
async def load(_n, status, preset, tag, group, active):
    """The runs matching the filters, refreshed every 2 s (not while a cell is being edited)."""
    if active and active.get("column_id") in ("tags", "note") and dash.ctx.triggered_id == "runs-tick":
        return no_update, no_update, no_update, no_update
    res = await api.get("/runs", status=status, preset=preset, tag=tag, group=group, limit=200)
    if not res.ok:
        return no_update, no_update, no_update, no_update
    items = res.data.get("items", [])
    rows = [run_row(r) for r in items]
    return (rows, {r["id"]: {"tags": r["tags"], "note": r["note"]} for r in rows}, table_columns(rows),
            sweep_banner(recent_sweeps(items)))


def changed_rows(rows: list[dict], previous: dict[str, dict]) -> list[tuple[str, dict[str, Any]]]:
    """(run id, PATCH body) for each row whose tags or note differ from what was loaded (pure)."""
    out = []
    for row in rows or []:
        before = (previous or {}).get(row["id"])
        if before is None:
            continue
        body: dict[str, Any] = {}
        if row.get("tags", "") != before.get("tags", ""):
            body["tags"] = [t.strip() for t in str(row.get("tags") or "").split(",") if t.strip()]
        if row.get("note", "") != before.get("note", ""):
            body["note"] = row.get("note") or ""
        if body:
            out.append((row["id"], body))
    return out


@callback(
    Output("runs-msg", "children"),
    Output("runs-previous", "data", allow_duplicate=True),
    Input("runs-table", "data_timestamp"),
    State("runs-table", "data"),
    State("runs-previous", "data"),
    prevent_initial_call=True,
)
async def save_edits(_ts, rows, previous):
    """PATCH the tags and notes the user changed."""
    changes = changed_rows(rows, previous)
    if not changes:
        return no_update, no_update
    msgs = []
    previous = dict(previous or {})
    for run_id, body in changes:
        res = await api.patch(f"/runs/{run_id}", body)
        if res.ok:
            row = next(r for r in rows if r["id"] == run_id)
            previous[run_id] = {"tags": row.get("tags", ""), "note": row.get("note", "")}
            msgs.append(f"saved {run_id}")
        else:
            msgs.append(f"{run_id}: {res.message()}")
    return "; ".join(msgs), previous


@callback(
    Output("app-nav", "href", allow_duplicate=True),
    Output("runs-msg", "children", allow_duplicate=True),
    Input("runs-compare", "n_clicks"),
    State("runs-table", "derived_virtual_data"),
    State("runs-table", "derived_virtual_selected_rows"),
    prevent_initial_call=True,
)
def compare(_n, rows, selected):
    ids = [rows[i]["id"] for i in (selected or []) if i < len(rows or [])]
    if len(ids) < 2:
        return no_update, "select at least two runs to compare"
    return f"/compare?ids={','.join(ids)}", no_update



@callback(
    Output("runs-msg", "children", allow_duplicate=True),
    Input("runs-table", "derived_virtual_selected_rows"),
    prevent_initial_call=True,
)
def selection_hint(selected):
    """The hint follows the selection: 'select at least two' goes away once two are selected."""
    n = len(selected or [])
    return "" if n == 0 else f"{n} selected" + ("" if n >= 2 else ": select at least two runs to compare")

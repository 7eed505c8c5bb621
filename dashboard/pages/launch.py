"""Launch: the gallery of presets (the paper's figures first), a form built from the spec schema, sweeps."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from dashboard import api, forms
from dashboard.mathtext import to_markdown
from dashboard.series import parse_list, parse_widths_list
from dashboard.specurl import SpecUrlError, decode_spec, launch_href

dash.register_page(__name__, path="/", name="Launch", title="Noether Lab", order=0)

DEFAULT_SPEC: dict[str, Any] = {
    "model": {"widths": [64, 16, 10], "activation": "relu"},
    "data": {"kind": "digits", "samples": 200},
    "dynamics": {"kind": "gd", "lr": 0.05},
    "steps": 300,
    "record_every": 1,
}
KIND_DEFAULTS = {"data": "digits", "potential": "sphere", "dynamics": "gd"}
SWEEP_DYNAMICS = ("gd", "nd", "nag", "momentum")  # the dynamics a sweep offers to compare


def form_kinds(spec: dict[str, Any]) -> dict[str, str]:
    """What the form shows for a spec: the problem (network or potential) and the kind of each section."""
    def kind(section: str) -> str:
        node = spec.get(section)
        if isinstance(node, dict) and section == "potential" and "kind" not in node and "expression" in node:
            return "expression"
        return str(node.get("kind", KIND_DEFAULTS[section])) if isinstance(node, dict) else KIND_DEFAULTS[section]

    potential = isinstance(spec.get("potential"), dict)
    return {"problem": "potential" if potential else "network", "data": kind("data"),
            "potential": kind("potential"), "dynamics": kind("dynamics")}


def initial_form(spec_param: str | None) -> dict[str, Any]:
    """The form's starting point: the spec in the URL (``?spec=``, see dashboard.specurl), else the default."""
    out = {"base": DEFAULT_SPEC, **form_kinds(DEFAULT_SPEC), "status": None, "scroll": False}
    if not spec_param:
        return out
    try:
        spec = decode_spec(spec_param)
    except SpecUrlError as exc:
        out["status"] = html.Div(f"{exc}: the form shows the default experiment.", className="error")
        return out
    label = spec.get("name") or "the link"
    return {"base": spec, **form_kinds(spec),
            "status": f"Form loaded from {label!s:.80}: change what you like, then Run.", "scroll": True}


def layout(spec: str | None = None, **_: Any) -> html.Div:
    start = initial_form(spec)
    # each kind picker starts with its own value as its one option: Dash 4's Dropdown drops a value that is not
    # among its options, and the options arrive only with the schema
    return html.Div(
        className="launch",
        children=[
            dcc.Store(id="launch-init", data=0),
            dcc.Store(id="launch-schema"),
            dcc.Store(id="launch-presets"),
            dcc.Store(id="launch-base", data=start["base"]),  # the spec the form shows; changed by kind switches
            dcc.Store(id="launch-aside", data={}),  # sections set aside by switching network <-> potential
            dcc.Store(id="launch-pristine"),  # the form's URL as first drawn: not written back unless changed
            dcc.Store(id="launch-href"),  # the form's URL now (history.replaceState keeps the address bar on it)
            dcc.Store(id="launch-scroll", data=start["scroll"]),
            html.H1("Launch an experiment"),
            html.P("Each card reproduces a result of the paper (Głuch & Urbanke, Noether: the more things change, "
                   "the more stay the same) or shows a law at work. One click runs it and opens its live page.",
                   className="lead"),
            html.Div(id="launch-gallery", className="gallery", children=html.Div("Loading presets…")),
            html.H2("Custom experiment", id="launch-custom"),
            html.Div(id="launch-form-status", className="form-status", children=start["status"]),
            html.Div(
                className="form",
                children=[
                    html.Div(className="form-row", children=[
                        html.Div(className="field", children=[
                            html.Label("What is trained", className="field-label"),
                            dcc.RadioItems(id="launch-problem", value=start["problem"], inline=True,
                                           options=[{"label": " a network on data", "value": "network"},
                                                    {"label": " a point in a potential", "value": "potential"}]),
                        ]),
                        html.Div(id="launch-kind-data-box", className="field",
                                 style=None if start["problem"] == "network" else {"display": "none"}, children=[
                            html.Label("Data", className="field-label"),
                            dcc.Dropdown(id="launch-kind-data", value=start["data"], clearable=False,
                                         options=[start["data"]]),
                        ]),
                        html.Div(id="launch-kind-potential-box", className="field",
                                 style={"display": "none"} if start["problem"] == "network" else None, children=[
                            html.Label("Potential", className="field-label"),
                            dcc.Dropdown(id="launch-kind-potential", value=start["potential"], clearable=False,
                                         options=[start["potential"]]),
                        ]),
                        html.Div(className="field", style={"maxWidth": "34em"}, children=[
                            html.Label("Dynamics", className="field-label"),
                            dcc.Dropdown(id="launch-kind-dynamics", value=start["dynamics"], clearable=False,
                                         options=forms.kind_options("dynamics", [start["dynamics"]]),
                                         style={"minWidth": "26em"}),
                        ]),
                    ]),
                    html.Div(id="launch-change-note", className="hint", role="status"),
                    html.Fieldset([html.Legend("Model"), html.Div(id="launch-model-fields", className="fields")],
                                  id="launch-model-box"),
                    html.Fieldset([html.Legend("Data"), html.Div(id="launch-data-fields", className="fields")],
                                  id="launch-data-box"),
                    html.Fieldset([html.Legend("Potential"), html.Div(id="launch-potential-fields", className="fields")],
                                  id="launch-potential-box"),
                    html.Fieldset([html.Legend("Dynamics"), html.Div(id="launch-dynamics-fields", className="fields")]),
                    html.Fieldset([html.Legend("Initial state"), html.Div(id="launch-initial-fields", className="fields")]),
                    html.Fieldset([html.Legend("Run"), html.Div(id="launch-top-fields", className="fields")]),
                    html.Div(className="buttons", children=[
                        html.Button("Check", id="launch-validate", className="btn"),
                        html.Button("Run", id="launch-submit", className="btn btn-primary"),
                    ]),
                    html.Div(id="launch-errors", className="errors"),
                    html.Div(id="launch-valid", className="valid"),
                ],
            ),
            html.H2("Sweep"),
            html.P("The form's experiment, once per combination of the values below (leave a line empty to keep "
                   "the form's value). The runs share a group and open together in the runs table.", className="hint"),
            html.Div(className="form fields", children=[
                _sweep_input("launch-sweep-seeds", "Seeds", "0, 1, 2"),
                _sweep_input("launch-sweep-lrs", "Learning rates (dynamics.lr)", "0.01, 0.02, 0.05"),
                _sweep_input("launch-sweep-widths", "Widths (model.widths)", "64-16-10; 64-64-10"),
                html.Div(className="field", children=[
                    html.Label("Dynamics", className="field-label"),
                    dcc.Checklist(id="launch-sweep-dynamics", inline=True,
                                  options=[{"label": f" {k}", "value": k} for k in SWEEP_DYNAMICS]),
                ]),
                html.Div(className="buttons", children=[
                    html.Button("Launch sweep", id="launch-sweep-submit", className="btn btn-primary")]),
                html.Div(id="launch-sweep-result", className="errors"),
            ]),
        ],
    )


def _sweep_input(id_: str, label: str, placeholder: str) -> html.Div:
    return html.Div(className="field", children=[
        html.Label(label, className="field-label"),
        dcc.Input(id=id_, type="text", placeholder=placeholder, className="input", debounce=True),
    ])


def _math(text: str, cls: str = "") -> dcc.Markdown:
    """Text whose formulas (|W_h|^2, t^-3) are typeset by MathJax (dashboard.mathtext)."""
    return dcc.Markdown(to_markdown(text), mathjax=True, className=f"math inline-md {cls}".strip())


def preset_card(p: dict[str, Any]) -> html.Div:
    """One gallery card: title, the paper's figure, what to look at, the prediction, Run."""
    return html.Div(
        className="card",
        id=f"launch-card-{p['name']}",
        children=[
            html.Div(className="card-head", children=[
                html.H3(p.get("title") or p["name"]),
                html.Span(p["figure"], className="badge") if p.get("figure") else None,
            ]),
            _math(p.get("explanation") or "", "card-text"),
            html.Div([html.B("Look at: "), _math(p["look_at"])], className="card-text") if p.get("look_at") else None,
            html.Div([html.B("Prediction: "), _math(p["prediction"])], className="card-text")
            if p.get("prediction") else None,
            html.Div([html.B("Runtime: "), (p.get("runtime_estimate") or {}).get("text") or p.get("runtime") or ""],
                     className="card-text hint", id=f"launch-runtime-{p['name']}")
            if p.get("runtime_estimate") or p.get("runtime") else None,
            html.Div(className="buttons", children=[
                html.Button("Run", id={"type": "launch-run", "preset": p["name"]}, className="btn btn-primary"),
                html.Button("Edit in form", id={"type": "launch-edit", "preset": p["name"]}, className="btn"),
            ]),
        ],
    )


def order_presets(presets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's figures first (in figure order; panels of one figure in the catalogue's order, which is
    the paper's: left, middle, right), then the others by name."""
    def key(p: dict[str, Any]) -> tuple:
        fig = str(p.get("figure") or "")
        digits = "".join(ch if ch.isdigit() else " " for ch in fig).split()
        return (0 if fig else 1, int(digits[0]) if digits else 99, "" if fig else p.get("name", ""))

    return sorted(presets, key=key)


@callback(
    Output("launch-gallery", "children"),
    Output("launch-schema", "data"),
    Output("launch-presets", "data"),
    Input("launch-init", "data"),
)
async def load(_: Any):
    presets, schema = await api.get("/presets"), await api.get("/schema/spec")
    if not presets.ok:
        gallery: Any = html.Div(f"Cannot load the presets: {presets.message()}", className="error")
        items: list = []
    else:
        items = presets.data if isinstance(presets.data, list) else presets.data.get("items", [])
        gallery = [preset_card(p) for p in order_presets(items)]
    return gallery, schema.data if schema.ok else None, {p["name"]: p.get("spec") for p in items}



@callback(
    Output("launch-kind-data", "options"),
    Output("launch-kind-potential", "options"),
    Output("launch-kind-dynamics", "options"),
    Output("launch-kind-data", "value", allow_duplicate=True),
    Output("launch-kind-potential", "value", allow_duplicate=True),
    Output("launch-kind-dynamics", "value", allow_duplicate=True),
    Output("launch-sweep-dynamics", "options"),
    Input("launch-schema", "data"),
    State("launch-kind-data", "value"),
    State("launch-kind-potential", "value"),
    State("launch-kind-dynamics", "value"),
    prevent_initial_call="initial_duplicate",
)
def kind_options(schema: dict | None, *current: str | None):
    """The kinds the schema offers, each with its label and description; a dropdown keeps its value, or takes
    the default kind. The sweep's dynamics boxes get the same descriptions (as their tooltips)."""
    if not schema:
        return [], [], [], no_update, no_update, no_update, no_update
    names = ("data", "potential", "dynamics")
    kinds = [list(forms.variants(schema, name)) for name in names]
    values = [cur if cur in ks else (KIND_DEFAULTS[n] if KIND_DEFAULTS[n] in ks else (ks[0] if ks else None))
              for n, ks, cur in zip(names, kinds, current, strict=True)]
    # an unchanged value is not sent again: it would draw the form a second time, under the user's typing
    values = [no_update if v == cur else v for v, cur in zip(values, current, strict=True)]
    texts = forms.kind_texts(schema, "dynamics")
    sweep = [{"label": html.Span(f" {k}", title=texts.get(k, k)), "value": k} for k in SWEEP_DYNAMICS]
    return (*(forms.kind_options(n, ks, texts if n == "dynamics" else None) for n, ks in zip(names, kinds, strict=True)),
            *values, sweep)


def _get(spec: dict, path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fields(specs: list[forms.FieldSpec], base: dict) -> list:
    return [forms.field_component(f, _get(base, f.path)) for f in specs]


@callback(
    Output("launch-model-fields", "children"),
    Output("launch-data-fields", "children"),
    Output("launch-potential-fields", "children"),
    Output("launch-dynamics-fields", "children"),
    Output("launch-initial-fields", "children"),
    Output("launch-top-fields", "children"),
    Output("launch-model-box", "hidden"),
    Output("launch-data-box", "hidden"),
    Output("launch-potential-box", "hidden"),
    Output("launch-kind-data-box", "style"),  # not ``hidden``: the .field class's display would show it anyway
    Output("launch-kind-potential-box", "style"),
    Input("launch-schema", "data"),
    Input("launch-base", "data"),
)
def render_form(schema, base):
    """The form's sections for the base spec's kinds, each field showing the base's value (empty: the default)."""
    if not schema:
        return [], [], [], [], [], [], True, True, True, no_update, no_update
    base = base or {}
    kinds = form_kinds(base)
    network = kinds["problem"] != "potential"
    dv, pv, yv = forms.variants(schema, "data"), forms.variants(schema, "potential"), forms.variants(schema, "dynamics")
    model = _fields(forms.section_fields(schema, "MLPSpec", "model", forms.MODEL_FIELDS), base)
    data = _fields(forms.section_fields(schema, dv.get(kinds["data"]), "data"), base)
    potential = _fields(forms.section_fields(schema, pv.get(kinds["potential"]), "potential"), base)
    dynamics = _fields(forms.section_fields(schema, yv.get(kinds["dynamics"]), "dynamics"), base)
    initial_names = ("velocity_scale",) if network else ("position", "velocity")
    initial = _fields(forms.section_fields(schema, "InitialState", "initial", initial_names), base)
    top = _fields(forms.section_fields(schema, None, "", forms.TOP_FIELDS), base)
    shown, gone = {}, {"display": "none"}
    return (model, data if network else [], potential if not network else [], dynamics, initial, top,
            not network, not network, network, shown if network else gone, gone if network else shown)


@callback(
    Output("launch-base", "data", allow_duplicate=True),
    Output("launch-change-note", "children"),
    Output("launch-aside", "data"),
    Input("launch-problem", "value"),
    Input("launch-kind-data", "value"),
    Input("launch-kind-potential", "value"),
    Input("launch-kind-dynamics", "value"),
    State("launch-base", "data"),
    State("launch-schema", "data"),
    State("launch-aside", "data"),
    State({"type": "launch-field", "path": ALL, "as": ALL}, "value"),
    State({"type": "launch-field", "path": ALL, "as": ALL}, "id"),
    prevent_initial_call=True,
)
def switch(problem, data_kind, potential_kind, dynamics_kind, base, schema, aside, values, ids):
    """A kind picked: the form's spec as the user left it, with only that section switched (forms.switch_kind:
    shared fields keep their values, the new kind's own fields appear with defaults), and a note saying so."""
    base = base or {}
    shown = form_kinds(base)
    if not schema:
        return no_update, no_update, no_update
    current = form_spec(values, ids, base)
    picked = {"problem": problem, "data": data_kind, "potential": potential_kind, "dynamics": dynamics_kind}
    notes = []
    if picked["problem"] and picked["problem"] != shown["problem"]:
        defaults = {"model": DEFAULT_SPEC["model"], "data": DEFAULT_SPEC["data"],
                    "potential": {"kind": picked["potential"] or KIND_DEFAULTS["potential"]}}
        current, aside, note = forms.switch_problem(current, picked["problem"], aside, defaults)
        notes.append(note)
    now = form_kinds(current)
    for section in ("data", "potential", "dynamics"):
        relevant = section == "dynamics" or (section == "data") == (now["problem"] == "network")
        if relevant and picked[section] and picked[section] != now[section]:
            before = current.get(section) or {}
            current, note = forms.switch_kind(current, section, picked[section], schema)
            notes.append(note)
            if section == "data":
                current, note = forms.fit_widths(current, before, schema)
                notes.append(note)
    if not notes:
        return no_update, no_update, no_update
    return current, " ".join(n for n in notes if n) + " Nothing else changed.", aside


def form_spec(values: list, ids: list[dict], base: dict[str, Any]) -> dict[str, Any]:
    """The spec the form's fields describe, read with the kinds they were drawn for (the base's); the base
    itself while no field is drawn yet."""
    if not ids:
        return dict(base)
    kinds = form_kinds(base)
    return collect_spec(values, ids, kinds["problem"], kinds["data"], kinds["potential"], kinds["dynamics"])


@callback(
    Output("launch-href", "data"),
    Output("launch-pristine", "data"),
    Input({"type": "launch-field", "path": ALL, "as": ALL}, "value"),
    State({"type": "launch-field", "path": ALL, "as": ALL}, "id"),
    State("launch-base", "data"),
    State("launch-pristine", "data"),
)
def form_url(values, ids, base, pristine):
    """The form's spec as a URL (``/?spec=``), so that Back, reload and a shared link restore the form exactly.
    The first drawing is only remembered: an untouched default form keeps its plain address."""
    if not ids:
        return no_update, no_update
    href = launch_href(form_spec(values, ids, base or {}))
    if pristine is None:
        return no_update, href
    return href, no_update


# The address bar follows the form without a page load or a history entry of its own: Back from a run returns
# to the form as it was left. Only while the form is the page shown: an answer that comes after Run or Launch sweep
# has navigated away must not put the form's address back over the run's (a cold try saw /?spec=... on a run page).
clientside_callback(
    """
    function(href, pristine) {
        if (!href || window.location.pathname !== "/") { return; }
        const here = window.location.pathname + window.location.search;
        if (href === pristine && !window.location.search.includes("spec=")) { return; }
        if (here !== href) { window.history.replaceState(window.history.state, "", href); }
    }
    """,
    Input("launch-href", "data"),
    State("launch-pristine", "data"),
)


@callback(
    Output("app-nav", "href", allow_duplicate=True),
    Input({"type": "launch-edit", "preset": ALL}, "n_clicks"),
    State("launch-presets", "data"),
    prevent_initial_call=True,
)
def edit_preset(clicks, presets):
    """Load a preset's spec into the form: through the URL (``/?spec=``), so that Back and reload keep it."""
    if not ctx.triggered_id or not any(c for c in clicks if c):
        return no_update
    name = ctx.triggered_id["preset"]
    spec = dict((presets or {}).get(name) or {})
    spec.setdefault("name", name)
    return launch_href(spec)


# A form loaded from the URL (a card's "Edit in form", a run's "Edit and re-run") is scrolled into view once
# its fields are drawn.
clientside_callback(
    """
    function(fields, scroll) {
        if (!scroll || !fields || !fields.length) { return window.dash_clientside.no_update; }
        const el = document.getElementById("launch-custom");
        if (el) { el.scrollIntoView({block: "start"}); }
        return false;
    }
    """,
    Output("launch-scroll", "data"),
    Input("launch-dynamics-fields", "children"),
    State("launch-scroll", "data"),
)


@callback(
    Output("app-nav", "href", allow_duplicate=True),
    Output("launch-form-status", "children", allow_duplicate=True),
    Input({"type": "launch-run", "preset": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
async def run_preset(clicks):
    """One click: submit the preset and open its live page."""
    if not ctx.triggered_id or not any(c for c in clicks if c):
        return no_update, no_update
    name = ctx.triggered_id["preset"]
    res = await api.post("/runs", {"preset": name})
    if not res.ok:
        return no_update, html.Div(f"Could not start '{name}': {res.message()}", className="error")
    return f"/runs/{res.data['id']}", no_update


def collect_spec(values: list, ids: list[dict], problem: str, data_kind: str, potential_kind: str,
                 dynamics_kind: str) -> dict[str, Any]:
    """The spec the form describes."""
    network = problem != "potential"
    kinds = {"data": data_kind if network else None, "potential": potential_kind if not network else None,
             "dynamics": dynamics_kind, "model": "mlp" if network else None}
    collected = {i["path"]: (v, i["as"]) for v, i in zip(values, ids, strict=False)}
    spec = forms.build_spec(collected, kinds)
    spec.get("model", {}).pop("kind", None) if network else spec.pop("model", None)
    return spec


# The form's fields and kind pickers, in the order collect_spec takes them.
FORM_STATE = (
    State({"type": "launch-field", "path": ALL, "as": ALL}, "value"),
    State({"type": "launch-field", "path": ALL, "as": ALL}, "id"),
    State("launch-problem", "value"),
    State("launch-kind-data", "value"),
    State("launch-kind-potential", "value"),
    State("launch-kind-dynamics", "value"),
)


def _error_outputs(by_path: dict[str, list[str]]) -> list:
    return [" ".join(by_path.get(o["id"]["path"], [])) or None for o in ctx.outputs_list[0]]


@callback(
    Output({"type": "launch-error", "path": ALL}, "children"),
    Output("launch-errors", "children"),
    Output("launch-valid", "children"),
    Output("app-nav", "href", allow_duplicate=True),
    Input("launch-validate", "n_clicks"),
    Input("launch-submit", "n_clicks"),
    *FORM_STATE,
    State("launch-base", "data"),
    prevent_initial_call=True,
)
async def check_or_run(_v, _s, values, ids, problem, data_kind, potential_kind, dynamics_kind, base):
    """Validate with the backend; show its 422 messages next to the fields; on Run, submit and open the run.

    A spec that came from a preset or a run ("Edit in form", "Edit and re-run") keeps its name, so the new
    run's page finds the preset's teaching text again."""
    clicks = {"launch-validate": _v, "launch-submit": _s}
    if not clicks.get(ctx.triggered_id):  # fields appearing in the layout are not a click
        return [no_update] * len(ctx.outputs_list[0]), no_update, no_update, no_update
    spec = collect_spec(values, ids, problem, data_kind, potential_kind, dynamics_kind)
    if isinstance(base, dict) and isinstance(base.get("name"), str) and base["name"] and not spec.get("name"):
        spec["name"] = base["name"]
    known = {i["path"] for i in ids}
    res = await api.post("/validate", {"spec": spec})
    if not res.ok:
        detail = res.data.get("detail") if isinstance(res.data, dict) else res.data
        by_path, rest = forms.errors_by_path(detail, known)
        return _error_outputs(by_path), refusal(res.status, by_path, rest), None, no_update
    if ctx.triggered_id == "launch-submit":
        run = await api.post("/runs", {"spec": spec})
        if not run.ok:
            return _error_outputs({}), html.Div(f"Could not start the run: {run.message()}", className="error"), \
                None, no_update
        return _error_outputs({}), None, None, f"/runs/{run.data['id']}"
    laws = res.data.get("laws") if isinstance(res.data, dict) else None
    names = [(law.get("name") or law.get("id")) if isinstance(law, dict) else str(law) for law in laws or []]
    ok = html.Div(["The spec is valid.", html.Br(),
                   f"Laws that apply: {', '.join(names)}" if names else "No law of the catalogue applies."],
                  className="ok")
    return _error_outputs({}), None, ok, no_update


def refusal(status: int, by_path: dict[str, list[str]], rest: list[str]) -> list:
    """The summary of a refused spec: each field with a message, as a link that scrolls to it (the message itself
    stands once, next to its field), then what no field owns."""
    if not by_path and not rest:
        return []
    links: list = []
    for path in by_path:
        links += [", " if links else "", html.A(path, id={"type": "launch-error-link", "path": path},
                                                 className="error-link", role="button", tabIndex="0",
                                                 style={"cursor": "pointer", "textDecoration": "underline"})]
    head = [f"The backend refused the spec ({status})"]
    if links:
        head += [": fix ", *links, " (marked in red)."]
    return [html.Div(head, className="error"), html.Ul([html.Li(m) for m in rest]) if rest else None]


# Typing while the open dropdown's focus is on an option (Dash puts it on the selected one) goes to the dropdown's
# search box, so 'sgd' then Enter picks sgd; without this the letters were lost and Enter picked the focused gd.
clientside_callback(
    """
    function(schema) {
        if (window.noetherTypeToSearch) { return; }
        window.noetherTypeToSearch = true;
        document.addEventListener("keydown", function(e) {
            if (e.key.length !== 1 || e.ctrlKey || e.metaKey || e.altKey) { return; }
            const content = e.target && e.target.closest && e.target.closest(".dash-dropdown-content");
            const search = content && content.querySelector("input.dash-dropdown-search");
            if (search && e.target !== search) { search.focus(); }
        }, true);
    }
    """,
    Input("launch-schema", "data"),
)


# A field named in the summary is scrolled into view and focused (a '#' link would make the router redraw the page).
clientside_callback(
    """
    function(clicks) {
        const ctx = window.dash_clientside.callback_context;
        if (!ctx.triggered_id || !clicks.some(c => c)) { return; }
        const box = document.getElementById("launch-box-" + ctx.triggered_id.path.replace(/[._]/g, "-"));
        if (!box) { return; }
        box.scrollIntoView({block: "center"});
        const input = box.querySelector("input");
        if (input) { input.focus({preventScroll: true}); }
    }
    """,
    Input({"type": "launch-error-link", "path": ALL}, "n_clicks"),
    prevent_initial_call=True,
)


@callback(
    Output("launch-sweep-result", "children"),
    Output("app-nav", "href", allow_duplicate=True),
    Input("launch-sweep-submit", "n_clicks"),
    State("launch-sweep-seeds", "value"),
    State("launch-sweep-lrs", "value"),
    State("launch-sweep-widths", "value"),
    State("launch-sweep-dynamics", "value"),
    *FORM_STATE,
    prevent_initial_call=True,
)
async def sweep(_n, seeds, lrs, widths, dynamics, values, ids, problem, data_kind, potential_kind, dynamics_kind):
    """A grid over seeds, learning rates, widths or dynamics, submitted as one sweep."""
    if not _n:
        return no_update, no_update
    spec = collect_spec(values, ids, problem, data_kind, potential_kind, dynamics_kind)
    try:
        grid = build_grid(seeds, lrs, widths, dynamics)
    except ValueError as exc:
        return html.Div(str(exc), className="error"), no_update
    if not grid:
        return html.Div("Give at least one list of values to sweep over.", className="error"), no_update
    res = await api.post("/sweeps", {"spec": spec, "grid": grid})
    if not res.ok:
        return html.Div(f"The backend refused the sweep ({res.status}): {res.message()}", className="error"), no_update
    return None, f"/sweeps/{res.data['group']}"


def build_grid(seeds: str | None, lrs: str | None, widths: str | None, dynamics: list[str] | None) -> dict[str, list]:
    """The sweep grid (docs/api.md): dotted field paths to lists of values. A dynamics entry names only its kind:
    the core's spec editor keeps the form's learning rate (and every field the new kind shares) at each point."""
    grid: dict[str, list] = {}
    if seeds and seeds.strip():
        grid["seed"] = parse_list(seeds, int)
    if lrs and lrs.strip():
        grid["dynamics.lr"] = parse_list(lrs, float)
    if widths and widths.strip():
        grid["model.widths"] = parse_widths_list(widths)
    if dynamics:
        grid["dynamics"] = [{"kind": kind} for kind in dynamics]
    return grid

"""The run page's "What if?" sliders for potential runs (the toys): pure functions, testable without a browser.

Each slider changes one thing of the run's own spec (learning rate, initial speed, NAG's start time t0,
a friction k1 that turns ND into heavy-ball momentum) at a fixed physical time span, the backend's
``POST /api/preview`` simulates it at once, and the charts draw the new result over the previous one,
kept faintly (in the spirit of TensorFlow Playground).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import plotly.graph_objects as go
from dash import MATCH, Input, Output, State, clientside_callback, dcc, html

MAX_STEPS = 20_000  # the backend's preview limit
MAX_RECORDS = 400  # records per preview: enough for a smooth orbit, few law measurements
FAINT = 0.28  # opacity of the previous result
COLORS = {"path": "#1f5fbf", "J": "#d62728", "energy": "#2a7a2a", "loss": "#333333"}


def applies(spec: dict[str, Any] | None) -> bool:
    """Sliders are offered for potential runs whose dynamics has a learning rate (GD, ND, NAG, momentum)."""
    if not spec or not spec.get("potential"):
        return False
    return (spec.get("dynamics") or {}).get("kind") in ("gd", "nd", "nag", "momentum")


def sliders(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The sliders for ``spec``: id, label, min, max, step, value, marks (lr on a log10 scale)."""
    dyn = spec.get("dynamics") or {}
    kind = dyn.get("kind")
    lr = float(dyn.get("lr", 0.01))
    e = math.log10(lr)
    out = [dict(id="lr", label="learning rate η (log scale)", min=round(e - 1.5, 2), max=round(e + 1.0, 2), step=0.05,
                value=round(e, 2), marks={round(e - 1.5, 2): f"{lr / 10 ** 1.5:.0e}", round(e, 2): f"{lr:g}",
                                          round(e + 1.0, 2): f"{lr * 10:g}"}, log10=True)]
    if kind in ("nd", "nag", "momentum") and (spec.get("initial") or {}).get("velocity"):
        out.append(dict(id="speed", label="initial velocity (× the run's w'(0))", min=0.0, max=3.0, step=0.05, value=1.0,
                        marks={0: "0", 1: "1×", 2: "2×", 3: "3×"}))
    if kind == "nag":
        t0 = float(dyn.get("t0") or 0.5)
        out.append(dict(id="t0", label="start time t0 (friction 3/t is weaker later)", min=0.1, max=10.0, step=0.1,
                        value=round(t0, 2), marks={0.1: "0.1", 1: "1", 5: "5", 10: "10"}))
    if kind in ("nd", "momentum"):
        k1 = 0.0
        if kind == "momentum":
            k1 = (1.0 - float(dyn.get("beta", 0.9))) / math.sqrt(lr)
        out.append(dict(id="friction", label="friction k1 (w'' + k1 w' + grad L = 0)", min=0.0, max=3.0, step=0.05,
                        value=round(k1, 2), marks={0: "0 (ND)", 1: "1", 2: "2", 3: "3"}))
    return out


def slider_component(s: dict[str, Any]) -> html.Div:
    """One "What if?" control: a slider and a number box beside it. Enter in the box reruns at once (``n_submit``);
    the learning rate's box shows η itself while its slider moves along log10 η."""
    log10 = bool(s.get("log10"))
    shown = round(10 ** s["value"], 12) if log10 else s["value"]
    return html.Div(className="play-slider", children=[
        html.Label(s["label"], className="field-label"),
        html.Div(className="play-slider-row", style={"display": "flex", "alignItems": "center", "gap": "8px"}, children=[
            html.Div(dcc.Slider(id={"type": "run-play", "name": s["id"]}, min=s["min"], max=s["max"], step=s["step"],
                                value=s["value"], marks={float(k): v for k, v in s["marks"].items()},
                                updatemode="mouseup", allow_direct_input=False,
                                tooltip={"placement": "bottom", "always_visible": False}), style={"flex": "1"}),
            dcc.Input(id={"type": "run-play-box", "name": s["id"]}, type="number", value=shown, debounce=True,
                      className="play-box", style={"width": "10em", "minWidth": "10em"}, placeholder="value, Enter",
                      **({"min": 10 ** s["min"], "max": 10 ** s["max"]} if log10 else {"min": s["min"], "max": s["max"]}),
                      step="any"),
            dcc.Store(id={"type": "run-play-scale", "name": s["id"]}, data="log10" if log10 else "linear"),
        ]),
    ])


# The box and its slider follow each other; Enter in the box (n_submit) moves the slider, which reruns the preview.
clientside_callback(
    """
    function(value, nSubmit, box, scale, min, max) {
        const ctx = window.dash_clientside.callback_context;
        const trig = ctx.triggered.length ? ctx.triggered[0].prop_id : "";
        const nu = window.dash_clientside.no_update;
        if (trig.endsWith(".n_submit")) {
            const x = Number(box);
            if (box === null || box === undefined || box === "" || !isFinite(x) || (scale === "log10" && !(x > 0))) {
                return [nu, nu];
            }
            const v = scale === "log10" ? Math.log10(x) : x;
            return [Math.min(max, Math.max(min, Math.round(v * 1e6) / 1e6)), nu];
        }
        if (value === null || value === undefined) return [nu, nu];
        return [nu, scale === "log10" ? Number(Math.pow(10, value).toPrecision(6)) : value];
    }
    """,
    Output({"type": "run-play", "name": MATCH}, "value"),
    Output({"type": "run-play-box", "name": MATCH}, "value"),
    Input({"type": "run-play", "name": MATCH}, "value"),
    Input({"type": "run-play-box", "name": MATCH}, "n_submit"),
    State({"type": "run-play-box", "name": MATCH}, "value"),
    State({"type": "run-play-scale", "name": MATCH}, "data"),
    State({"type": "run-play", "name": MATCH}, "min"),
    State({"type": "run-play", "name": MATCH}, "max"),
    prevent_initial_call=True,
)


def _time_per_step(dyn: dict[str, Any], lr: float) -> float:
    return lr if dyn.get("kind") == "gd" else math.sqrt(lr)


def play_spec(spec: dict[str, Any], values: dict[str, float]) -> dict[str, Any]:
    """The run's spec with the sliders' values, over the same physical time (steps scale with the step size)."""
    out = copy.deepcopy(spec)
    for key in ("name", "description", "tags"):
        out.pop(key, None)
    dyn = dict(out.get("dynamics") or {})
    lr0 = float(dyn.get("lr", 0.01))
    t_span = int(out.get("steps", 1000)) * _time_per_step(dyn, lr0)
    lr = 10 ** float(values["lr"]) if values.get("lr") is not None else lr0
    friction = values.get("friction")
    if friction is not None and dyn.get("kind") in ("nd", "momentum"):
        beta = 1.0 - float(friction) * math.sqrt(lr)
        dyn = {"kind": "nd", "lr": lr} if friction <= 0 else {"kind": "momentum", "lr": lr, "beta": max(0.0, beta)}
    dyn["lr"] = lr
    if values.get("t0") is not None and dyn.get("kind") == "nag":
        dyn["t0"] = float(values["t0"])
    out["dynamics"] = dyn
    initial = dict(out.get("initial") or {})
    if values.get("speed") is not None and initial.get("velocity"):
        initial["velocity"] = [float(values["speed"]) * v for v in initial["velocity"]]
    out["initial"] = initial
    steps = max(1, min(MAX_STEPS, round(t_span / _time_per_step(dyn, lr))))
    out["steps"] = steps
    out["record_every"] = max(1, math.ceil(steps / MAX_RECORDS))
    out["dtype"] = "float64"
    return out


def describe(values: dict[str, float], spec: dict[str, Any]) -> str:
    """One line naming a result, e.g. 'η = 1e-4, speed 1.5×, t0 = 2'."""
    parts = [f"η = {10 ** float(values['lr']):.2g}"] if values.get("lr") is not None else []
    if values.get("speed") is not None:
        parts.append(f"speed {float(values['speed']):g}×")
    if values.get("t0") is not None:
        parts.append(f"t0 = {float(values['t0']):g}")
    if values.get("friction") is not None:
        parts.append(f"k1 = {float(values['friction']):g}")
    return ", ".join(parts) or spec.get("name", "")


def _scalar_series(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(column, label, color) of the quantities worth drawing: |J| (or its components), the energy, the loss."""
    cols = result.get("columns") or {}
    out = []
    if "angular_momentum" in cols:
        out.append(("angular_momentum", "|J|", COLORS["J"]))
    for a, color in zip("xyz", ("#9467bd", "#ff7f0e", COLORS["J"]), strict=True):
        if f"typed/j{a}" in cols and "angular_momentum" not in cols:
            out.append((f"typed/j{a}", f"J_{a}", color))
    if "energy" in cols:
        out.append(("energy", "energy |w'|²/2 + L", COLORS["energy"]))
    out.append(("loss", "loss L(w)", COLORS["loss"]))
    return [s for s in out if s[0] in cols]


def figures(current: dict[str, Any], previous: dict[str, Any] | None, present: bool = False) -> tuple[go.Figure, go.Figure]:
    """(3D path, quantities against t): the current result solid, the previous one faint."""
    size = 20 if present else 13
    width = 5 if present else 3
    path = go.Figure()
    lines = go.Figure()
    for result, faint in ((previous, True), (current, False)):
        if not result:
            continue
        label = ("before: " if faint else "now: ") + result.get("label", "")
        pos = result.get("position") or []
        if pos and len(pos[0]) >= 3:
            path.add_trace(go.Scatter3d(
                x=[p[0] for p in pos], y=[p[1] for p in pos], z=[p[2] for p in pos], mode="lines", name=label,
                opacity=FAINT if faint else 1.0, line=dict(color="#888888" if faint else COLORS["path"], width=width)))
        t = (result.get("columns") or {}).get("t") or []
        for col, name, color in _scalar_series(result):
            lines.add_trace(go.Scatter(
                x=t, y=result["columns"][col], mode="lines", name=(name if not faint else name + " (before)"),
                opacity=FAINT if faint else 1.0, legendgroup=col, showlegend=not faint,
                line=dict(color=color, width=width, dash="dot" if faint else "solid")))
    r = 1.6
    eye = _face_on((current or {}).get("position") or [])
    path.update_layout(
        scene_camera=dict(eye=eye) if eye else None,
        title=dict(text="Path of w (previous result faint)", font=dict(size=size + 2)), font=dict(size=size),
        margin=dict(l=0, r=0, t=40, b=0), showlegend=True, legend=dict(orientation="h", y=-0.02),
        uirevision="play",
        scene=dict(aspectmode="cube", xaxis=dict(range=[-r, r], title="x"), yaxis=dict(range=[-r, r], title="y"),
                   zaxis=dict(range=[-r, r], title="z")))
    lines.update_layout(
        title=dict(text="Against physical time t (previous result dotted)", font=dict(size=size + 2)),
        font=dict(size=size), template="plotly_white", margin=dict(l=60, r=20, t=45, b=60),
        xaxis_title="physical time t", legend=dict(orientation="h", yanchor="top", y=-0.18), uirevision="play")
    return path, lines


def _face_on(pos: list[list[float]]) -> dict[str, float] | None:
    """A camera looking at the path's plane face-on (along w(0) x w(t) with the largest area), if it has one."""
    if len(pos) < 3 or len(pos[0]) < 3:
        return None
    p0 = pos[0]
    best, n = 0.0, None
    for q in pos[1:: max(1, len(pos) // 50)]:
        c = (p0[1] * q[2] - p0[2] * q[1], p0[2] * q[0] - p0[0] * q[2], p0[0] * q[1] - p0[1] * q[0])
        size = math.sqrt(sum(x * x for x in c))
        if size > best:
            best, n = size, c
    if n is None or best < 1e-9:
        return None  # a straight path: the default view is across it
    k = 2.0 / best
    return {"x": n[0] * k + 0.25, "y": n[1] * k + 0.25, "z": n[2] * k + 0.25}


def verdict_line(result: dict[str, Any]) -> str:
    """'|J| holds · energy holds ...': the laws that apply and their verdicts."""
    laws = [law for law in result.get("laws") or [] if law.get("verdict") != "not applicable"]
    return " · ".join(f"{law.get('name') or law.get('id')}: {law.get('verdict')}" for law in laws[:5])

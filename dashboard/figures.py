"""Figure builders: pure functions from series columns (``dashboard.series``) to plotly figures.

No I/O, no Dash: each takes plain lists and returns a ``go.Figure``, so tests call them without a
``line``        ``x`` (``step`` or ``t``) against column ``y``; ``transform: "drift"`` draws y - y(0)
``path3d``      the trajectory of a 3-vector view ``col`` (``position``)
``head3d``      the current point of ``col`` (the replay slider moves it)
``particles``   the current 3D points of ``col`` (``particles``: first-layer neurons W_1[i,:])
``jvec``        the angular-momentum direction J = w' x w (or column ``col``), scaled to ``scale``
``plane``       the plane through 0 normal to J (the orbit plane of Sec. 6.1), half-size ``scale``
``heatmap``     rows of the per-neuron view ``col`` over time; ``transform: "drift"`` subtracts row 0
``hist``        histogram of the per-neuron view ``col`` at the current point
``matrix``      heatmap of the matrix view ``col`` at the current point
=============== ==============================================================================
=======
browser. Every trace the live loop (``assets/live-*.js``) keeps growing carries ``meta["live"]``, which
names what to draw from each incoming record: one of ``LIVE_KINDS``, declared with their meaning once,
in ``assets/live-kinds.json`` (read here and by the tests; live-4-render.js has one drawer per kind).

SVG traces only (``Scatter``, ``Scatter3d``): ``Scattergl`` froze headless Chromium without a GPU.
Series longer than ``series.MAX_POINTS`` are drawn as min/max envelopes, and the chart says so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from dashboard.series import MAX_POINTS, is_finite, minmax_envelope, stride_indices

LIVE_KINDS: dict[str, str] = json.loads((Path(__file__).parent / "assets" / "live-kinds.json").read_text())
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
PRED_DASH = "dash"
TRAIL_POINTS = 5000  # 3D trajectories keep at most this many points
HEATMAP_ROWS = 300  # per-neuron heatmaps show at most this many moments in time
VIEW_SUFFIXES = ("pred", "pred_discrete", "neurons", "matrix", "vector",
                 "pred_modified", "error_discrete", "error_modified", "error_gf")  # the last four: noether.watch


# plotly_white with ticks in powers of ten (1e-15 reads "10^-15", never the SI prefixes "1f" or "100p")
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
for _axis in (TEMPLATE.layout.xaxis, TEMPLATE.layout.yaxis):
    _axis.exponentformat = "power"


def sequential_colours(n: int, scale: str = "Viridis") -> list[str]:
    """n colours along one sequential scale, small values dark (the sweep page's and Compare's ordered runs)."""
    from plotly.colors import sample_colorscale

    return sample_colorscale(scale, [i / max(1, n - 1) * 0.85 for i in range(n)]) if n else []


def _base_layout(title: str, **extra: Any) -> dict[str, Any]:
    layout = dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)),
        margin=dict(l=60, r=20, t=45, b=80),
        template=TEMPLATE,
        uirevision="keep",  # zoom and legend clicks survive live updates
        legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0),
        hovermode="x unified",
    )
    layout.update(extra)
    return layout


def _downsample_note(fig: go.Figure, n: int) -> None:
    """Say on the chart that what is drawn is an envelope, not every point."""
    fig.add_annotation(
        text=f"{n:,} points drawn as min/max envelope",
        xref="paper", yref="paper", x=1.0, y=1.0, showarrow=False, xanchor="right", yanchor="bottom",
        font=dict(size=10, color="#666"), name="downsampled",
    )


def _xy(x: Sequence[float], y: Sequence[Any], max_points: int) -> tuple[list, list, bool]:
    if len(x) > max_points:
        xs, ys = minmax_envelope(x, y, buckets=max_points // 4)
        return xs, ys, True
    return list(x), [v if is_finite(v) else None for v in y], False


def _x_label(x_name: str) -> str:
    return "physical time t" if x_name == "t" else "step k"


# readable names of the catalogue's law ids, for legends (the summary's full names come only when a run ends)
LAW_LABELS = {
    "angular_momentum": "angular momentum |J|", "orbit_plane": "distance from the orbit plane",
    "rotation_residual": "rotation defect (relative torque)", "energy": "energy |w'|^2/2 + L",
    "balance_sum": "balance summed over layers", "nd_bound": "ND bound", "velocity_bound": "velocity bound",
    "ntk_drift": "NTK drift", "balance": "balance", "residual": "residual", "linear_balance": "balance matrix",
    "chain": "p^k chain", "typed/q": "quantity", "translation": "translation", "scale": "scale",
}


def pointed_at(text: str | None, ids: Sequence[str]) -> list[str]:
    """The law ids a preset's "Look at" text names as such (``(law balance/h2)``): their charts come first."""
    named = set(re.findall(r"\blaw ([A-Za-z0-9_/\-]+)", text or ""))
    return [i for i in ids if i in named]


def head_name(name: str | None, limit: int = 60) -> str:
    """A law's name up to its first top-level comma (``|J|, J = w' w^T - ...`` -> ``|J|``), at most ``limit`` long."""
    if not name:
        return ""
    depth = 0
    for i, ch in enumerate(name):
        depth += ch in "([<{" and 1 or 0
        depth -= ch in ")]>}" and 1 or 0
        if ch == "," and depth <= 0:
            name = name[:i]
            break
    return name if len(name) <= limit else name[: limit - 1] + "…"


def law_label(law_id: str) -> str:
    """A law id as a reader would name it: ``balance/h2`` -> ``balance, layer 2``, ``typed/jx`` -> ``J_x``."""
    if law_id in LAW_LABELS:
        return LAW_LABELS[law_id]
    if law_id.startswith("typed/j"):
        return f"J_{law_id[len('typed/j'):]}" if law_id[-1] in "xyz" else f"n . J ({law_id[len('typed/j'):]})"
    family, _, where = law_id.partition("/")
    name = LAW_LABELS.get(family, family.replace("_", " "))
    if where.startswith("h") and where[1:].replace("-h", "").isdigit():
        layers = where[1:].split("-h")
        return f"{name}, layer {layers[0]}" if len(layers) == 1 else f"{name}, layers {layers[0]}-{layers[1]}"
    if family == "typed" and where.startswith("q"):
        return f"quantity {where[1:]}"
    return f"{name} ({where.replace('_', ' ')})" if where else name


# the dynamics whose exact per-step prediction a law chart draws (``<law>:pred_discrete``), by spec kind
DYNAMICS_NAMES = {"gd": "GD", "sgd": "SGD (its own minibatches)", "momentum": "heavy-ball momentum",
                  "nd": "ND", "nag": "NAG", "leapfrog": "leapfrog", "adam": "Adam", "rk4": "RK4"}


FLOW_LABEL = "gradient flow's prediction"  # before the run's summary says what it is (a live run)


def flow_label(prediction: str) -> str:
    """The legend of gradient flow's prediction (dashed) beside GD's exact one, from the law's prediction text.

    The text is the run summary's (e.g. 'conserved under GF; GD: exactly ...', 'decays as Q(0) exp(-2 lambda t),
    lambda = 0.01; SGD: exactly ...', noether.watch's 'gradient flow: decays as exp(-2 lambda t) plus the eta-weighted
    gradient term (modified flow); exact step by step ...'): its first clause is the flow's, which the legend states:
    'conserved' only where the law says constant, a decay where weight decay makes it decay. Without a text (a live
    run, before its summary) the legend names the curve and claims nothing."""
    text = (prediction or "").split(";")[0].strip()
    text = text.removeprefix("gradient flow:").strip()
    text = text.split(" plus the ")[0]  # noether.watch: the modified flow's term has a curve of its own
    for suffix in (" under GF", " under gradient flow"):
        text = text.removesuffix(suffix)
    text = text.strip()
    if not text:
        return FLOW_LABEL
    words = set(re.findall(r"[a-z]+", text.lower()))
    if words & {"constant", "conserved"} and not words & {"exp", "decays", "grows", "drifts"}:
        return "gradient flow: conserved"
    return f"gradient flow: {text}"


def discrete_label(dynamics: str | None) -> str:
    """The legend of a law's exact per-step prediction, naming the run's own dynamics."""
    name = DYNAMICS_NAMES.get(dynamics or "", dynamics or "")
    return f"{name}, exact step by step (the verdict's reference)" if name else \
        "exact step by step (the verdict's reference)"


LOG_FLOOR_NOTE = "0 drawn at the smallest positive value shown"


def log_floor(values: Sequence[Any]) -> tuple[list[Any], bool]:
    """Values for a log axis: an exact 0 (a loss that reaches 0) becomes the smallest positive value shown.

    A log axis cannot draw 0 (plotly leaves the point out, and the curve ends there); clipping keeps the curve
    on the axis's floor, and the chart says so (``LOG_FLOOR_NOTE``). Negative values stay out (None).
    """
    floor = min((v for v in values if is_finite(v) and v > 0), default=None)
    out, clipped = [], False
    for v in values:
        if is_finite(v) and v <= 0:
            if v == 0 and floor is not None:
                out.append(floor)
                clipped = True
            else:
                out.append(None)
        else:
            out.append(v)
    return out, clipped


def _floor_note(fig: go.Figure) -> None:
    fig.add_annotation(text=LOG_FLOOR_NOTE, xref="paper", yref="paper", x=0.0, y=1.0, showarrow=False,
                       xanchor="left", yanchor="bottom", font=dict(size=10, color="#666"), name="log-floor")


# ---------------------------------------------------------------------------------------------
# Curves


def loss_figure(
    columns: dict[str, list], x_name: str = "step", log_y: bool = True, max_points: int = MAX_POINTS
) -> go.Figure:
    """The loss L(w_k) against step or time, on a log axis by default."""
    x = columns.get(x_name) or []
    y = columns.get("loss") or []
    clipped = False
    if log_y:  # a loss of exactly 0 stays on the chart, at the floor (live-4-render.js does the same: meta "log_floor")
        y, clipped = log_floor(y)
    xs, ys, down = _xy(x, y, max_points)
    fig = go.Figure(
        go.Scatter(
            x=xs, y=ys, mode="lines", name="loss", line=dict(color=PALETTE[0]),
            meta={"live": "line", "x": x_name, "y": "loss", "log_floor": True},
        ),
        layout=_base_layout("Loss", xaxis_title=_x_label(x_name), yaxis_title="L(w)"),
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    if down:
        _downsample_note(fig, len(x))
    if clipped:
        _floor_note(fig)
    return fig


def law_terms(columns: dict[str, list] | Sequence[str], law_id: str) -> list[str]:
    """Scalar companion columns of a law (e.g. its two norms ``balance/h2:|W_2|^2``), not its views."""
    names = columns.keys() if isinstance(columns, dict) else columns
    prefix = law_id + ":"
    return [c for c in names if c.startswith(prefix) and c[len(prefix):] not in VIEW_SUFFIXES]


def law_figure(
    columns: dict[str, list],
    law_id: str,
    name: str = "",
    prediction: str = "",
    x_name: str = "step",
    max_points: int = MAX_POINTS,
    dynamics: str | None = None,
) -> go.Figure:
    """A law's measured value with the paper's prediction beside it (dashed).

    ``dynamics`` (the spec's kind: gd, sgd, ...) names the exact per-step prediction where the run has one.

    When the record carries the law's terms (e.g. |W_2|^2 and |W_3|^2 of the balance
    |W_2|^2 - |W_3|^2), they go on the left axis and the law on the right one, as in Fig. 1:
    the norms move a lot while their difference stays put.
    """
    x = columns.get(x_name) or []
    terms = law_terms(columns, law_id)
    two_axes = bool(terms)
    law_axis = "y2" if two_axes else "y"
    fig = go.Figure()
    down = False
    for i, term in enumerate(terms):
        xs, ys, d = _xy(x, columns[term], max_points)
        down |= d
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=term[len(law_id) + 1:], yaxis="y",
            line=dict(color=PALETTE[(i + 2) % len(PALETTE)], width=1.5),
            meta={"live": "line", "x": x_name, "y": term},
        ))
    xs, ys, d = _xy(x, columns.get(law_id) or [], max_points)
    down |= d
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="lines", name=name or law_label(law_id), yaxis=law_axis,
        line=dict(color=PALETTE[0], width=2.5), meta={"live": "line", "x": x_name, "y": law_id},
    ))
    pred_col, discrete_col = law_id + ":pred", law_id + ":pred_discrete"
    discrete = discrete_col in columns
    if pred_col in columns or not columns:
        xs, ys, d = _xy(x, columns.get(pred_col) or [], max_points)
        label = flow_label(prediction) if discrete else (f"prediction: {prediction}" if prediction else "prediction")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=label,
            yaxis=law_axis, line=dict(color=PALETTE[1], dash=PRED_DASH, width=2),
            meta={"live": "line", "x": x_name, "y": pred_col},
        ))
    if discrete:  # GD's exact per-step identity: what the verdict compares the measured value with
        xs, ys, d = _xy(x, columns.get(discrete_col) or [], max_points)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=discrete_label(dynamics),
            yaxis=law_axis, line=dict(color="#222222", dash="dot", width=2.5),
            meta={"live": "line", "x": x_name, "y": discrete_col},
        ))
    modified_col = law_id + ":pred_modified"
    if modified_col in columns:  # noether.watch: the modified flow (Kunin et al.), O(eta^2) from SGD's path
        xs, ys, d = _xy(x, columns.get(modified_col) or [], max_points)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name="modified flow (finite learning rate)",
            yaxis=law_axis, line=dict(color=PALETTE[3 % len(PALETTE)], dash="dashdot", width=2),
            meta={"live": "line", "x": x_name, "y": modified_col},
        ))
    layout = _base_layout(name or law_label(law_id), xaxis_title=_x_label(x_name))
    if two_axes:
        layout.update(
            yaxis=dict(title="terms"),
            yaxis2=dict(title=name or law_label(law_id), overlaying="y", side="right", showgrid=False),
            # the title on its own row at the top, the two span buttons on the row below it: a long title
            # ("Balance of consecutive layers (h = 2)") is not hidden under the buttons
            title=dict(text=name or law_label(law_id), x=0.01, xanchor="left", font=dict(size=15), yref="container",
                       y=1.0, yanchor="top", pad=dict(t=10)),
            margin=dict(l=60, r=60, t=72, b=80),
            # Fig. 1: the right axis keeps its own offset but spans what the left one spans, so a conserved
            # difference reads flat next to the moving norms; live-4-render.js keeps it so and draws the zoom buttons' scale
            meta={"match_span": {"y2": "y"}},
            updatemenus=[span_buttons()],
        )
        span = matched_range([columns.get(t) or [] for t in terms], [columns.get(c) or [] for c in
                                                                     (law_id, pred_col, discrete_col)])
        if span is not None:
            layout["yaxis2"]["range"] = span
            layout["yaxis2"]["autorange"] = False
    fig.update_layout(**layout)
    if down:
        _downsample_note(fig, len(x))
    return fig


SPAN_LABEL = "difference on the norms' scale"
ZOOM_LABEL = "zoom into the difference"


def span_buttons() -> dict[str, Any]:
    """Two buttons over a two-axis law chart: the difference on the norms' scale (default) or zoomed into.

    ``method: "skip"``: live-4-render.js handles the click (it owns the axes' ranges) and writes the zoom factor into
    the second label (``zoom into the difference (x 3,400)``).
    """
    return dict(
        type="buttons", direction="right", showactive=True, active=0, x=1.0, xanchor="right", y=1.0,
        yanchor="bottom", pad=dict(t=0, r=0, b=2), font=dict(size=11), name="span",
        buttons=[dict(label=SPAN_LABEL, method="skip", args=[None]), dict(label=ZOOM_LABEL, method="skip", args=[None])],
    )


def _extent(series: Sequence[Sequence[Any]]) -> tuple[float, float] | None:
    vals = [v for y in series for v in y if is_finite(v)]
    return (min(vals), max(vals)) if vals else None


def matched_range(left: Sequence[Sequence[Any]], right: Sequence[Sequence[Any]]) -> list[float] | None:
    """The right axis's range: centred on its own values, spanning at least what the left axis's values span.

    A constant on the right then reads flat while the left curves move (Fig. 1: the norms grow, their
    difference stays put). None when either side has no finite value yet.
    """
    lo_hi, r = _extent(left), _extent(right)
    if lo_hi is None or r is None:
        return None
    span = max(lo_hi[1] - lo_hi[0], r[1] - r[0])
    if span <= 0:
        return None
    mid, pad = (r[0] + r[1]) / 2, 0.05 * span
    return [mid - span / 2 - pad, mid + span / 2 + pad]


def drift_figure(
    columns: dict[str, list], ids: Sequence[str], x_name: str = "step", max_points: int = MAX_POINTS
) -> go.Figure:
    """Each law's drift from its initial value, Q(t) - Q(0): flat at zero when the law holds (legend: readable names)."""
    return _lines_figure(columns, "Drift from the initial value", "Q(t) - Q(0)", [(i, law_label(i)) for i in ids],
                         x_name, max_points, transform="drift")


def norms_figure(
    columns: dict[str, list], names: Sequence[str], x_name: str = "step", max_points: int = MAX_POINTS
) -> go.Figure:
    """The squared norm of each parameter tensor (``sq_norm/W1`` drawn as |W1|^2): what the laws balance."""
    return _lines_figure(columns, "Squared norms of the parameters", "|.|^2",
                         [(c, f"|{c.split('/', 1)[-1]}|^2") for c in names], x_name, max_points)


def _lines_figure(
    columns: dict[str, list], title: str, y_title: str, lines: Sequence[tuple[str, str]], x_name: str,
    max_points: int, transform: str | None = None,
) -> go.Figure:
    """Several columns as lines on one axis, ``lines`` = (column, legend name); ``transform="drift"``
    draws Q(t) - Q(0) (live-4-render.js applies the same transform to the streamed points)."""
    x = columns.get(x_name) or []
    fig = go.Figure(layout=_base_layout(title, xaxis_title=_x_label(x_name), yaxis_title=y_title))
    down = False
    for i, (col, name) in enumerate(lines):
        y = columns.get(col) or []
        if transform == "drift":
            y0 = next((v for v in y if is_finite(v)), None)
            y = [v - y0 if is_finite(v) and y0 is not None else None for v in y]
        xs, ys, d = _xy(x, y, max_points)
        down |= d
        meta = {"live": "line", "x": x_name, "y": col} | ({"transform": transform} if transform else {})
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)]),
                                 meta=meta))
    if down:
        _downsample_note(fig, len(x))
    return fig


# Laws whose prediction is a power law of the physical time t, by (law id, flow): the exponent.
# NAGF: J(t) = J(t0) (t0/t)^3 (eq. 46), a straight line of slope -3 on log-log axes.
POWER_LAWS = {("angular_momentum", "nagf"): -3.0}


def flow_of_spec(spec: dict[str, Any]) -> str | None:
    """The continuous flow a spec's dynamics discretises (gf, nd, nagf, general; None without a paper flow), as
    the core's kind records say (noether.laws.conditions.flow_of; tests/dashboard/test_figures.py checks they
    agree for every kind). The dashboard does not import the core, so it reads the spec's JSON."""
    dyn = spec.get("dynamics") or {}
    kind = dyn.get("kind")
    if kind == "rk4":
        return dyn.get("flow")
    return {"gd": "gf", "sgd": "gf", "nd": "nd", "leapfrog": "nd", "nag": "nagf", "momentum": "general",
            "general": "general"}.get(kind)


def power_law_exponent(law_id: str, flow: str | None) -> float | None:
    """The exponent of the law's power-law prediction under this flow (None if it is not a power law)."""
    return POWER_LAWS.get((law_id, flow or ""))


def fit_slope(x: Sequence[Any], y: Sequence[Any]) -> float | None:
    """Least-squares slope of log y against log x over the points where both are finite and positive."""
    pts = [(math.log(a), math.log(b)) for a, b in zip(x, y, strict=False)
           if is_finite(a) and is_finite(b) and a > 0 and b > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def power_law_figure(
    columns: dict[str, list], law_id: str, exponent: float, name: str = "", max_points: int = MAX_POINTS
) -> go.Figure:
    """A power law on log-log axes: the measured value against t, the predicted line, the fitted slope.

    The prediction (``<law_id>:pred``, e.g. |J(t0)| (t0/t)^3) is the reference line of slope ``exponent``;
    the fit is a least-squares line through the measured points (live-4-render.js refits it as points arrive and
    writes its slope into the legend and the title).
    """
    x = columns.get("t") or []
    y = columns.get(law_id) or []
    slope = fit_slope(x, y)
    label = head_name(name) or law_label(law_id)  # "|J|", not the whole definition: the title must fit the chart
    title = f"{label} against t (log-log): slope {exponent:g} predicted" + (
        f", fitted {slope:.3f}" if slope is not None else "")
    fig = go.Figure(layout=_base_layout(title, xaxis_title="physical time t (log)", yaxis_title=f"{label} (log)",
                                        meta={"power_law": {"exponent": exponent, "law": law_id}}))
    xs, ys, down = _xy(x, y, max_points)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="measured", line=dict(color=PALETTE[0], width=2.5),
                             meta={"live": "line", "x": "t", "y": law_id}))
    xs, ys, _ = _xy(x, columns.get(law_id + ":pred") or [], max_points)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"prediction: slope {exponent:g}",
                             line=dict(color=PALETTE[1], dash=PRED_DASH, width=2),
                             meta={"live": "line", "x": "t", "y": law_id + ":pred", "slope": exponent}))
    fx, fy = _fit_line(x, y, slope)
    fig.add_trace(go.Scatter(x=fx, y=fy, mode="lines", line=dict(color="#222222", dash="dot", width=1.5),
                             name=f"fit: slope {slope:.3f}" if slope is not None else "fit",
                             meta={"live": "fit", "x": "t", "y": law_id}))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    if down:
        _downsample_note(fig, len(x))
    return fig


def _fit_line(x: Sequence[Any], y: Sequence[Any], slope: float | None) -> tuple[list, list]:
    pts = [(a, b) for a, b in zip(x, y, strict=False) if is_finite(a) and is_finite(b) and a > 0 and b > 0]
    if slope is None or not pts:
        return [], []
    mx = sum(math.log(a) for a, _ in pts) / len(pts)
    my = sum(math.log(b) for _, b in pts) / len(pts)
    ends = [pts[0][0], pts[-1][0]]
    return ends, [math.exp(my + slope * (math.log(a) - mx)) for a in ends]


# ---------------------------------------------------------------------------------------------
# 3D views


def sphere_wireframe(radius: float = 1.0, n: int = 64) -> go.Scatter3d:
    """The sphere |w| = radius (the toy's minima, Sec. 6.1) as five great and small circles.

    Lines, not a Surface: a surface costs a software-rendered WebGL frame hundreds of milliseconds
    in a browser without a GPU, lines a few.
    """
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    angles = [2 * math.pi * k / n for k in range(n + 1)]
    for lat in (0.0, math.pi / 4, -math.pi / 4):  # equator and two parallels
        rr, z = radius * math.cos(lat), radius * math.sin(lat)
        xs += [rr * math.cos(a) for a in angles] + [None]
        ys += [rr * math.sin(a) for a in angles] + [None]
        zs += [z] * len(angles) + [None]
    for lon in (0.0, math.pi / 2):  # two meridians
        xs += [radius * math.cos(a) * math.cos(lon) for a in angles] + [None]
        ys += [radius * math.cos(a) * math.sin(lon) for a in angles] + [None]
        zs += [radius * math.sin(a) for a in angles] + [None]
    return go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", name=f"|w| = {radius:g}", hoverinfo="skip",
                        line=dict(color="#999", width=2))


def cross(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def angular_momentum(position: Sequence[float], velocity: Sequence[float]) -> list[float]:
    """J = w' x w, the paper's sign (Sec. 6.1, eq. 48): conserved by Newtonian dynamics on a rotation-invariant loss."""
    return cross(velocity, position)


def _norm(v: Sequence[float]) -> float:
    return math.sqrt(sum(c * c for c in v))


def orbit_plane(normal: Sequence[float], half_size: float, n: int = 2) -> tuple[list, list, list]:
    """A square of the plane through 0 normal to ``normal`` (the orbit plane when normal = J)."""
    length = _norm(normal)
    if length == 0 or not all(map(math.isfinite, normal)):
        return [], [], []
    nx, ny, nz = (c / length for c in normal)
    helper = (1.0, 0.0, 0.0) if abs(nx) < 0.9 else (0.0, 1.0, 0.0)
    u = cross((nx, ny, nz), helper)
    lu = _norm(u)
    u = [c / lu for c in u]
    v = cross((nx, ny, nz), u)
    grid = [-half_size, half_size] if n == 2 else [half_size * (2 * i / (n - 1) - 1) for i in range(n)]
    xs = [[a * u[0] + b * v[0] for b in grid] for a in grid]
    ys = [[a * u[1] + b * v[1] for b in grid] for a in grid]
    zs = [[a * u[2] + b * v[2] for b in grid] for a in grid]
    return xs, ys, zs


def plane_outline(normal: Sequence[float], half_size: float) -> tuple[list, list, list]:
    """The square outline of ``orbit_plane`` (a closed line: cheap to draw, unlike a surface)."""
    xs, ys, zs = orbit_plane(normal, half_size)
    if not xs:
        return [], [], []
    order = [(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)]
    return [xs[a][b] for a, b in order], [ys[a][b] for a, b in order], [zs[a][b] for a, b in order]


FREE_EYE = (1.4, 1.4, 0.9)  # plotly's usual oblique view
TAN_HALF_FOV = math.tan(math.pi / 8)  # plotly's 3D camera sees 45 degrees from top to bottom
FILL = 0.85  # the framed orbit fills this share of the view's height
SEGMENT_FILL = 0.65  # a straight path: as long as this share of the view's height (the scene is wider than tall)


def _scene(title: str, aspectmode: str = "cube") -> dict[str, Any]:
    """A 3D scene with equal scales on its three axes: ``cube`` with equal ranges, or ``data``."""
    return _base_layout(
        title, hovermode="closest", margin=dict(l=0, r=0, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=0.0, xanchor="left", x=0.0),
        scene=dict(aspectmode=aspectmode, xaxis_title="w1", yaxis_title="w2", zaxis_title="w3",
                   camera=dict(eye=dict(zip("xyz", FREE_EYE, strict=True)))),
    )


def _unit(v: Sequence[float]) -> list[float] | None:
    n = _norm(v)
    return [c / n for c in v] if n > 0 and math.isfinite(n) else None


def _perpendicular(a: Sequence[float]) -> list[float]:
    """A unit vector perpendicular to the unit vector ``a`` (in the horizontal plane when it can)."""
    helper = (0.0, 0.0, 1.0) if abs(a[2]) < 0.9 else (1.0, 0.0, 0.0)
    return _unit(cross(a, helper)) or [1.0, 0.0, 0.0]


def _camera(center: Sequence[float], eye_dir: Sequence[float], distance: float, up: Sequence[float]) -> dict[str, Any]:
    """A plotly camera at ``center + distance * eye_dir`` looking at ``center`` (scene units: the cube is 1 wide)."""
    eye = [c + distance * e for c, e in zip(center, eye_dir, strict=True)]
    return dict(eye=dict(zip("xyz", eye, strict=True)), up=dict(zip("xyz", up, strict=True)),
                center=dict(zip("xyz", center, strict=True)))


def reach(radius: float | None, position: Sequence[float] | None, velocity: Sequence[float] | None) -> float:
    """How far from 0 the toy's path can go: |w|^2 <= r^2 + sqrt(E) with E = |w'(0)|^2/2 + (|w(0)|^2 - r^2)^2
    (energy never grows), or max(|w(0)|, r) for a first-order path (no velocity)."""
    r = radius or 1.0
    w0 = _norm(position) if position is not None else r
    if velocity is None:
        return max(w0, r)
    energy = 0.5 * _norm(velocity) ** 2 + (w0 * w0 - r * r) ** 2
    return max(w0, math.sqrt(r * r + math.sqrt(energy)))


def camera_views(
    position: Sequence[float] | None, velocity: Sequence[float] | None = None, half_range: float = 1.0,
    radius: float | None = None,
) -> dict[str, Any]:
    """The cameras of the 3D view from the run's start (Sec. 6.1): ``face-on``, ``edge-on``, ``free``.

    With angular momentum J = w'(0) x w(0) != 0 the orbit stays in the plane normal to J: face-on looks
    along J at the whole orbit (the rosette of Fig. 3), edge-on along the plane (the orbit is a line: it stays
    in it). With J = 0 (gradient flow, or a start at rest) the path is a radial segment from w(0) towards the
    sphere |w| = radius: face-on looks across it, framed on it, edge-on along it. The scene's axes span
    +-``half_range`` (a cube); ``default`` names the view the page opens with.
    """
    free = dict(eye=dict(zip("xyz", FREE_EYE, strict=True)), up=dict(x=0, y=0, z=1), center=dict(x=0, y=0, z=0))
    a = _unit(position) if position is not None and len(position) == 3 else None
    if a is None:
        return {"face-on": free, "edge-on": free, "free": free, "default": "free"}
    scale = 1.0 / (2.0 * half_range)  # data -> scene units
    origin = [0.0, 0.0, 0.0]
    # the eye sits at w x w' = -J, looking along J: the orbit turns counter-clockwise on the screen
    jv = cross(position, velocity) if velocity is not None and len(velocity) == 3 else None
    if jv is not None and _norm(jv) > 1e-9 * _norm(position) * _norm(velocity):
        j = _unit(jv)
        in_plane = _unit(cross(j, a)) or _perpendicular(j)
        extent = reach(radius, position, velocity) * scale  # the orbit's radius in scene units
        d = extent / (FILL * TAN_HALF_FOV)
        return {"face-on": _camera(origin, j, d, a), "edge-on": _camera(origin, in_plane, d, j), "free": free,
                "default": "face-on"}
    end = [c * (radius or _norm(position)) for c in a]
    length = _norm([e - p for e, p in zip(end, position, strict=True)]) * scale
    mid = [(e + p) / 2 * scale for e, p in zip(end, position, strict=True)]
    across = _perpendicular(a)
    up = _unit(cross(across, a)) or [0.0, 0.0, 1.0]  # the segment runs across the screen, left to right
    d = max(length, 0.2) / (2.0 * SEGMENT_FILL * TAN_HALF_FOV)
    return {"face-on": _camera(mid, across, d, up), "edge-on": _camera(mid, a, max(d, 0.8), up), "free": free,
            "default": "face-on"}


VIEW_LABELS = {"face-on": "face-on", "edge-on": "edge-on", "free": "free"}


def camera_buttons(views: dict[str, Any]) -> dict[str, Any]:
    """Buttons face-on / edge-on / free over a 3D view (``method: "skip"``: live-4-render.js sets the camera)."""
    names = ["face-on", "edge-on", "free"]
    return dict(
        type="buttons", direction="right", showactive=True, active=names.index(views.get("default", "free")),
        x=0.0, xanchor="left", y=1.0, yanchor="top", pad=dict(t=0, b=2, l=4), font=dict(size=11), name="camera",
        buttons=[dict(label=VIEW_LABELS[n], method="skip", args=[None]) for n in names],
    )


def trajectory_figure(
    positions: Sequence[Sequence[float] | None],
    velocities: Sequence[Sequence[float] | None] | None = None,
    radius: float | None = 1.0,
    j_vectors: Sequence[Sequence[float] | None] | None = None,
    start: tuple[Sequence[float] | None, Sequence[float] | None] | None = None,
    half_range: float | None = None,
) -> go.Figure:
    """The trajectory w(t) in R^3 with the sphere |w| = radius, J = w' x w and the orbit plane normal to J.

    ``start`` = (w(0), w'(0)) of the run chooses the camera (``camera_views``): face-on to the orbit plane,
    or across a straight path; buttons switch to edge-on and free.
    """
    pts = [p for p in positions if p is not None and len(p) >= 3]
    idx = stride_indices(len(pts), TRAIL_POINTS)
    scale = max([radius or 0.0] + [_norm(pts[i][:3]) for i in idx] + [1e-9]) * 1.1
    if half_range:  # the orbit plane's square frames all the path can reach (toy-nd's rosette swings out to 1.57)
        scale = 0.95 * half_range
    layout = _scene("Trajectory w(t)")
    w0, v0 = start if start is not None else (pts[0] if pts else None, (velocities or [None])[0])
    views = camera_views(w0, v0, half_range or scale, radius)
    if half_range:  # equal ranges on a cube: equal scales on the three axes
        axis = dict(range=[-half_range, half_range], autorange=False)
        layout["scene"].update(xaxis=dict(axis, title="w1"), yaxis=dict(axis, title="w2"), zaxis=dict(axis, title="w3"))
    layout["scene"]["camera"] = views[views["default"]]
    layout["meta"] = {"cameras": {k: views[k] for k in ("face-on", "edge-on", "free")}}
    layout["updatemenus"] = [camera_buttons(views)]
    layout["margin"] = dict(l=0, r=0, t=60, b=10)
    fig = go.Figure(layout=layout)
    if radius:
        fig.add_trace(sphere_wireframe(radius))
    fig.add_trace(go.Scatter3d(
        x=[pts[i][0] for i in idx], y=[pts[i][1] for i in idx], z=[pts[i][2] for i in idx],
        mode="lines", name="w(t)", line=dict(color=PALETTE[0], width=5),
        meta={"live": "path3d", "col": "position"},
    ))
    fig.add_trace(go.Scatter3d(x=[0], y=[0], z=[0], mode="markers", name="origin", hoverinfo="skip",
                               marker=dict(size=3, color="#000")))
    head = pts[-1] if pts else None
    fig.add_trace(go.Scatter3d(
        x=[head[0]] if head else [], y=[head[1]] if head else [], z=[head[2]] if head else [],
        mode="markers", name="now", marker=dict(size=6, color=PALETTE[1]),
        meta={"live": "head3d", "col": "position"},
    ))
    j = _last_j(positions, velocities, j_vectors)
    if j is not None and _norm(j) > 0:
        tip = [c / _norm(j) * scale for c in j]
        jx, jy, jz = [0, tip[0]], [0, tip[1]], [0, tip[2]]
    else:
        jx = jy = jz = []
    fig.add_trace(go.Scatter3d(
        x=jx, y=jy, z=jz, mode="lines+markers", name="J = w' x w (direction)",
        line=dict(color=PALETTE[2], width=6), marker=dict(size=[0, 5], color=PALETTE[2]),
        meta={"live": "jvec", "col": "angular_momentum:vector", "scale": scale},
    ))
    px, py, pz = plane_outline(j, scale) if j is not None else ([], [], [])
    fig.add_trace(go.Scatter3d(
        x=px, y=py, z=pz, mode="lines", name="orbit plane (normal to J)", hoverinfo="skip",
        line=dict(color=PALETTE[2], width=3, dash="dash"), meta={"live": "plane", "scale": scale},
    ))
    return fig


def _last_j(positions, velocities, j_vectors) -> list[float] | None:
    if j_vectors:
        for v in reversed(j_vectors):
            if v is not None and len(v) == 3:
                return list(v)
    if velocities:
        for p, v in zip(reversed(positions), reversed(velocities), strict=False):
            if p is not None and v is not None and len(p) == 3 and len(v) == 3:
                return angular_momentum(p, v)
    return None


def particles_figure(particles_over_time: Sequence[Sequence[Sequence[float]] | None], trail: int = 40) -> go.Figure:
    """First-layer neurons W_1[i,:] as particles in R^3 (d_x = 3, Sec. 6.2), with short trails."""
    frames = [p for p in particles_over_time if p]
    fig = go.Figure(layout=_scene("First-layer neurons as particles", aspectmode="data"))
    if frames:
        idx = stride_indices(len(frames), trail)
        for i in range(len(frames[-1])):
            fig.add_trace(go.Scatter3d(
                x=[frames[k][i][0] for k in idx], y=[frames[k][i][1] for k in idx],
                z=[frames[k][i][2] for k in idx], mode="lines", showlegend=False, hoverinfo="skip",
                line=dict(color="#bbb", width=2),
            ))
    now = frames[-1] if frames else []
    fig.add_trace(go.Scatter3d(
        x=[p[0] for p in now], y=[p[1] for p in now], z=[p[2] for p in now], mode="markers",
        name="W_1[i,:]", marker=dict(size=4, color=PALETTE[0]), meta={"live": "particles", "col": "particles"},
    ))
    fig.add_trace(go.Scatter3d(x=[0], y=[0], z=[0], mode="markers", name="origin",
                               marker=dict(size=3, color="#000")))
    return fig


# ---------------------------------------------------------------------------------------------
# Balance diagnostics


def neurons_heatmap(
    steps: Sequence[int], neurons: Sequence[Sequence[float] | None], col: str = "", relative: bool = True
) -> go.Figure:
    """Per-neuron balance over time (rows: moments, columns: neurons), relative to its initial value.

    Each cell is Q_i(t) - Q_i(0) for neuron i: the law holds per neuron (Table 2) when the whole map
    stays at 0.
    """
    rows = [(s, v) for s, v in zip(steps, neurons, strict=False) if v]
    idx = stride_indices(len(rows), HEATMAP_ROWS)
    first = rows[0][1] if rows else []
    z = [[a - b for a, b in zip(rows[i][1], first, strict=False)] if relative else list(rows[i][1]) for i in idx]
    title = "Per-neuron drift Q_i(t) - Q_i(0)" if relative else "Per-neuron value Q_i(t)"
    fig = go.Figure(
        go.Heatmap(
            z=z, y=[rows[i][0] for i in idx], colorscale="RdBu", zmid=0, colorbar=dict(thickness=10),
            meta={"live": "heatmap", "col": col, "transform": "drift" if relative else None},
        ),
        layout=_base_layout(f"{title}: {col}" if col else title, xaxis_title="neuron i", yaxis_title="step k",
                            hovermode="closest"),
    )
    return fig


def neurons_histogram(values: Sequence[float] | None, col: str = "", initial: Sequence[float] | None = None) -> go.Figure:
    """Histogram of the per-neuron values now (and at step 0, for comparison)."""
    fig = go.Figure(layout=_base_layout(f"Per-neuron values: {col}" if col else "Per-neuron values",
                                        xaxis_title="Q_i", yaxis_title="neurons", barmode="overlay",
                                        hovermode="closest"))
    if initial is not None:
        fig.add_trace(go.Histogram(x=list(initial), name="step 0", opacity=0.45, marker_color="#999"))
    fig.add_trace(go.Histogram(x=list(values or []), name="now", opacity=0.75, marker_color=PALETTE[0],
                               meta={"live": "hist", "col": col}))
    return fig


def matrix_heatmap(matrix: Sequence[Sequence[float]] | None, col: str = "") -> go.Figure:
    """The balance matrix W_h W_h^T - W_{h+1}^T W_{h+1} of a linear layer (Table 4), drift from step 0."""
    fig = go.Figure(
        go.Heatmap(z=[list(r) for r in (matrix or [])], colorscale="RdBu", zmid=0, colorbar=dict(thickness=10),
                   meta={"live": "matrix", "col": col}),
        layout=_base_layout(_matrix_title(col), hovermode="closest",
                            # square cells: the plot area shrinks to the matrix instead of the axes running past it
                            xaxis=dict(constrain="domain"),
                            yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain")),
    )
    return fig


def _matrix_title(col: str) -> str:
    """'linear_balance/h1:matrix' -> the balance matrix of layer 1 in the paper's symbols."""
    layer = col.split(":", 1)[0].rsplit("/h", 1)
    if len(layer) == 2 and layer[1].isdigit():
        h = int(layer[1])
        return f"Balance matrix W_{h} W_{h}^T - W_{h + 1}^T W_{h + 1} (drift from step 0)"
    return f"Balance matrix: {col}" if col else "Balance matrix"


# ---------------------------------------------------------------------------------------------
# Comparison of runs


def compare_title(column: str, drift: bool, log_y: bool) -> str:
    """A compare chart's title: the column as a reader names it (``balance/h2`` -> ``balance, layer 2``), or its
    (absolute) drift from t = 0."""
    name = column if column in ("loss", "t", "step") else law_label(column)
    if not drift:
        return name
    return f"|{name} - its value at t = 0|" if log_y else f"{name} (drift from t = 0)"


def compare_figure(
    runs: Sequence[dict[str, Any]],
    column: str,
    x_name: str = "step",
    log_y: bool = False,
    drift: bool = False,
    max_points: int = MAX_POINTS,
    layout: bool = True,
) -> go.Figure:
    """One column of several runs overlaid on shared axes (GD vs ND vs NAG, seeds, step sizes, widths).

    ``runs``: ``[{"label": ..., "columns": {...}, "color"?: ...}]``. With ``drift`` each curve is Q(t) - Q(0),
    and with ``log_y`` too its absolute value |Q(t) - Q(0)| (a drift crosses zero; its size is what a log axis
    shows). The prediction column (``<column>:pred``), where a run has it, is drawn dashed in the same colour.
    """
    absolute = drift and log_y
    # layout=False: only the traces are wanted (compare_grid); a layout validates its template, about 0.1 s each
    fig = go.Figure(layout=_base_layout(compare_title(column, drift, log_y),
                                        xaxis_title=_x_label(x_name), yaxis_title=column) if layout else None)
    down = floored = False
    for i, run in enumerate(runs):
        cols = run.get("columns") or {}
        x = cols.get(x_name) or []
        color = run.get("color") or PALETTE[i % len(PALETTE)]
        for name, dash in ((column, None), (column + ":pred", PRED_DASH)):
            y = cols.get(name)
            if not y:
                continue
            if drift:
                y0 = next((v for v in y if is_finite(v)), None)
                y = [(abs(v - y0) if absolute else v - y0) if is_finite(v) and y0 is not None else None for v in y]
            elif log_y:  # a loss of exactly 0 stays on the log axis, at the smallest positive value shown
                y, clipped = log_floor(y)
                floored |= clipped
            xs, ys, d = _xy(x, y, max_points)
            down |= d
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", name=run["label"] + (" (prediction)" if dash else ""),
                line=dict(color=color, dash=dash, width=1.5 if dash else 2), legendgroup=run["label"],
            ))
    if log_y:
        fig.update_yaxes(type="log")
    if floored:
        _floor_note(fig)
    if down:
        fig.add_annotation(text="long series drawn as min/max envelopes", xref="paper", yref="paper",
                           x=1.0, y=1.0, showarrow=False, xanchor="right", yanchor="bottom",
                           font=dict(size=10, color="#666"))
    return fig


def verdict_rows(summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows of the verdict table: one per law of the run summary."""
    rows = []
    for law in (summary or {}).get("laws") or []:
        rows.append({
            "law": law.get("name") or law.get("id"),
            "id": law.get("id"),
            "symmetry": law.get("symmetry", ""),
            "prediction": law.get("prediction", ""),
            "initial": _fmt(law.get("initial")),
            "final": _fmt(law.get("final")),
            "max rel. drift": _fmt(law.get("max_rel_drift")),
            "tolerance": _fmt(law.get("tolerance")),
            "verdict": law.get("verdict", ""),
            "why": law.get("reason") or "",
        })
    return rows


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure(layout=_base_layout(""))
    fig.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font=dict(size=14, color="#777"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def compare_grid(
    runs: Sequence[dict[str, Any]],
    columns: Sequence[str],
    x_name: str = "step",
    log_y: bool = False,
    drift: bool = False,
    max_points: int = MAX_POINTS,
    log_x: bool = False,
) -> go.Figure:
    """Several quantities of several runs, one row per quantity, all rows on one shared x axis.

    Each run keeps its colour in every row; predictions are dashed. Zooming one row zooms all.
    ``log_y`` puts every row on a log axis, drifts as their absolute value; with ``log_x`` too, a
    power law such as NAG's |J| ~ t^-3 is a straight line of slope -3.
    """
    from plotly.subplots import make_subplots

    rows = max(1, len(columns))
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06 if rows > 1 else 0.0,
                        subplot_titles=[compare_title(c, drift and c != "loss", log_y) for c in columns])
    for r, column in enumerate(columns, 1):
        single = compare_figure(runs, column, x_name=x_name, drift=drift and column != "loss", max_points=max_points,
                                log_y=log_y, layout=False)
        for tr in single.data:
            tr.showlegend = r == 1
            fig.add_trace(tr, row=r, col=1)
        if log_y:
            fig.update_yaxes(type="log", exponentformat="power", row=r, col=1)
    fig.update_layout(**_base_layout("", height=max(320, 260 * rows), hovermode="x unified",
                                     margin=dict(l=60, r=20, t=70, b=50),
                                     legend=dict(orientation="h", yanchor="bottom", y=1.03, xanchor="left", x=0.0)))
    fig.update_xaxes(title_text=_x_label(x_name), row=rows, col=1)
    if log_x:
        fig.update_xaxes(type="log")
    return fig

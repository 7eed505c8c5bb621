"""Figure builders: pure functions from series columns (``dashboard.series``) to plotly figures.

No I/O, no Dash: each takes plain lists and returns a ``go.Figure``, so tests call them without a
browser. Every trace the live loop (``assets/live.js``) keeps growing carries ``meta["live"]``, which
names what to draw from each incoming record:

=============== ==============================================================================
``line``        ``x`` (``step`` or ``t``) against column ``y``; ``transform: "drift"`` draws y - y(0)
``path3d``      the trajectory of a 3-vector view ``col`` (``position``)
``head3d``      the current point of ``col`` (the replay slider moves it)
``particles``   the current 3D points of ``col`` (``particles``: first-layer neurons W_1[i,:])
``jvec``        the angular-momentum direction J = w x w' (or column ``col``), scaled to ``scale``
``plane``       the plane through 0 normal to J (the orbit plane of Sec. 6.1), half-size ``scale``
``heatmap``     rows of the per-neuron view ``col`` over time; ``transform: "drift"`` subtracts row 0
``hist``        histogram of the per-neuron view ``col`` at the current point
``matrix``      heatmap of the matrix view ``col`` at the current point
=============== ==============================================================================

SVG traces only (``Scatter``, ``Scatter3d``): ``Scattergl`` froze headless Chromium without a GPU.
Series longer than ``series.MAX_POINTS`` are drawn as min/max envelopes, and the chart says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboard.series import MAX_POINTS, is_finite, minmax_envelope, stride_indices

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
PRED_DASH = "dash"
TRAIL_POINTS = 5000  # 3D trajectories keep at most this many points
HEATMAP_ROWS = 300  # per-neuron heatmaps show at most this many moments in time
VIEW_SUFFIXES = ("pred", "pred_discrete", "neurons", "matrix", "vector",
                 "pred_modified", "error_discrete", "error_modified", "error_gf")  # the last four: noether.watch


def _base_layout(title: str, **extra: Any) -> dict[str, Any]:
    layout = dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=15)),
        margin=dict(l=60, r=20, t=45, b=80),
        template="plotly_white",
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


# ---------------------------------------------------------------------------------------------
# Curves


def loss_figure(
    columns: dict[str, list], x_name: str = "step", log_y: bool = True, max_points: int = MAX_POINTS
) -> go.Figure:
    """The loss L(w_k) against step or time, on a log axis by default."""
    x = columns.get(x_name) or []
    y = columns.get("loss") or []
    xs, ys, down = _xy(x, y, max_points)
    fig = go.Figure(
        go.Scatter(
            x=xs, y=ys, mode="lines", name="loss", line=dict(color=PALETTE[0]),
            meta={"live": "line", "x": x_name, "y": "loss"},
        ),
        layout=_base_layout("Loss", xaxis_title=_x_label(x_name), yaxis_title="L(w)"),
    )
    fig.update_yaxes(type="log" if log_y else "linear")
    if down:
        _downsample_note(fig, len(x))
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
) -> go.Figure:
    """A law's measured value with the paper's prediction beside it (dashed).

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
        x=xs, y=ys, mode="lines", name=name or law_id, yaxis=law_axis,
        line=dict(color=PALETTE[0], width=2.5), meta={"live": "line", "x": x_name, "y": law_id},
    ))
    pred_col, discrete_col = law_id + ":pred", law_id + ":pred_discrete"
    discrete = discrete_col in columns
    if pred_col in columns or not columns:
        xs, ys, d = _xy(x, columns.get(pred_col) or [], max_points)
        label = "gradient flow: conserved" if discrete else (f"prediction: {prediction}" if prediction else "prediction")
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=label,
            yaxis=law_axis, line=dict(color=PALETTE[1], dash=PRED_DASH, width=2),
            meta={"live": "line", "x": x_name, "y": pred_col},
        ))
    if discrete:  # GD's exact per-step identity: what the verdict compares the measured value with
        xs, ys, d = _xy(x, columns.get(discrete_col) or [], max_points)
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name="GD, exact step by step (the verdict's reference)",
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
    layout = _base_layout(name or law_id, xaxis_title=_x_label(x_name))
    if two_axes:
        layout.update(
            yaxis=dict(title="terms"),
            yaxis2=dict(title=name or law_id, overlaying="y", side="right", showgrid=False),
            margin=dict(l=60, r=60, t=45, b=80),
        )
    fig.update_layout(**layout)
    if down:
        _downsample_note(fig, len(x))
    return fig


def drift_figure(
    columns: dict[str, list], ids: Sequence[str], x_name: str = "step", max_points: int = MAX_POINTS
) -> go.Figure:
    """Each law's drift from its initial value, Q(t) - Q(0): flat at zero when the law holds."""
    return _lines_figure(columns, "Drift from the initial value", "Q(t) - Q(0)", [(i, i) for i in ids],
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
    draws Q(t) - Q(0) (live.js applies the same transform to the streamed points)."""
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
    """J = w x w' (Sec. 6.1): conserved by Newtonian dynamics on a rotation-invariant loss."""
    return cross(position, velocity)


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


def _scene(title: str) -> dict[str, Any]:
    return _base_layout(
        title, hovermode="closest", margin=dict(l=0, r=0, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=0.0, xanchor="left", x=0.0),
        scene=dict(aspectmode="cube", xaxis_title="w1", yaxis_title="w2", zaxis_title="w3",
                   camera=dict(eye=dict(x=1.4, y=1.4, z=0.9))),
    )


def trajectory_figure(
    positions: Sequence[Sequence[float] | None],
    velocities: Sequence[Sequence[float] | None] | None = None,
    radius: float | None = 1.0,
    j_vectors: Sequence[Sequence[float] | None] | None = None,
) -> go.Figure:
    """The trajectory w(t) in R^3 with the sphere |w| = radius, J = w x w' and the orbit plane normal to J."""
    pts = [p for p in positions if p is not None and len(p) >= 3]
    idx = stride_indices(len(pts), TRAIL_POINTS)
    scale = max([radius or 0.0] + [_norm(pts[i][:3]) for i in idx] + [1e-9]) * 1.1
    fig = go.Figure(layout=_scene("Trajectory w(t)"))
    if radius:
        fig.add_trace(sphere_wireframe(radius))
    fig.add_trace(go.Scatter3d(
        x=[pts[i][0] for i in idx], y=[pts[i][1] for i in idx], z=[pts[i][2] for i in idx],
        mode="lines", name="w(t)", line=dict(color=PALETTE[0], width=5),
        meta={"live": "path3d", "col": "position"},
    ))
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
        x=jx, y=jy, z=jz, mode="lines+markers", name="J = w x w' (direction)",
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
    fig = go.Figure(layout=_scene("First-layer neurons as particles"))
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


def compare_figure(
    runs: Sequence[dict[str, Any]],
    column: str,
    x_name: str = "step",
    log_y: bool = False,
    drift: bool = False,
    max_points: int = MAX_POINTS,
) -> go.Figure:
    """One column of several runs overlaid on shared axes (GD vs ND vs NAG, seeds, step sizes, widths).

    ``runs``: ``[{"label": ..., "columns": {...}}]``. With ``drift`` each curve is Q(t) - Q(0).
    The prediction column (``<column>:pred``), where a run has it, is drawn dashed in the same colour.
    """
    fig = go.Figure(layout=_base_layout(column + (" (drift from t = 0)" if drift else ""),
                                        xaxis_title=_x_label(x_name), yaxis_title=column))
    down = False
    for i, run in enumerate(runs):
        cols = run.get("columns") or {}
        x = cols.get(x_name) or []
        color = PALETTE[i % len(PALETTE)]
        for name, dash in ((column, None), (column + ":pred", PRED_DASH)):
            y = cols.get(name)
            if not y:
                continue
            if drift:
                y0 = next((v for v in y if is_finite(v)), None)
                y = [v - y0 if is_finite(v) and y0 is not None else None for v in y]
            xs, ys, d = _xy(x, y, max_points)
            down |= d
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", name=run["label"] + (" (prediction)" if dash else ""),
                line=dict(color=color, dash=dash, width=1.5 if dash else 2), legendgroup=run["label"],
            ))
    if log_y:
        fig.update_yaxes(type="log")
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
    ``log_y`` puts every row on a log axis except drifts (which cross zero); with ``log_x`` too, a
    power law such as NAG's |J| ~ t^-3 is a straight line of slope -3.
    """
    from plotly.subplots import make_subplots

    rows = max(1, len(columns))
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06 if rows > 1 else 0.0,
                        subplot_titles=[c + (" (drift from t = 0)" if drift and c != "loss" else "") for c in columns])
    for r, column in enumerate(columns, 1):
        single = compare_figure(runs, column, x_name=x_name, drift=drift and column != "loss", max_points=max_points)
        for tr in single.data:
            tr.showlegend = r == 1
            fig.add_trace(tr, row=r, col=1)
        if log_y and not (drift and column != "loss"):
            fig.update_yaxes(type="log", row=r, col=1)
    fig.update_layout(**_base_layout("", height=max(320, 260 * rows), hovermode="x unified",
                                     margin=dict(l=60, r=20, t=70, b=50),
                                     legend=dict(orientation="h", yanchor="bottom", y=1.03, xanchor="left", x=0.0)))
    fig.update_xaxes(title_text=_x_label(x_name), row=rows, col=1)
    if log_x:
        fig.update_xaxes(type="log")
    return fig

"""One composed figure of a run for a paper: every chart, the 3D view and the verdict table on one page.

Pure functions (no I/O): the run record, its downsampled curves and its view records (as the API gives them,
``dashboard/export_routes.py`` fetches them) become one plotly figure, laid out two charts a row at a journal's
full width with the verdict table across the bottom. The charts are the run page's own builders
(``dashboard.figures``), so the figure says what the page says. ``export_routes`` renders it to PNG (300 dpi),
SVG and PDF and packs the archive.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import figures
from dashboard.series import law_ids, norm_columns

# A double-column journal figure: 7 in wide. Laid out at 150 CSS px per inch and drawn at scale 2, the PNG is
# 2100 px wide: 300 dots per inch at 7 in.
WIDTH_IN = 7.0
CSS_PER_IN = 150
WIDTH = int(WIDTH_IN * CSS_PER_IN)  # 1050 CSS px
PNG_SCALE = 2
DPI = CSS_PER_IN * PNG_SCALE  # 300
ROW_HEIGHT = 330  # CSS px per row of charts (2.2 in)
TABLE_ROW = 34  # CSS px per law in the verdict table (two lines of text)
FONT = 10  # CSS px: 10 px at 150 px per inch is 4.8 pt printed at 7 in, the size of a journal figure's labels
TITLE_FONT = 11
MIN_REL_SPAN = 1e-6  # a linear axis spans at least this fraction of its values' size (as live-4-render.js draws the page)
SCENE_LEGEND = ("w(t)", "now")  # the 3D cell's legend keeps these and J's, the sphere and origin speak for themselves
VIEW_RECORDS = 20_000  # the 3D path and the heatmaps use at most this many records (the first ones); said on the chart


@dataclass
class Chart:
    """One cell of the composed figure: a run-page chart (``figure``) and the kind of subplot it needs."""

    title: str
    figure: go.Figure
    kind: str = "xy"  # "xy", "scene" (3D) or "heatmap"


def curve_columns(down: dict[str, Any] | None) -> dict[str, list]:
    """The API's downsampled series (``?points=N``) as plain columns: each bucket's value, or its min and max.

    Without downsampling every record is its own bucket (its mean is its value); with it each bucket gives two
    points, its minimum then its maximum (the min/max envelope: spikes stay, as on the page). ``t`` takes its
    mean twice.
    """
    if not down or not down.get("step"):
        return {}
    cols = down.get("columns") or {}
    steps = list(down["step"])
    if not down.get("downsampled"):
        out: dict[str, list] = {"step": steps}
        out.update({c: list(v.get("mean") or []) for c, v in cols.items() if c != "step"})
        return out
    out = {"step": [s for s in steps for _ in (0, 1)]}
    for c, v in cols.items():
        if c == "step":
            continue
        if c == "t":
            out[c] = [m for m in v.get("mean") or [] for _ in (0, 1)]
        else:
            out[c] = [x for lo, hi in zip(v.get("min") or [], v.get("max") or [], strict=False) for x in (lo, hi)]
    return out


def view_columns(records: Sequence[dict[str, Any]]) -> dict[str, list]:
    """View records (lists per record: position, velocity, <law>:neurons, ...) as columns, step order."""
    rows = sorted((r for r in records if r.get("step") is not None), key=lambda r: r["step"])
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in keys}



def run_charts(info: dict[str, Any], curves: dict[str, list], views: dict[str, list], total: int = 0) -> list[Chart]:
    """The run page's charts, in the page's order, built from the fetched data."""
    spec = info.get("spec") or {}
    laws = {law["id"]: law for law in (info.get("summary") or {}).get("laws") or [] if "id" in law}
    dynamics = (spec.get("dynamics") or {}).get("kind")
    cut = f" (first {VIEW_RECORDS:,} of {total:,} records)" if total > VIEW_RECORDS else ""
    out: list[Chart] = []
    positions = views.get("position") or []
    if any(p is not None and len(p) == 3 for p in positions):
        potential = spec.get("potential") or {}
        radius = potential.get("radius", 1.0) if potential.get("kind") == "sphere" else None
        initial = spec.get("initial") or {}
        w0, v0 = initial.get("position"), initial.get("velocity")
        if figures.flow_of_spec(spec) in ("gf", None):
            v0 = None
        start = (w0, v0) if isinstance(w0, list) and len(w0) == 3 else None
        half = 1.05 * figures.reach(radius, w0, v0 if isinstance(v0, list) and len(v0) == 3 else None) \
            if start else None
        fig = figures.trajectory_figure(positions, views.get("velocity"), radius=radius,
                                        j_vectors=views.get("angular_momentum:vector"), start=start, half_range=half)
        out.append(Chart("Trajectory w(t)" + cut, fig, "scene"))
    particles = [p for p in views.get("particles") or [] if p]
    if particles and len(particles[-1][0]) == 3:
        out.append(Chart("First-layer neurons W_1[i,:] as particles (last record)",
                         figures.particles_figure(particles), "scene"))
    names = list(curves)
    ids = law_ids(c for c in names if c not in ("step", "t", "loss"))
    for law_id in ids:  # a power law of t first, as on the page (the chart a lecturer is pointed at)
        exponent = figures.power_law_exponent(law_id, figures.flow_of_spec(spec))
        if exponent is not None and "t" in curves:
            fig = figures.power_law_figure(curves, law_id, exponent, laws.get(law_id, {}).get("name", ""))
            out.append(Chart(fig.layout.title.text, fig))
    if "loss" in curves:
        out.append(Chart("Loss L(w) (log)", figures.loss_figure(curves, log_y=True)))
    for law_id in ids:
        law = laws.get(law_id, {})
        fig = figures.law_figure(curves, law_id, law.get("name", ""), law.get("prediction", ""), dynamics=dynamics)
        out.append(Chart(short_name(law.get("name"), law_id), fig))
    if ids:
        out.append(Chart("Drift from the initial value, Q(t) - Q(0)", figures.drift_figure(curves, ids)))
    norms = norm_columns(names)
    if norms:
        out.append(Chart("Squared norms of the parameters", figures.norms_figure(curves, norms)))
    steps = views.get("step") or []
    for view in (v for v in views if v.endswith(":neurons")):
        fig = figures.neurons_heatmap(steps, views[view], col=view)
        out.append(Chart(f"Per-neuron drift: {figures.law_label(view.split(':')[0])}" + cut, fig, "heatmap"))
    for view in (v for v in views if v.endswith(":matrix")):
        last = next((m for m in reversed(views[view]) if m), None)
        out.append(Chart(figures._matrix_title(view), figures.matrix_heatmap(last, col=view), "heatmap"))
    return out


def short_name(name: str | None, law_id: str) -> str:
    """A law's name short enough for a chart title: whole when short, else up to its first top-level comma."""
    if not name:
        return figures.law_label(law_id)
    return name if len(name) <= 50 else figures.head_name(name)


def verdict_table(summary: dict[str, Any] | None) -> go.Table | None:
    """The verdict table (law, prediction, initial, final, max rel. drift, tolerance, verdict) as a plotly table."""
    rows = figures.verdict_rows(summary)
    if not rows:
        return None
    cols = ["law", "prediction", "initial", "final", "max rel. drift", "tolerance", "verdict"]
    colour = {"holds": "#e6f4e6", "broken": "#fbe3e3"}
    fills = [[colour.get(r["verdict"], "white") for r in rows] if c == "verdict" else ["white"] * len(rows) for c in cols]
    return go.Table(
        columnwidth=[3.2, 3.2, 1, 1, 1.1, 1, 1],
        header=dict(values=[f"<b>{c}</b>" for c in cols], fill_color="#eeeeee", align="left", font=dict(size=FONT)),
        cells=dict(values=[[_clip(str(r[c]), 64) for r in rows] for c in cols], fill_color=fills, align="left",
                   font=dict(size=FONT - 1), height=TABLE_ROW - 4),
    )


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def compose(charts: Sequence[Chart], table: go.Table | None, title: str, subtitle: str = "") -> go.Figure:
    """Every chart two to a row at the journal width, each with its own legend, and the verdict table below."""
    n_rows = max(1, math.ceil(len(charts) / 2))
    specs: list[list[Any]] = []
    for r in range(n_rows):
        row = []
        for c in range(2):
            k = 2 * r + c
            kind = charts[k].kind if k < len(charts) else "xy"
            row.append({"type": "scene"} if kind == "scene" else {"secondary_y": kind == "xy"})
        specs.append(row)
    heights = [ROW_HEIGHT] * n_rows
    if table is not None:
        specs.append([{"type": "table", "colspan": 2}, None])
        heights.append(TABLE_ROW * (len(table.cells.values[0]) + 2))
    titles = [_clip(ch.title, 80) for ch in charts] + [""] * (2 * n_rows - len(charts))
    if table is not None:
        titles.append("Verdicts")
    head = 90 if subtitle else 60  # the title and its subtitle stay clear of the first row's titles
    height = head + sum(heights) + 40
    fig = make_subplots(rows=len(specs), cols=2, specs=specs, subplot_titles=titles, row_heights=heights,
                        vertical_spacing=min(0.25 / max(1, len(specs) - 1), 90 / height) if len(specs) > 1 else 0.0,
                        horizontal_spacing=0.12)
    fig.update_layout(width=WIDTH, height=height, template=figures.TEMPLATE, font=dict(size=FONT),
                      margin=dict(l=55, r=45, t=head, b=30), showlegend=True,
                      title=dict(text=title + (f"<br><span style='font-size:{FONT}px'>{subtitle}</span>" if subtitle else ""),
                                 x=0.01, xanchor="left", font=dict(size=TITLE_FONT + 2)))
    fig.update_annotations(font_size=TITLE_FONT)
    for k, chart in enumerate(charts):
        _place(fig, chart, k)
    if table is not None:
        fig.add_trace(table, row=len(specs), col=1)
    return fig


def _place(fig: go.Figure, chart: Chart, k: int) -> None:
    """Copy one chart's traces, axes and legend into cell k (row k // 2, column k % 2)."""
    row, col = k // 2 + 1, k % 2 + 1
    legend = f"legend{k + 2}"  # legend1 (``legend``) stays unused: each cell has its own
    src = chart.figure
    for tr in src.data:
        tr = go.Figure(tr).data[0]  # a copy
        if (tr.meta or {}).get("live") == "keeper":
            continue
        if chart.kind == "scene":
            keep = tr.name in SCENE_LEGEND or str(tr.name or "").startswith("J ")
            tr.update(showlegend=keep and tr.showlegend is not False, legend=legend)
            fig.add_trace(tr, row=row, col=col)
        elif chart.kind == "heatmap":
            fig.add_trace(tr, row=row, col=col)
        else:
            tr.update(legend=legend)
            fig.add_trace(tr, row=row, col=col, secondary_y=tr.yaxis == "y2")
    sub = fig.get_subplot(row, col)
    if chart.kind == "scene":
        scene = src.layout.scene.to_plotly_json()
        scene.pop("domain", None)
        sub.update(**scene)
        _legend(fig, legend, sub.domain.x, sub.domain.y)
        return
    sx, sy = src.layout.xaxis, src.layout.yaxis
    fig.update_xaxes(type=sx.type, title_text=_axis_title(sx), row=row, col=col, title_font_size=FONT)
    fig.update_yaxes(type=sy.type, title_text=_axis_title(sy), row=row, col=col, title_font_size=FONT,
                     autorange="reversed" if sy.autorange == "reversed" else None,
                     secondary_y=False if chart.kind == "xy" else None)
    span = _min_span([t for t in src.data if t.type == "scatter" and (t.yaxis or "y") == "y"])
    if chart.kind == "xy" and sy.type != "log" and span is not None:  # a constant to rounding reads flat
        fig.update_yaxes(range=span, row=row, col=col, secondary_y=False)
    y2 = src.layout["yaxis2"] if "yaxis2" in src.layout else None
    if chart.kind == "xy" and y2 is not None and y2.overlaying:
        fig.update_yaxes(title_text=_axis_title(y2), range=y2.range, autorange=y2.autorange, showgrid=False,
                         row=row, col=col, secondary_y=True, title_font_size=FONT)
    if chart.kind == "heatmap":
        xd, yd = sub.xaxis.domain, sub.yaxis.domain
        for tr in fig.data:
            if tr.type == "heatmap" and tr.xaxis == sub.xaxis.plotly_name.replace("axis", "") and tr.colorbar.x is None:
                tr.colorbar.update(x=xd[1] + 0.005, y=(yd[0] + yd[1]) / 2, len=yd[1] - yd[0], thickness=8,
                                   tickfont=dict(size=FONT - 1))
        return
    _legend(fig, legend, sub.xaxis.domain, sub.yaxis.domain)
    for ann in src.layout.annotations:  # "0 drawn at the smallest positive value shown", envelope notes
        fig.add_annotation(text=ann.text, showarrow=False, font=dict(size=FONT - 1, color="#666"),
                           xref=f"{sub.xaxis.plotly_name.replace('axis', '')} domain",
                           yref=f"{sub.yaxis.plotly_name.replace('axis', '')} domain", x=1, y=1, xanchor="right",
                           yanchor="bottom")


def _min_span(traces: Sequence[Any]) -> list[float] | None:
    """A linear axis's range when its values span less than MIN_REL_SPAN of their size (else None: autorange)."""
    vals = [v for t in traces for v in (t.y or ()) if isinstance(v, int | float) and math.isfinite(v)]
    if not vals:
        return None
    lo, hi = min(vals), max(vals)
    mid = (lo + hi) / 2
    floor = MIN_REL_SPAN * abs(mid)
    if hi - lo >= floor or floor == 0:
        return None
    return [mid - floor / 2, mid + floor / 2]


def _axis_title(axis: Any) -> str | None:
    return axis.title.text if axis.title and axis.title.text else None


def _legend(fig: go.Figure, name: str, xdomain: Sequence[float], ydomain: Sequence[float]) -> None:
    """A cell's own legend, inside its top-left corner, small and see-through."""
    fig.update_layout({name: dict(x=xdomain[0] + 0.005, y=ydomain[1] - 0.005, xanchor="left", yanchor="top",
                                  bgcolor="rgba(255,255,255,0.75)", font=dict(size=FONT - 1), borderwidth=0,
                                  tracegroupgap=0, orientation="v")})


def figure_of_run(info: dict[str, Any], down: dict[str, Any] | None, view_records: Sequence[dict[str, Any]],
                  total: int = 0) -> go.Figure:
    """The composed figure of a run: its title, its charts and its verdicts."""
    charts = run_charts(info, curve_columns(down), view_columns(view_records), total=total)
    name = info.get("name") or info.get("preset") or info.get("id") or "run"
    summary = info.get("summary") or {}
    sub = [f"run {info.get('id', '')}", f"status {info.get('status', '?')}"]
    if summary.get("steps_done") is not None:
        sub.append(f"{summary['steps_done']:,} steps")
    if summary.get("loss_final") is not None:
        sub.append(f"loss {summary.get('loss_initial', 0):.3g} → {summary['loss_final']:.3g}")
    if down and down.get("downsampled"):
        sub.append(f"{down.get('total', 0):,} records drawn as min/max envelopes")
    return compose(charts, verdict_table(summary), str(name), " · ".join(sub))


def png_with_dpi(png: bytes, dpi: int = DPI) -> bytes:
    """The PNG with its resolution written in (a pHYs chunk), so that a journal's tools size it at ``dpi``."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end_of_ihdr = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes of data, CRC
    rest = png[end_of_ihdr:]
    rest = _without_chunk(rest, b"pHYs")
    return png[:end_of_ihdr] + chunk + rest


def _without_chunk(data: bytes, kind: bytes) -> bytes:
    out, i = bytearray(), 0
    while i + 8 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        end = i + 12 + length
        if data[i + 4:i + 8] != kind:
            out += data[i:end]
        i = end
    return bytes(out)


def csv_left_out(parquet_columns: Sequence[str], csv_header: Sequence[str]) -> list[str]:
    """The series' columns the CSV leaves out: lists per record it does not spread into ``<name>[i]`` columns."""
    csv = set(csv_header)
    spread = {c.split("[", 1)[0] for c in csv_header if c.endswith("]") and "[" in c}
    return [c for c in parquet_columns if c not in csv and c not in spread]


CSV_NOTE = ("CSV: numbers and short vectors (as name[i]); per-neuron views and matrices are left out "
            "(they are in Parquet and in the archive, whose README lists them)")


def readme(info: dict[str, Any], left_out: Sequence[str], files: Sequence[str], height_px: int) -> str:
    """README.txt of the archive: what each file is, and what the CSV leaves out."""
    name = info.get("name") or info.get("preset") or info.get("id")
    lines = [
        f"Noether Lab run {info.get('id', '')}: {name}",
        f"status: {info.get('status', '?')}",
        "",
        "files:",
    ]
    text = {
        "spec.json": "the experiment's spec, as it ran (POST it to /api/runs to run it again)",
        "summary.json": "the run summary: every law with its prediction, values, drift, tolerance and verdict",
        "series.parquet": "every record of the run, every column (views such as position or per-neuron values as lists)",
        "series.csv": "the same records: numbers and short vectors as name[i] columns (see below what it leaves out)",
        "figure.png": f"the composed figure: {WIDTH * PNG_SCALE} x {height_px * PNG_SCALE} px, {DPI} dpi "
                      f"({WIDTH_IN:g} in wide)",
        "figure.svg": "the composed figure as SVG (the 3D view inside it is a raster image, as WebGL draws it)",
        "figure.pdf": "the composed figure as PDF",
    }
    lines += [f"  {f}: {text.get(f, '')}" for f in files]
    lines += ["", "series.csv leaves out these columns (lists per record; they are in series.parquet):"]
    lines += [f"  {c}" for c in left_out] or ["  none"]
    lines += ["", "A log axis cannot show 0: a loss of exactly 0 is drawn at the smallest positive value shown, "
              "and the chart says so."]
    return "\n".join(lines) + "\n"

"""The composed export figure and the archive's helpers: pure functions, checked without a browser."""

from __future__ import annotations

import math
import struct
import zlib

import pytest

from dashboard import export


def toy_run(n: int = 60) -> tuple[dict, dict, list[dict]]:
    """A toy-nd-like run as the API gives it: record, downsampled curves, view records."""
    angles = [0.1 * k for k in range(n)]
    info = {
        "id": "run0000001", "name": "toy", "status": "succeeded",
        "spec": {"potential": {"kind": "sphere", "radius": 1.0}, "dynamics": {"kind": "nd", "lr": 1e-4},
                 "initial": {"position": [1.0, 0.0, 0.0], "velocity": [0.0, 1.0, 0.0]}},
        "summary": {"steps_done": n, "loss_initial": 0.5, "loss_final": 0.0, "laws": [
            {"id": "angular_momentum", "name": "|J|, J = w' w^T - w w'^T (w' x w in 3D)", "prediction": "conserved",
             "initial": 1.0, "final": 1.0, "max_rel_drift": 1e-15, "tolerance": 1e-9, "verdict": "holds"},
        ]},
    }
    down = {"downsampled": False, "total": n, "step": list(range(n)), "columns": {
        "t": {"mean": [0.01 * k for k in range(n)]},
        "loss": {"mean": [0.5 * math.cos(a) ** 2 if k < n - 3 else 0.0 for k, a in enumerate(angles)]},
        "angular_momentum": {"mean": [1.0] * n}, "angular_momentum:pred": {"mean": [1.0] * n},
    }}
    views = [{"step": k, "position": [math.cos(a), math.sin(a), 0.0], "velocity": [-math.sin(a), math.cos(a), 0.0],
              "angular_momentum:vector": [0.0, 0.0, -1.0]} for k, a in enumerate(angles)]
    return info, down, views


def test_the_composed_figure_has_the_3d_view_every_chart_and_the_verdict_table():
    info, down, views = toy_run()
    fig = export.figure_of_run(info, down, views, total=60)
    types = {t.type for t in fig.data}
    assert {"scatter3d", "scatter", "table"} <= types
    assert fig.layout.width == export.WIDTH == 1050 and export.WIDTH * export.PNG_SCALE / export.WIDTH_IN == 300
    titles = [a.text for a in fig.layout.annotations]
    assert "Trajectory w(t)" in titles and "Verdicts" in titles and "Loss L(w) (log)" in titles
    table = next(t for t in fig.data if t.type == "table")
    assert list(table.cells.values[-1]) == ["holds"]
    # every chart has its own legend: no two cells share one
    legends = {t.legend for t in fig.data if t.type in ("scatter", "scatter3d") and t.showlegend is not False}
    assert len(legends) >= 3 and None not in legends


def test_a_loss_of_zero_stays_on_the_exported_log_axis_and_a_conserved_law_reads_flat():
    info, down, views = toy_run()
    fig = export.figure_of_run(info, down, views)
    loss = next(t for t in fig.data if t.name == "loss")
    assert all(v is not None and v > 0 for v in loss.y)  # the last 3 zeros sit on the floor, not off the axis
    assert any(a.text == "0 drawn at the smallest positive value shown" for a in fig.layout.annotations)
    law = next(t for t in fig.data if (t.meta or {}).get("y") == "angular_momentum" and t.type == "scatter")
    axis = fig.layout["yaxis" + law.yaxis[1:]]
    lo, hi = axis.range
    assert hi - lo == pytest.approx(1e-6)  # a constant: the axis spans 1e-6 of its value, not rounding noise


def test_curves_keep_each_buckets_min_and_max():
    down = {"downsampled": True, "total": 400, "step": [0, 100], "columns": {
        "t": {"mean": [0.5, 1.5], "min": [0, 1], "max": [1, 2]},
        "loss": {"mean": [2.0, 1.0], "min": [1.5, 0.1], "max": [3.0, 9.0]},
    }}
    cols = export.curve_columns(down)
    assert cols == {"step": [0, 0, 100, 100], "t": [0.5, 0.5, 1.5, 1.5], "loss": [1.5, 3.0, 0.1, 9.0]}  # spike kept


def test_the_png_says_300_dpi():
    raw = b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)),
                    _chunk(b"IDAT", zlib.compress(b"\x00" + b"\x00" * 6)), _chunk(b"IEND", b"")])
    out = export.png_with_dpi(raw)
    i = out.find(b"pHYs")
    per_metre, _, unit = struct.unpack(">IIB", out[i + 4:i + 13])
    assert unit == 1 and per_metre * 0.0254 == pytest.approx(300, abs=0.5)
    assert zlib.crc32(out[i:i + 13]) & 0xFFFFFFFF == struct.unpack(">I", out[i + 13:i + 17])[0]
    assert export.png_with_dpi(out).count(b"pHYs") == 1  # once, even when drawn twice
    with pytest.raises(ValueError):
        export.png_with_dpi(b"GIF89a")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def test_the_readme_names_the_columns_the_csv_leaves_out():
    parquet = ["step", "t", "loss", "position", "balance/h1:neurons", "particles"]
    csv = ["step", "t", "loss", "position[0]", "position[1]", "position[2]"]
    left = export.csv_left_out(parquet, csv)
    assert left == ["balance/h1:neurons", "particles"]
    text = export.readme({"id": "r1", "name": "x"}, left, ["series.csv", "figure.png"], 800)
    assert "balance/h1:neurons" in text and "particles" in text and "2100 x 1600 px, 300 dpi" in text

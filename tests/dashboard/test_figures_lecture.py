"""Figure builders for the lecture hall (pure): Fig. 1's matched axes, power laws on log-log axes, 3D cameras."""

from __future__ import annotations

import math

import pytest

from dashboard import figures
from dashboard.pages import run


def test_the_difference_axis_spans_what_the_norms_span_around_its_own_value():
    norms = [[400.0 + 0.01 * k for k in range(100)], [398.6 + 0.01 * k for k in range(100)]]
    diff = [[1.4 + 1e-6 * k for k in range(100)]]
    lo, hi = figures.matched_range(norms, diff)
    left = max(max(n) for n in norms) - min(min(n) for n in norms)
    assert hi - lo == pytest.approx(1.1 * left)  # the norms' span, 5% padding each side
    assert (lo + hi) / 2 == pytest.approx(1.4 + 0.5e-4)  # its own offset
    moving = [[1.4 + 0.1 * k for k in range(100)]]  # a difference that moves more than the norms keeps its own span
    lo, hi = figures.matched_range(norms, moving)
    assert hi - lo == pytest.approx(1.1 * 9.9)


def test_law_chart_with_terms_carries_the_span_buttons_and_a_matched_range():
    cols = {"step": [0, 1, 2], "balance/h2": [1.0, 1.0, 1.0], "balance/h2:|W_2|^2": [3.0, 4.0, 5.0],
            "balance/h2:|W_3|^2": [2.0, 3.0, 4.0]}
    fig = figures.law_figure(cols, "balance/h2", "|W_2|^2 - |W_3|^2")
    assert fig.layout.meta["match_span"] == {"y2": "y"}
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == [figures.SPAN_LABEL, figures.ZOOM_LABEL]
    lo, hi = fig.layout.yaxis2.range
    assert hi - lo == pytest.approx(3.3) and (lo + hi) / 2 == pytest.approx(1.0)


def test_power_law_chart_is_log_log_with_the_predicted_line_and_the_fitted_slope():
    t = [1.0 + 0.1 * k for k in range(200)]
    cols = {"t": t, "angular_momentum": [2.0 * x ** -3.02 for x in t], "angular_momentum:pred": [2.0 * x ** -3 for x in t]}
    fig = figures.power_law_figure(cols, "angular_momentum", -3.0, "|J|")
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    ref = next(tr for tr in fig.data if tr.meta.get("slope") == -3.0)
    assert math.log(ref.y[-1] / ref.y[0]) / math.log(ref.x[-1] / ref.x[0]) == pytest.approx(-3.0)
    fit = next(tr for tr in fig.data if tr.meta["live"] == "fit")
    assert fit.name == "fit: slope -3.020" and "fitted -3.020" in fig.layout.title.text
    assert figures.power_law_exponent("angular_momentum", "nagf") == -3.0
    assert figures.power_law_exponent("angular_momentum", "nd") is None


def _eye_dir(cam):
    e, c = cam["eye"], cam["center"]
    v = [e[k] - c[k] for k in "xyz"]
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def test_camera_looks_along_j_at_an_orbit_and_across_a_straight_path():
    views = figures.camera_views([0.5, 0.5, 0.5], [-2.0, 1.0, 1.0], half_range=1.8, radius=1.0)
    j = [0.0, 1 / math.sqrt(2), -1 / math.sqrt(2)]  # J = w' x w = (0, 3/2, -3/2): the orbit plane y = z
    assert views["default"] == "face-on"
    assert abs(sum(a * b for a, b in zip(_eye_dir(views["face-on"]), j, strict=True))) == pytest.approx(1.0)
    assert sum(a * b for a, b in zip(_eye_dir(views["edge-on"]), j, strict=True)) == pytest.approx(0.0, abs=1e-12)
    radial = figures.camera_views([0.1, 0.1, 0.1], None, half_range=1.05, radius=1.0)
    a = [1 / math.sqrt(3)] * 3
    assert sum(x * y for x, y in zip(_eye_dir(radial["face-on"]), a, strict=True)) == pytest.approx(0.0, abs=1e-12)
    assert abs(sum(x * y for x, y in zip(_eye_dir(radial["edge-on"]), a, strict=True))) == pytest.approx(1.0)


def test_the_run_page_frames_the_toy_from_its_spec_with_equal_axes():
    spec = {"potential": {"kind": "sphere", "radius": 1.0}, "dynamics": {"kind": "nag"},
            "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]}}
    live = {"run": "r", "columns": ["step", "t", "loss", "angular_momentum", "angular_momentum:pred"],
            "views": {"position": [3]}}
    import json
    out = {cell.children.id: json.loads(getattr(cell.children.children, "data-figure"))
           for cell in run.build_graphs(live, {"spec": spec})}
    scene = out["run-graph-trajectory"]["layout"]["scene"]
    ranges = [scene[a]["range"] for a in ("xaxis", "yaxis", "zaxis")]
    assert ranges[0] == ranges[1] == ranges[2] and scene["aspectmode"] == "cube"
    reach = figures.reach(1.0, [0.5, 0.5, 0.5], [-2.0, 1.0, 1.0])  # |w|^2 <= 1 + sqrt(E), E = 3.0625
    assert ranges[0][1] == pytest.approx(1.05 * reach) and reach == pytest.approx(math.sqrt(1 + math.sqrt(3.0625)))
    assert "run-graph-powerlaw-0" in out  # NAG: |J| ~ t^-3 on log-log axes
    gd = dict(spec, dynamics={"kind": "gd"})
    assert "run-graph-powerlaw-0" not in {c.children.id for c in run.build_graphs(live, {"spec": gd})}

"""Figure builders: pure functions of series columns, checked without a browser."""

import math

import pytest

from dashboard import figures
from dashboard.series import MAX_POINTS


def cols(n=50):
    return {
        "step": list(range(n)),
        "t": [0.1 * k for k in range(n)],
        "loss": [1.0 / (k + 1) for k in range(n)],
        "balance/h2": [0.5 + 1e-4 * k for k in range(n)],
        "balance/h2:pred": [0.5] * n,
        "balance/h2:|W_2|^2": [1.0 + 0.1 * k for k in range(n)],
        "balance/h2:|W_3|^2": [0.5 + 0.1 * k for k in range(n)],
    }


def test_loss_on_a_log_axis_with_live_meta():
    fig = figures.loss_figure(cols(), log_y=True)
    assert fig.layout.yaxis.type == "log"
    assert fig.data[0].meta == {"live": "line", "x": "step", "y": "loss", "log_floor": True}
    assert fig.data[0].type == "scatter"  # SVG: Scattergl froze headless Chromium


def test_law_beside_its_prediction_on_two_axes_when_terms_exist():
    fig = figures.law_figure(cols(), "balance/h2", "|W_2|^2 - |W_3|^2", "conserved")
    names = [t.name for t in fig.data]
    assert names[:2] == ["|W_2|^2", "|W_3|^2"]
    law, pred = fig.data[2], fig.data[3]
    assert law.yaxis == "y2" and pred.yaxis == "y2" and pred.line.dash == "dash"
    assert "conserved" in pred.name
    assert fig.layout.yaxis2.overlaying == "y"


def test_gd_law_draws_the_exact_discrete_prediction_its_verdict_uses_beside_the_flow_constant():
    c = cols() | {"balance/h2:pred_discrete": [0.5 + 1e-4 * k for k in range(50)]}
    fig = figures.law_figure(c, "balance/h2", "|W_2|^2 - |W_3|^2", "conserved under GF; GD: exactly ...")
    by_column = {t.meta["y"]: t for t in fig.data}
    flow, discrete = by_column["balance/h2:pred"], by_column["balance/h2:pred_discrete"]
    assert flow.name == "gradient flow: conserved" and flow.line.dash == "dash"
    assert "exact step by step" in discrete.name and discrete.line.dash == "dot" and discrete.yaxis == "y2"
    assert list(discrete.y) == c["balance/h2:pred_discrete"]
    assert "balance/h2:pred_discrete" not in {t.meta["y"] for t in figures.law_figure(cols(), "balance/h2").data}


def test_law_without_terms_uses_one_axis():
    c = {k: v for k, v in cols().items() if "|W" not in k}
    fig = figures.law_figure(c, "balance/h2")
    assert [t.yaxis for t in fig.data] == ["y", "y"]


def test_long_series_are_envelopes_and_the_chart_says_so():
    n = 3 * MAX_POINTS
    c = {"step": list(range(n)), "loss": [1.0] * n}
    c["loss"][1234] = 1e3
    fig = figures.loss_figure(c)
    assert len(fig.data[0].x) <= MAX_POINTS
    assert max(fig.data[0].y) == 1e3
    assert any("envelope" in a.text for a in fig.layout.annotations)


def test_drift_is_zero_at_start():
    fig = figures.drift_figure(cols(), ["balance/h2"])
    assert fig.data[0].y[0] == 0 and fig.data[0].y[-1] == pytest.approx(49e-4)
    assert fig.data[0].meta["transform"] == "drift"


def test_orbit_plane_is_normal_to_angular_momentum():
    w, v = [0.5, 0.5, 0.5], [-2.0, 1.0, 1.0]
    j = figures.angular_momentum(w, v)
    assert j == pytest.approx([0.0, 1.5, -1.5])  # the paper's value (Sec. 6.1): the orbit stays in the plane y = z
    xs, ys, zs = figures.orbit_plane(j, 2.0)
    for row_x, row_y, row_z in zip(xs, ys, zs, strict=True):
        for x, y, z in zip(row_x, row_y, row_z, strict=True):
            assert x * j[0] + y * j[1] + z * j[2] == pytest.approx(0.0, abs=1e-12)


def test_trajectory_has_sphere_path_head_and_j():
    pos = [[math.cos(a), math.sin(a), 0.0] for a in [0.1 * k for k in range(30)]]
    vel = [[-math.sin(a), math.cos(a), 0.0] for a in [0.1 * k for k in range(30)]]
    fig = figures.trajectory_figure(pos, vel, radius=1.0)
    kinds = [(t.type, (t.meta or {}).get("live")) for t in fig.data]
    assert ("scatter3d", "path3d") in kinds and ("scatter3d", "jvec") in kinds and ("scatter3d", "plane") in kinds
    assert all(t.type == "scatter3d" for t in fig.data)  # no surfaces: slow without a GPU
    sphere = fig.data[0]
    radii = [math.sqrt(x * x + y * y + z * z) for x, y, z in zip(sphere.x, sphere.y, sphere.z, strict=True)
             if x is not None]
    assert radii and max(abs(r - 1.0) for r in radii) < 1e-12
    jvec = next(t for t in fig.data if (t.meta or {}).get("live") == "jvec")
    assert jvec.z[1] < 0 and abs(jvec.x[1]) < 1e-9  # J = w' x w = -z for a counter-clockwise orbit (the paper's sign)
    assert all(t.type != "scattergl" for t in fig.data)


def test_particles_draw_the_last_frame():
    frames = [[[k, 0, 0], [0, k, 0]] for k in range(5)]
    fig = figures.particles_figure(frames)
    now = next(t for t in fig.data if (t.meta or {}).get("live") == "particles")
    assert list(now.x) == [4, 0] and list(now.y) == [0, 4]


def test_neuron_heatmap_shows_drift_from_step_zero():
    fig = figures.neurons_heatmap([0, 1, 2], [[1.0, 2.0], [1.5, 2.0], [2.0, 1.0]], col="balance/h1:neurons")
    assert [list(r) for r in fig.data[0].z] == [[0.0, 0.0], [0.5, 0.0], [1.0, -1.0]]


def test_compare_overlays_runs_with_predictions_and_shared_x():
    runs = [{"label": "gd", "columns": cols()}, {"label": "nd", "columns": cols(30)}]
    fig = figures.compare_figure(runs, "balance/h2", drift=True)
    assert [t.name for t in fig.data] == ["gd", "gd (prediction)", "nd", "nd (prediction)"]
    assert fig.data[0].y[0] == 0
    grid = figures.compare_grid(runs, ["loss", "balance/h2"], log_y=True)
    assert grid.layout.yaxis.type == "log" and grid.layout.yaxis2.type == "log"
    assert grid.layout.xaxis.type != "log"
    loglog = figures.compare_grid(runs, ["loss", "balance/h2"], log_y=True, log_x=True, drift=True)
    assert loglog.layout.xaxis.type == loglog.layout.xaxis2.type == "log"  # t^-3 reads as a line of slope -3
    # log y holds on every row: a drift row draws |Q(t) - Q(0)|, which a log axis can show
    assert loglog.layout.yaxis.type == "log" and loglog.layout.yaxis2.type == "log"
    drift_row = [t for t in loglog.data if t.yaxis == "y2" and "prediction" not in t.name]
    assert all(v is None or v >= 0 for t in drift_row for v in t.y)
    assert any(v is not None and v > 0 for t in drift_row for v in t.y)
    assert "|balance, layer 2 - its value at t = 0|" in [a.text for a in loglog.layout.annotations]  # readable
    assert grid.layout.xaxis.matches == "x2" or grid.layout.xaxis2.matches == "x"


def test_verdict_rows_carry_each_law():
    summary = {"laws": [{"id": "energy", "name": "E", "symmetry": "time", "prediction": "conserved",
                         "initial": 1.0, "final": 1.0000001, "max_rel_drift": 1e-7, "verdict": "holds",
                         "tolerance": 1e-3}]}
    (row,) = figures.verdict_rows(summary)
    assert row["verdict"] == "holds" and row["law"] == "E" and row["max rel. drift"] == "1e-07"


def test_squared_norms_share_one_chart_named_as_norms():
    c = {"step": [0, 1, 2], "sq_norm/W1": [1.0, 2.0, 3.0], "sq_norm/b1": [0.1, 0.2, 0.3]}
    fig = figures.norms_figure(c, ["sq_norm/W1", "sq_norm/b1"])
    assert [t.name for t in fig.data] == ["|W1|^2", "|b1|^2"]
    assert [t.meta["y"] for t in fig.data] == ["sq_norm/W1", "sq_norm/b1"] and list(fig.data[0].y) == [1.0, 2.0, 3.0]


def test_balance_matrix_is_named_in_the_papers_symbols_with_square_cells_that_fill_no_more_than_the_matrix():
    fig = figures.matrix_heatmap([[0.0, 1.0], [1.0, 0.0]], col="linear_balance/h1:matrix")
    assert fig.layout.title.text.startswith("Balance matrix W_1 W_1^T - W_2^T W_2")
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.xaxis.constrain == "domain"


def test_ticks_use_powers_of_ten_not_si_prefixes():
    """A loss of 1e-15 must read 10^-15 on the axis, not '1f' (plotly's default SI prefixes)."""
    for fig in (figures.loss_figure(cols(), log_y=True), figures.compare_grid([{"label": "a", "columns": cols()}], ["loss"])):
        axes = fig.to_plotly_json()["layout"]["template"]["layout"]
        assert axes["xaxis"]["exponentformat"] == axes["yaxis"]["exponentformat"] == "power"


def test_a_loss_of_exactly_zero_stays_on_the_log_axis_at_the_floor_and_the_chart_says_so():
    c = {"step": [0, 1, 2, 3], "loss": [1.0, 1e-20, 0.0, 0.0]}
    fig = figures.loss_figure(c, log_y=True)
    assert list(fig.data[0].y) == [1.0, 1e-20, 1e-20, 1e-20]  # the curve runs on to the last step
    assert any(a.text == figures.LOG_FLOOR_NOTE for a in fig.layout.annotations)
    linear = figures.loss_figure(c, log_y=False)
    assert list(linear.data[0].y) == c["loss"] and not linear.layout.annotations  # a linear axis draws 0 itself


def test_log_floor_leaves_negative_values_out_and_positive_ones_alone():
    assert figures.log_floor([2.0, 0.0, -1.0, None, 0.5]) == ([2.0, 0.5, None, None, 0.5], True)
    assert figures.log_floor([0.0, 0.0]) == ([None, None], False)  # nothing positive to stand on


def test_drift_legend_reads_names_not_ids():
    c = {"step": [0, 1], "angular_momentum": [1.0, 1.0], "balance/h2": [0.1, 0.1], "chain/h2-h4": [1.0, 1.0],
         "typed/jx": [0.0, 0.1]}
    fig = figures.drift_figure(c, ["angular_momentum", "balance/h2", "chain/h2-h4", "typed/jx"])
    assert [t.name for t in fig.data] == ["angular momentum |J|", "balance, layer 2", "p^k chain, layers 2-4", "J_x"]
    assert all("_" not in t.name.replace("J_x", "") for t in fig.data)


def test_the_exact_step_by_step_prediction_names_the_run_s_own_dynamics():
    c = cols()
    c["balance/h2:pred_discrete"] = [0.5] * len(c["step"])
    names = {kind: [t.name for t in figures.law_figure(c, "balance/h2", dynamics=kind).data] for kind in ("gd", "sgd")}
    assert any(n.startswith("GD, exact step by step") for n in names["gd"])
    assert any(n.startswith("SGD") and "exact step by step" in n for n in names["sgd"])
    assert not any("GD, exact" in n and not n.startswith("SGD") for n in names["sgd"])


def test_compare_keeps_a_loss_of_zero_on_its_log_axis():
    runs = [{"label": "a", "columns": {"step": [0, 1, 2], "loss": [1.0, 0.5, 0.0]}}]
    fig = figures.compare_figure(runs, "loss", log_y=True)
    assert list(fig.data[0].y) == [1.0, 0.5, 0.5]
    assert any(a.text == figures.LOG_FLOOR_NOTE for a in fig.layout.annotations)


DYNAMICS_CASES = [{"kind": k, "lr": 0.01} for k in ("gd", "sgd", "momentum", "adam", "nd", "nag")] + [
    {"kind": "leapfrog", "dt": 0.01}, {"kind": "general", "dt": 0.01},
    *({"kind": "rk4", "dt": 0.01, "flow": f} for f in ("gf", "nd", "nagf", "general"))]


@pytest.mark.parametrize("dynamics", DYNAMICS_CASES, ids=lambda d: d["kind"] + "-" + d.get("flow", ""))
def test_the_dashboards_flow_of_a_spec_is_the_cores(dynamics):
    """The run page and the export read a spec's flow from its JSON; the core's kind records are the truth."""
    from noether.dynamics import DYNAMICS
    from noether.laws.conditions import flow_of
    from noether.spec import parse_spec

    assert {d["kind"] for d in DYNAMICS_CASES} == set(DYNAMICS)  # every kind is checked
    body = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": dynamics, "steps": 10,
            "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}}
    if dynamics.get("flow") == "nagf" or dynamics["kind"] == "general":
        body["dynamics"] = {**dynamics, "t0": 1.0}
    core = flow_of(parse_spec(body)).name
    assert figures.flow_of_spec(body) == (None if core == "none" else core)


def test_the_flow_legend_states_the_runs_prediction_not_conserved_under_weight_decay():
    """Issue 12 (the researcher): beside GD's exact prediction the dashed curve was always 'gradient flow: conserved',
    also for laws that decay under weight decay. It now states the law's own prediction for the run."""
    assert figures.flow_label("conserved under GF; GD: exactly ...") == "gradient flow: conserved"
    assert figures.flow_label("s constant under gradient flow; SGD: exactly ...") == "gradient flow: conserved"
    assert figures.flow_label("M constant (eq. 42)") == "gradient flow: conserved"
    assert figures.flow_label("decays as Q(0) exp(-2 lambda t), lambda = 0.01 under GF; GD: exactly Q_{k+1} = ...") \
        == "gradient flow: decays as Q(0) exp(-2 lambda t), lambda = 0.01"
    # noether.watch's text: the modified flow's term has its own curve (dash-dot), not the flow's legend
    assert figures.flow_label("gradient flow: decays as exp(-2 lambda t / (1 - beta)) plus the eta-weighted gradient "
                              "term (modified flow); exact step by step (momentum recursion)") \
        == "gradient flow: decays as exp(-2 lambda t / (1 - beta))"
    assert figures.flow_label("") == figures.FLOW_LABEL  # a live run, before its summary: no claim
    c = cols() | {"balance/h2:pred_discrete": [0.5] * 50}
    fig = figures.law_figure(c, "balance/h2", "", "decays as Q(0) exp(-2 lambda t), lambda = 0.1 under GF; GD: ...")
    assert {t.meta["y"]: t.name for t in fig.data}["balance/h2:pred"].startswith("gradient flow: decays as")


@pytest.mark.parametrize("dynamics", ["gd", "sgd"])
def test_every_law_with_an_exact_prediction_names_its_flows_decay_under_weight_decay(dynamics):
    """The laws' own prediction texts (translation, scale, balance, linear balance) under weight decay give a legend
    that says the flow's value decays; without weight decay, that it is conserved."""
    import noether
    from noether.spec import parse_spec

    def spec(weight_decay, model):
        return parse_spec({"model": {"widths": [4, 5, 5, 3], "bias": True, **model},
                           "data": {"kind": "synthetic", "samples": 24, "inputs": 4, "classes": 3},
                           "loss": "nll", "dynamics": {"kind": dynamics, "lr": 0.05, "weight_decay": weight_decay,
                                                      **({"batch_size": 8} if dynamics == "sgd" else {})},
                           "steps": 3, "dtype": "float64"})

    models = [{"activation": "relu", "batch_norm": [True, False]}, {"activation": ["linear", "relu"]}]
    for model in models:
        for wd in (0.0, 0.1):
            sim = noether.simulate(spec(wd, model))
            columns = sim.collect()[-1].keys()
            laws = [law for law in sim.summary.laws if f"{law.id}:pred_discrete" in columns]
            assert {law.family for law in laws} >= ({"translation", "scale", "balance"} if "batch_norm" in model
                                                    else {"translation", "linear_balance"})
            for law in laws:
                label = figures.flow_label(law.prediction)
                if wd:
                    assert "decays" in label and "conserved" not in label, (law.id, law.prediction, label)
                else:
                    assert label == "gradient flow: conserved", (law.id, law.prediction, label)

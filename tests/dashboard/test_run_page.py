"""The run page's chart layout (pure): which charts a stream's columns and views give, cached figures."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dashboard.pages import run

LIVE = {
    "run": "r1",
    "columns": ["step", "t", "loss", "angular_momentum", "angular_momentum:pred", "balance/h2", "balance/h2:pred",
                "balance/h2:|W_2|^2", "balance/h2:|W_3|^2"],
    "views": {"position": [3], "velocity": [3], "balance/h2:neurons": [16]},
}


def charts(out) -> dict[str, dict]:
    """Chart id -> figure, from the components build_graphs lays out."""
    found = {}
    for cell in out:
        box = cell.children
        found[box.id] = json.loads(getattr(box.children, "data-figure"))
    return found


def test_the_stream_decides_the_charts_and_each_trace_says_what_it_draws():
    figs = charts(run.build_graphs(LIVE, {"spec": {"potential": {"kind": "sphere", "radius": 2.0}}}))
    assert list(figs) == ["run-graph-trajectory", "run-graph-loss", "run-graph-law-0", "run-graph-law-1",
                          "run-graph-drift", "run-graph-neurons-0", "run-graph-hist-0"]
    assert figs["run-graph-trajectory"]["layout"]["scene"]["xaxis"]["range"] == [-3.2, 3.2]
    balance = figs["run-graph-law-1"]
    assert {t["meta"]["y"] for t in balance["data"]} == {"balance/h2", "balance/h2:pred", "balance/h2:|W_2|^2",
                                                         "balance/h2:|W_3|^2"}
    assert "yaxis2" in balance["layout"]  # the norms and their difference on two axes (Fig. 1)
    for fig in figs.values():
        assert all(not t.get("x") for t in fig["data"] if (t.get("meta") or {}).get("live") == "line")  # live-4-render.js fills them


def test_charts_of_runs_with_the_same_columns_are_built_once():
    a = run.build_graphs(LIVE, None)
    b = run.build_graphs(dict(LIVE, run="r2"), None)
    assert getattr(a[1].children.children, "data-figure") is getattr(b[1].children.children, "data-figure")
    named = run.build_graphs(LIVE, {"summary": {"laws": [{"id": "angular_momentum", "name": "|J|",
                                                          "prediction": "conserved"}]}})
    law = json.loads(getattr(named[2].children.children, "data-figure"))
    assert law["layout"]["title"]["text"] == "|J|"  # law names from the summary make a new chart


def test_no_columns_yet_says_so():
    out = run.build_graphs({"run": "r1", "columns": [], "views": {}}, None)
    assert "Waiting" in out[0].children


def test_squared_norms_get_one_chart_and_stay_out_of_the_laws_and_their_drift():
    live = dict(LIVE, columns=[*LIVE["columns"], "sq_norm/W2", "sq_norm/W3"])
    figs = charts(run.build_graphs(live, None))
    assert "run-graph-law-2" not in figs  # two laws, as without the norms
    assert {t["meta"]["y"] for t in figs["run-graph-drift"]["data"]} == {"angular_momentum", "balance/h2"}
    assert [t["meta"]["y"] for t in figs["run-graph-norms"]["data"]] == ["sq_norm/W2", "sq_norm/W3"]


def test_the_charts_laid_out_with_the_page_have_the_key_the_pages_stream_will_report():
    """The run page is laid out with its charts (layout: live_of, graph_key); the browser's stream then reports
    its columns and views (assets/live-2-store.js summary) and live-5-bridge.js's graph_key decides whether to lay
    them out again. The two keys must agree, or every page would draw its charts twice."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    first = {"step": 0, "t": 0.0, "loss": 1.0, "balance/h2": 0.5, "balance/h2:pred": 0.5, "angular_momentum": None,
             "position": [0.1, 0.2, 0.3], "balance/h2:neurons": [0.0] * 16, "W1:matrix": [[1.0, 2.0], [3.0, 4.0]]}
    info = {"summary": {"laws": [{"id": "balance/h2"}, {"id": "angular_momentum"}]}}
    preset = {"name": "toy-nd"}
    assets = Path(run.__file__).resolve().parents[1] / "assets"
    script = f"""
    const St = require({json.dumps(str(assets / "live-2-store.js"))});
    global.window = {{}};
    const S = St.newStore("r1");
    St.ingest(S, [{json.dumps(first)}]);
    const live = St.summary(S);
    const info = {json.dumps(info)}, preset = {json.dumps(preset)};
    // assets/live-5-bridge.js graph_key, as written there
    const laws = (((info || {{}}).summary || {{}}).laws || []).map((l) => l.id || "").sort();
    const key = live.run + "|" + (live.key || "") + "|" + laws.join(",") + "|" + ((preset || {{}}).name || "");
    process.stdout.write(JSON.stringify({{key, views: live.views}}));
    """
    out = json.loads(subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True).stdout)
    live = run.live_of("r1", first)
    assert run.graph_key(live, info, preset) == out["key"]
    assert live["views"] == out["views"]  # the shapes the charts are built from
    # the bridge's own text computes the key this test repeats
    bridge = (assets / "live-5-bridge.js").read_text()
    assert 'const key = live.run + "|" + (live.key || "") + "|" + laws.join(",") + "|" + ((preset || {}).name || "");' \
        in bridge

"""A running run's charts are titled in words from the first record (issue 12 item 4): the law catalogue's
titles until the run summary's names arrive, never the internal ids such as ``angular_momentum``."""

from __future__ import annotations

import json

from backend.routes.catalogue import plain
from dashboard.pages import run
from noether import laws

CATALOGUE = [plain(entry) for entry in laws.catalogue()]


def figures(graphs: list) -> list[dict]:
    """The figures of the laid-out live plots (``graph > plot-box > live-plot[data-figure]``)."""
    return [json.loads(getattr(g.children.children, "data-figure")) for g in graphs]


def test_law_ids_get_the_catalogue_title_with_their_instance():
    names = run.readable_names(["angular_momentum", "balance/h2", "energy", "not_a_law"], CATALOGUE)
    assert names["angular_momentum"] == "Angular momentum"
    assert names["balance/h2"].endswith("(h = 2)") and not names["balance/h2"].startswith("balance/")
    assert names["energy"] == "Energy"
    assert "not_a_law" not in names  # an unknown column keeps its id (nothing is invented)
    chain = run.readable_names(["chain/h1-h3", "balance/h1-h3"], CATALOGUE)
    assert chain["chain/h1-h3"].endswith("(h = 1, h+k = 3)")
    assert "balance/h1-h3" not in chain  # not a balance of layer "1-h3"


def test_a_running_runs_law_charts_are_titled_in_words_before_its_summary():
    live = {"run": "r", "columns": ["step", "t", "loss", "angular_momentum", "angular_momentum:pred"], "views": {}}
    graphs = run.build_graphs(live, {"spec": {}}, True, catalogue=CATALOGUE)
    figs = figures(graphs)
    law = next(f for f in figs if any((t.get("meta") or {}).get("y") == "angular_momentum" for t in f["data"]))
    assert law["layout"]["title"]["text"] == "Angular momentum"
    legend = [t["name"] for t in law["data"] if (t.get("meta") or {}).get("y") == "angular_momentum"]
    assert legend == ["Angular momentum"]
    # once the summary is in, its own name wins
    summary = {"laws": [{"id": "angular_momentum", "name": "|J|, J = w w'^T - w' w^T"}]}
    graphs = run.build_graphs(live, {"spec": {}, "summary": summary}, True, catalogue=CATALOGUE)
    figs = figures(graphs)
    assert any(f["layout"]["title"]["text"] == "|J|, J = w w'^T - w' w^T" for f in figs)

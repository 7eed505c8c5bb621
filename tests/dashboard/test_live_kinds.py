"""The ``meta.live`` kinds are declared once (``dashboard/assets/live-kinds.json``): the figures the run page
lays out use exactly those (``tests/js/kinds.test.js`` checks that live-4-render.js draws exactly those)."""

from __future__ import annotations

import json

from dashboard import figures
from dashboard.pages import run

# one empty chart of every kind the run page lays out (pages/run.py empty_figure_json)
CHARTS = [
    ("trajectory", 1.0, (0.5, 0.5, 0.5), (-2.0, 1.0, 1.0)),
    ("powerlaw", ("step", "t", "angular_momentum", "angular_momentum:pred"), "angular_momentum", -3.0, "J"),
    ("particles", 3),
    ("loss", ("step", "loss"), True),
    ("law", ("step", "balance/h1", "balance/h1:pred"), "balance/h1", "balance", "conserved", "gd"),
    ("drift", ("step", "balance/h1"), ("balance/h1",)),
    ("norms", ("step", "sq_norm/W1"), ("sq_norm/W1",)),
    ("neurons", "balance/h1:neurons"),
    ("hist", "balance/h1:neurons"),
    ("matrix", "rotation:matrix"),
]


def used_kinds() -> set[str]:
    out = set()
    for kind, *args in CHARTS:
        fig = json.loads(run.empty_figure_json(kind, *args))
        out |= {t["meta"]["live"] for t in fig["data"] if isinstance(t.get("meta"), dict) and "live" in t["meta"]}
    return out


def test_the_run_page_draws_exactly_the_declared_kinds():
    assert used_kinds() == set(figures.LIVE_KINDS)


def test_every_kind_says_what_it_draws():
    assert len(figures.LIVE_KINDS) == 10
    assert all(isinstance(v, str) and len(v) > 20 for v in figures.LIVE_KINDS.values())

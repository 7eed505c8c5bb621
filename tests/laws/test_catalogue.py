"""The catalogue and the runner's choice of laws: complete entries, every preset selectable, docs rendered."""

from __future__ import annotations

import pytest

from noether import presets
from noether.laws import catalogue, make_context, select
from noether.laws.docs import render_markdown
from noether.laws.entry import FLOWS
from noether.spec import parse_spec

from .helpers import net_spec, run


def test_every_entry_states_symmetry_condition_quantity_and_a_prediction_per_flow():
    entries = catalogue()
    assert len({e.id for e in entries}) == len(entries)
    for e in entries:
        assert set(e.predictions) == set(FLOWS), e.id
        assert e.symmetry and e.condition and e.quantity and e.paper and e.columns
    ids = {e.id for e in entries}
    assert {"balance", "balance_sum", "chain", "linear_balance", "angular_momentum", "energy", "nd_bound",
            "velocity_bound", "ntk_drift"} <= ids


@pytest.mark.parametrize("preset", [p.name for p in presets.all()])
def test_every_preset_selects_laws_without_running(preset):
    spec = presets.get(preset).spec
    laws, skipped = select(spec, None, make_context(spec))
    ids = [law.id for law in laws] + [s.id for s in skipped]
    assert len(ids) == len(set(ids))
    assert laws, "every preset shows at least one law"
    for s in skipped:
        assert s.verdict == "not applicable" and s.reason


def test_records_carry_each_selected_law_with_its_prediction():
    records, summary, sim = run(net_spec([5, 6, 6, 3], bias=True, steps=3))
    ids = {law.id for law in sim.laws}
    assert ids == {"balance/h1", "balance/h2", "balance_sum", "residual/h1", "residual/h2", "translation"}
    for law_id in ids:
        assert law_id in records[0] and law_id + ":pred" in records[0]
    assert summary["balance/h1"].dynamics.startswith("gd")


def test_selection_follows_the_flow():
    def ids(dynamics):
        spec = parse_spec(net_spec([5, 6, 6, 3], dynamics=dynamics, steps=1))
        laws, _ = select(spec)
        return {law.id for law in laws}

    assert "energy" not in ids({"kind": "gd", "lr": 0.1})
    assert {"energy", "nd_bound", "velocity_bound"} <= ids({"kind": "nd", "lr": 0.1})
    assert "residual/h1" not in ids({"kind": "nag", "lr": 0.1})  # NAG has no gradient at w_k


def test_spec_tolerance_overrides_the_defaults():
    _, summary, _ = run(net_spec([5, 6, 6, 3], steps=20, tolerance=1e-14))
    assert summary["balance/h1"].tolerance == 1e-14
    assert "spec.tolerance" in summary["balance/h1"].reason


def test_docs_render_every_family():
    text = render_markdown()
    for e in catalogue():
        assert f"### {e.id}" in text
    assert "How a law is judged" in text


def test_a_diverging_run_still_gets_a_verdict_from_its_finite_records():
    records, summary, sim = run(net_spec([5, 6, 6, 3], "power(3)", dynamics={"kind": "gd", "lr": 10.0}, steps=200,
                                         model={"init_gain": 3.0}, loss="mse", dtype="float32"))
    assert sim.status == "diverged"
    s = summary["balance/h1"]
    assert s.verdict in ("holds", "broken") and s.initial is not None and s.final is not None

"""Typed potentials (issue 15, item 5): L(w) from an expression, its symmetries found by discovery, their laws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noether.expr import ExpressionError
from noether.laws.typed import symmetries
from noether.models.expression import expression_potential, parse_potential
from noether.spec import SpecError, parse_spec

from .helpers import column, preset_spec, run

Z_AXIS = "(x^2 + y^2 - 1)^2 + z^2"


def typed(expression: str, dynamics: dict, steps: int, *, position, velocity=None, dim: int = 3, **kw) -> dict:
    return {
        "potential": {"expression": expression, "dim": dim},
        "initial": {"position": list(position), "velocity": None if velocity is None else list(velocity)},
        "dynamics": dynamics,
        "steps": steps,
        "dtype": "float64",
        "device": "cpu",
        **kw,
    }


def test_the_gradient_is_autograd_on_the_parsed_tree():
    w = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)
    value, g = expression_potential("x*y*z")(w)
    assert float(value) == pytest.approx(0.7 * -1.3 * 0.4, rel=1e-15)
    assert g.tolist() == pytest.approx([-1.3 * 0.4, 0.7 * 0.4, 0.7 * -1.3], rel=1e-15)
    _, g = expression_potential("(w1^2 + w2^2 + w3^2 - 1)^2")(w)
    assert g.tolist() == pytest.approx((4 * (float(w @ w) - 1) * w).tolist(), rel=1e-14)
    assert parse_potential("x^2 + y^2")[1] == 2 and parse_potential("exp(-z) + x")[1] == 3


@pytest.mark.parametrize("text", ["__import__('os')", "x.real", "open(x)", "y z", "x; y", "lambda: 1"])
def test_anything_but_the_grammar_is_refused(text):
    with pytest.raises(ExpressionError):
        parse_potential(text)


def test_spec_errors_name_the_field():
    with pytest.raises(SpecError) as exc:
        parse_spec(typed("x*y*z", {"kind": "gd"}, 10, position=[1, 1], dim=2))
    assert exc.value.lines == ["potential.expression: uses z (coordinate 3) but dim is 2"]
    with pytest.raises(SpecError) as exc:
        parse_spec(typed("x * q", {"kind": "gd"}, 10, position=[1, 1, 1]))
    assert exc.value.lines[0].startswith("potential.expression") and "'q'" in exc.value.lines[0]
    spec = parse_spec(typed("x*y*z", {"kind": "gd"}, 10, position=[1, 1, 1]))
    assert spec.potential.kind == "expression"  # {expression, dim} without a kind is a typed potential


def test_discovery_finds_the_symmetries_of_the_classic_examples():
    xyz = symmetries("x*y*z", 3)
    assert [np.diag(A).tolist() for A in xyz.quantities] == [[1, -1, 0], [1, 0, -1]] and xyz.axes == ()
    z_axis = symmetries(Z_AXIS, 3)
    assert z_axis.quantities == () and z_axis.axes == ((0.0, 0.0, 1.0),)
    toy = symmetries("(x^2 + y^2 + z^2 - 1)^2", 3)
    assert toy.full_rotation and toy.quantities == ()


def test_xyz_gives_exactly_two_independent_laws_that_hold_under_gradient_flow():
    """Marcotte et al.: under gradient flow of L = x y z, x^2 - y^2 and x^2 - z^2 are conserved (and nothing else)."""
    records, summary, _ = run(typed("x*y*z", {"kind": "rk4", "flow": "gf", "dt": 0.01}, 250,
                                    position=[1.0, 0.8, 0.5]))
    quantities = sorted(law_id for law_id in summary if law_id.startswith("typed/q"))
    assert quantities == ["typed/q1", "typed/q2"]
    assert [summary[q].name for q in quantities] == ["x^2 - y^2", "x^2 - z^2"]
    pos = np.array([r["position"] for r in records])
    assert np.ptp(pos[:, 2]) > 0.3  # w moves a lot ...
    for q, (a, b) in zip(quantities, [(0, 1), (0, 2)], strict=True):
        assert summary[q].verdict == "holds", summary[q].reason
        values = column(records, q)
        assert np.max(np.abs(values - (pos[0, a] ** 2 - pos[0, b] ** 2))) < 1e-7  # ... the two quantities do not (RK4 error)
        assert np.max(np.abs(values - (pos[:, a] ** 2 - pos[:, b] ** 2))) < 1e-12  # and they are what they say
    # the third candidate, y^2 - z^2, is their difference: not independent, not listed


def test_xyz_under_gd_drifts_at_first_order_in_the_step():
    """GD keeps the gradient-flow quantities up to O(eta) over a fixed time (Sec. 8): halving eta halves the drift."""
    drifts = []
    for lr in (0.02, 0.01, 0.005):
        records, summary, _ = run(typed("x*y*z", {"kind": "gd", "lr": lr}, int(round(2.0 / lr)), position=[1.0, 0.8, 0.5]))
        assert summary["typed/q1"].verdict == "holds"
        q = column(records, "typed/q1")
        drifts.append(np.max(np.abs(q - q[0])))
    ratios = [drifts[i] / drifts[i + 1] for i in range(2)]
    assert all(1.7 < r < 2.3 for r in ratios), ratios


def test_z_axis_potential_conserves_j_z_and_visibly_not_j_x():
    records, summary, _ = run(typed(Z_AXIS, {"kind": "nd", "lr": 1e-4}, 3000, position=[0.5, 0.5, 0.5],
                                    velocity=[-2.0, 1.0, 1.0], record_every=10))
    jz, jx, jy = (column(records, f"typed/j{a}") for a in "zxy")
    assert summary["typed/jz"].verdict == "holds"
    assert np.max(np.abs(jz - jz[0])) < 1e-10 and abs(jz[0]) == pytest.approx(1.5)
    assert np.ptp(jx) > 0.5 and np.ptp(jy) > 0.5  # J_x, J_y move on the scale of J itself
    for law_id in ("typed/jx", "typed/jy"):
        assert summary[law_id].verdict == "not applicable" and "change L" in summary[law_id].reason
    assert "typed/q1" not in summary and summary["typed/q"].verdict == "not applicable"  # no quadratic quantity


def test_typed_toy_matches_the_toy_preset():
    """The paper's toy typed as an expression gets the toy preset's laws, with the same values and verdicts."""
    base = preset_spec("toy-nd", steps=600, record_every=10, dtype="float64")
    typed_spec = {**base, "potential": {"expression": "(x^2 + y^2 + z^2 - 1)^2", "dim": 3}}
    toy_records, toy_summary, _ = run(base)
    records, summary, _ = run(typed_spec)
    shared = {law_id for law_id in toy_summary if toy_summary[law_id].verdict != "not applicable"}
    assert shared >= {"angular_momentum", "orbit_plane", "rotation_residual", "energy"}
    for law_id in shared:
        assert summary[law_id].verdict == toy_summary[law_id].verdict, law_id
        a, b = column(toy_records, law_id), column(records, law_id)
        assert np.max(np.abs(a - b)) <= 1e-9 * max(1.0, np.max(np.abs(a))), law_id
    for a in "xyz":  # and every component of J is a law of its own
        assert summary[f"typed/j{a}"].verdict == "holds"

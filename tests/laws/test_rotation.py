"""Rotation symmetry (Table 5, Sec. 6): angular momentum per flow, the orbit's plane, the data's symmetry defect."""

from __future__ import annotations

import numpy as np
import pytest

from noether.laws.rotation import AngularMomentum

from .helpers import column, law_of, preset_spec, run, slope


def _toy(dynamics: dict, steps: int, *, position=(0.5, 0.5, 0.5), velocity=(-2.0, 1.0, 1.0), potential=None, **kw):
    return {
        "potential": potential or {"kind": "sphere", "dim": len(position)},
        "initial": {"position": list(position), "velocity": list(velocity) if velocity is not None else None},
        "dynamics": dynamics,
        "steps": steps,
        "dtype": "float64",
        **kw,
    }


def test_nd_conserves_angular_momentum_and_the_orbit_stays_in_the_plane_y_eq_z():
    """Sec. 6.1, Fig. 3: J = w' x w = (0, 3/2, -3/2) (the paper's value) at t = 0 stays exactly constant; the orbit
    stays in y = z."""
    records, summary, _ = run(preset_spec("toy-nd", steps=1500, record_every=5))
    J = np.array([r["angular_momentum:vector"] for r in records])
    assert J[0] == pytest.approx([0.0, 1.5, -1.5], abs=1e-12)
    assert np.max(np.abs(J - J[0])) < 1e-10  # eq. 21 conserves it exactly for an exactly symmetric loss
    pos = np.array([r["position"] for r in records])
    assert np.max(np.abs(pos[:, 1] - pos[:, 2])) < 1e-12
    assert np.ptp(pos[:, 0]) > 0.5 and np.ptp(column(records, "loss")) > 0.1  # it really orbits, the loss oscillates
    for law_id in ("angular_momentum", "orbit_plane", "rotation_residual", "energy"):
        assert summary[law_id].verdict == "holds", (law_id, summary[law_id].reason)


def test_leapfrog_conserves_angular_momentum_exactly():
    records, summary, _ = run(_toy({"kind": "leapfrog", "dt": 0.01}, 800))
    J = np.array([r["angular_momentum:vector"] for r in records])
    assert np.max(np.abs(J - J[0])) < 1e-12
    assert summary["angular_momentum"].verdict == "holds"


def test_nag_angular_momentum_decays_as_t_to_the_minus_three():
    """eq. 46: J(t) = J(t0) (t0/t)^3 for NAGF; the discrete NAG run (t0 = 0.5) follows it: fitted exponent -3."""
    records, summary, _ = run(preset_spec("toy-nag", steps=3000, record_every=30))
    t, J = column(records, "t"), column(records, "angular_momentum")
    assert t[0] == pytest.approx(0.5)
    assert slope(t, J) == pytest.approx(-3.0, abs=0.05)
    assert J[-1] < 1e-3 * J[0]
    pos = np.array([r["position"] for r in records])
    assert np.max(np.abs(pos[:, 1] - pos[:, 2])) < 1e-12  # the same plane as ND (Fig. 4)
    assert summary["angular_momentum"].verdict == "holds"
    assert summary["angular_momentum"].prediction == "decays as t^-3"


def test_general_flow_angular_momentum_decays_as_exp_of_minus_integral_k1():
    """eq. 45: k2 J' + k1 J = 0; with k1 = 0.5, k2 = 1 J decays as exp(-t/2)."""
    records, summary, _ = run(_toy({"kind": "general", "k1": "0.5", "k2": "1", "dt": 0.005, "t0": 0.0}, 1000))
    t, J = column(records, "t"), column(records, "angular_momentum")
    assert J[-1] / J[0] == pytest.approx(np.exp(-0.5 * (t[-1] - t[0])), rel=0.01)
    assert summary["angular_momentum"].verdict == "holds"


def test_gradient_flow_orbit_is_a_radial_segment():
    """Fig. 5: under GF the angular momentum is 0 and w moves along w(0) only."""
    records, summary, _ = run(preset_spec("toy-gf", steps=600))
    pos = np.array([r["position"] for r in records])
    unit = pos / np.linalg.norm(pos, axis=1, keepdims=True)
    assert np.max(np.abs(unit - unit[0])) < 1e-12
    assert np.linalg.norm(pos[-1]) > 3 * np.linalg.norm(pos[0])  # it moved out to the sphere
    assert np.max(column(records, "angular_momentum")) < 1e-12
    assert summary["orbit_plane"].verdict == "holds" and summary["angular_momentum"].verdict == "holds"


def test_higher_dimensional_sphere_conserves_the_angular_momentum_matrix():
    pos, vel = (0.3, -0.2, 0.5, 0.1, 0.4), (1.0, 0.5, -0.3, 0.2, 0.0)
    records, summary, _ = run(_toy({"kind": "nd", "lr": 1e-4}, 1000, position=pos, velocity=vel))
    M = np.array([r["angular_momentum:matrix"] for r in records])
    assert M.shape == (len(records), 5, 5)
    assert np.max(np.abs(M + M.transpose(0, 2, 1))) < 1e-14  # antisymmetric
    assert np.max(np.abs(M - M[0])) < 1e-10
    assert summary["orbit_plane"].verdict == "holds"


def test_quadratic_potential_with_unequal_eigenvalues_is_a_control():
    """L = 1/2 sum lambda_i w_i^2 is rotation-invariant only for equal lambda_i: otherwise not applicable, and broken."""
    quad = {"kind": "quadratic", "eigenvalues": [1.0, 2.0, 3.0]}

    def forced(sim):
        return [AngularMomentum(sim.context, 0, defect_tolerance=False, id="forced", family="test", name="|J|",
                                symmetry="-", prediction="conserved", default_tolerance=1e-6)]

    _, summary, _ = run(_toy({"kind": "nd", "lr": 1e-3}, 1000, potential=quad), extra_laws=forced)
    assert summary["angular_momentum"].verdict == "not applicable"
    assert "not rotation-invariant" in summary["angular_momentum"].reason
    assert summary["forced"].verdict == "broken" and summary["forced"].max_rel_drift > 0.1
    _, summary, _ = run(_toy({"kind": "nd", "lr": 1e-3}, 1000, potential={"kind": "quadratic", "eigenvalues": [2.0] * 3}))
    assert summary["angular_momentum"].verdict == "holds"


def test_rotation_data_network_keeps_total_angular_momentum_within_the_sample_defect():
    """Sec. 6.2: first-layer neurons as particles in R^3; ND conserves their total angular momentum up to the
    finite sample's symmetry defect, and more of the orbit (augmentation by rotated copies) shrinks both."""
    drift, defect = {}, {}
    for augment in (0, 63):
        spec = preset_spec("rotation-net", steps=300, record_every=10)
        spec["data"]["samples"], spec["data"]["augment"] = 256, augment
        records, summary, sim = run(spec)
        s = summary["angular_momentum"]
        assert s.verdict == "holds", s.reason
        assert "symmetry defect" in s.reason and "whole orbit" in s.reason
        defect[augment] = law_of(sim, "angular_momentum").defect
        assert s.tolerance == pytest.approx(2 * defect[augment], abs=1e-6)  # float precision + 2 x the defect
        assert len(records[-1]["angular_momentum:vector"]) == 3
        drift[augment] = s.max_rel_drift
    assert defect[63] < 0.5 * defect[0]
    assert drift[63] < drift[0]


def test_non_rotation_data_has_no_rotation_law():
    from .helpers import net_spec

    _, summary, _ = run(net_spec([3, 8, 2], steps=2))
    assert summary["angular_momentum"].verdict == "not applicable"
    assert "not rotation-symmetric" in summary["angular_momentum"].reason

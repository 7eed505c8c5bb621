"""The linear algebra under discovery: structured pairings against explicit generators, the null-space
tolerance, the symmetric/antisymmetric split and the readable basis."""

from __future__ import annotations

import pytest
import torch

from noether.discovery.candidates import (
    RescaleFamily,
    apply_sum,
    input_family,
    mix_family,
    output_family,
    rotation_family,
)
from noether.discovery.nullspace import readable_basis, rref, scaled_null, split_parity
from noether.spec import parse_spec
from noether.structure import mlp_structure, potential_structure


def _structure():
    spec = parse_spec(
        {
            "model": {"widths": [3, 4, 5, 2], "activation": "swish", "bias": True},
            "data": {"kind": "rotation", "dim": 3, "target": "shells"},
            "loss": "nll",
        }
    )
    return mlp_structure(spec.model)


def _families(st):
    return [RescaleFamily(st, 1), RescaleFamily(st, 2), mix_family(st, 1), mix_family(st, 2), input_family(st), output_family(st)]


def _dot(a, b):
    return sum((x * y).sum() for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("k", range(6))
def test_pairings_scales_terms_and_parity_match_explicit_generators(k):
    torch.manual_seed(k)
    st = _structure()
    fam = _families(st)[k]
    w = [torch.randn(s, dtype=torch.float64) for s in st.shapes]
    g = [torch.randn((3, *s), dtype=torch.float64) for s in st.shapes]
    P, R, T = fam.pairings(w, g), fam.scales(w, g), fam.terms(w, g)
    norms = fam.norms(w)
    u = [torch.randn(s, dtype=torch.float64) for s in st.shapes]
    v = [torch.randn(s, dtype=torch.float64) for s in st.shapes]
    for j in range(fam.size):
        c = torch.zeros(fam.size, dtype=torch.float64)
        c[j] = 1.0
        Aw = apply_sum([fam.apply(c, w)], w)
        explicit = torch.stack([_dot([t[s] for t in g], Aw) for s in range(3)])
        assert torch.allclose(P[:, j], explicit, atol=1e-12)
        assert (P[:, j].abs() <= R[:, j] + 1e-12).all()  # Cauchy-Schwarz bound
        assert float(norms[j]) == pytest.approx(float(torch.sqrt(_dot(Aw, Aw))), rel=1e-12)
        # transposition: <v, A u> = parity <A v, u>
        Au, Av = apply_sum([fam.apply(c, u)], u), apply_sum([fam.apply(c, v)], v)
        assert float(_dot(v, Au)) == pytest.approx(float(fam.parity[j]) * float(_dot(Av, u)), abs=1e-12)
    assert torch.allclose(T.sum(-1), P, atol=1e-12)


def test_rotation_family_pairs_with_the_sphere_gradient_to_zero_on_so_d():
    st = potential_structure(4)
    fam = rotation_family(st)
    w = [torch.randn(4, dtype=torch.float64)]
    g = [(4.0 * (w[0].dot(w[0]) - 1.0) * w[0])[None]]  # grad of (|w|^2 - 1)^2
    P = fam.pairings(w, g)[0]
    anti = fam.parity < 0
    assert P[anti].abs().max() < 1e-12
    assert P[~anti].abs().max() > 1e-3


def test_scaled_null_space_respects_the_tolerance_on_cosines():
    torch.manual_seed(0)
    rows = torch.randn(200, 3, dtype=torch.float64)
    M = torch.cat([rows, torch.randn(200, 1, dtype=torch.float64) * 1e-7], dim=1)  # column 4 tiny, not null
    M[:, 2] = M[:, 0] + M[:, 1]  # an exact combination: c = (1, 1, -1, 0)
    rho = M.norm(dim=0)
    V, sigma = scaled_null(M.T @ M, rho, 1e-5)
    assert V.shape[1] == 1  # the combination; column 4 is small but, scaled by its own bound, not null
    c = V[:, 0] / rho
    c = c / c[0]
    assert torch.allclose(c, torch.tensor([1.0, 1.0, -1.0, 0.0], dtype=torch.float64), atol=1e-8)


def test_rref_is_readable_and_keeps_the_span():
    B = torch.tensor([[2.0, 4.0, 0.0, 2.0], [1.0, 2.0, 1.0, 0.0]], dtype=torch.float64)
    R = rref(B)
    assert torch.allclose(R, torch.tensor([[1.0, 2.0, 0.0, 1.0], [0.0, 0.0, 1.0, -1.0]], dtype=torch.float64))


def test_split_parity_separates_symmetric_antisymmetric_and_the_rest():
    parity = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    C = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    sym, anti, rest = split_parity(C, parity)
    assert (sym.shape[1], anti.shape[1], rest.shape[1]) == (1, 1, 1)  # e_0, e_2, and e_1 + e_3 is neither
    closed = C[:, :2]
    s2, a2, r2 = split_parity(closed, parity)
    assert (s2.shape[1], a2.shape[1], r2.shape[1]) == (1, 1, 0)


def test_readable_basis_finds_per_neuron_generators_and_drops_a_relation():
    """Columns: neuron 0 (row, col), neuron 1 (row, col), and an input diagonal that equals 'all rows'.
    Null space: the two neuron rescalings and the relation row0 + row1 - diag = 0 (the zero map)."""
    gens = torch.tensor(
        [[1.0, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0, 0.0], [1.0, 0.0, 1.0, 0.0, -1.0]], dtype=torch.float64
    ).T
    Q, _ = torch.linalg.qr(gens)
    rho = torch.ones(5, dtype=torch.float64)
    supports = [[("neuron 1.0", torch.tensor([0, 1])), ("neuron 1.1", torch.tensor([2, 3]))], [("layer 1", torch.arange(4))]]
    relation = torch.tensor([[1.0, 0.0, 1.0, 0.0, -1.0]], dtype=torch.float64).T
    pieces, dropped = readable_basis(Q, rho, supports, lambda c: torch.zeros(c.shape[1], dtype=torch.bool), relation)
    assert dropped == 1
    assert [p.support for p in pieces] == ["neuron 1.0", "neuron 1.1"]
    assert torch.allclose(pieces[0].C[:, 0], torch.tensor([1.0, -1.0, 0.0, 0.0, 0.0], dtype=torch.float64), atol=1e-10)

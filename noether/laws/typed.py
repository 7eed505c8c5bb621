"""Laws of a typed potential: discovery (Algorithm 1) finds its symmetries, the runner tracks what they give.

For ``potential: {kind: expression, expression: "x*y*z", dim: 3}`` the search of ``noether.discovery`` runs
over gl(d) acting on w (xi(w) = A w, d^2 candidates) at sampled points, once per expression, when the run's
laws are chosen. What it finds becomes laws measured like the catalogue's:

- a **symmetric** generator A gives Q = w^T A w, conserved under gradient flow (dQ/dt = 2 <w', A w> =
  -2 <grad L, A w> = 0). L = x y z has the two diagonal generators diag(1, -1, 0), diag(1, 0, -1), i.e.
  x^2 - y^2 and x^2 - z^2 (Marcotte et al.); a readable basis is chosen (reduced row echelon form);
- an **antisymmetric** generator is a rotation about an axis n (A w = n x w) and gives the charge
  n . J, J = w' x w (the paper's sign, eq. 48; in 2D, J = x' y - y' x): conserved under ND, 0 under GF, J(t0) (t0/t)^3 under NAGF
  (eq. 45-48). The components J_x, J_y, J_z are drawn whatever was found: those whose rotation is no symmetry
  are shown for comparison (e.g. (x^2 + y^2 - 1)^2 + z^2: J_z is conserved, J_x and J_y are not).

A typed potential invariant under every rotation (such as the paper's toy typed as (x^2+y^2+z^2-1)^2) also
gets the catalogue's rotation laws (``noether.laws.rotation``): ``rotation_symmetry`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Context, Law, Snapshot
from noether.laws.entry import CatalogueEntry
from noether.laws.tracking import TrackedLaw, flow_rate, is_float64, not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

AXES = ("x", "y", "z")

ENTRIES = [
    CatalogueEntry(
        id="typed_quantity",
        title="Quadratic quantity of a symmetry found in a typed potential",
        ids=["typed/q1", "typed/q2", "..."],
        symmetry="a symmetric linear generator w -> A w with <grad L(w), A w> = 0, found by discovery (Algorithm 1)",
        condition="a potential of kind 'expression' in which discovery finds symmetric generators",
        quantity="Q = w^T A w in a readable basis (e.g. x^2 - y^2 and x^2 - z^2 for L = x y z)",
        predictions={
            "gf": "conserved (dQ/dt = -2 <grad L, A w> = 0)",
            "nd": "not conserved (shown only; the residual law <w'', A w> = 0 holds)",
            "nagf": "not conserved (shown only)",
            "general": "not conserved (shown only)",
            "none": "no prediction (shown only)",
        },
        columns=["typed/qk", "typed/qk:pred"],
        paper="Sec. 2.3 and Algorithm 1; Marcotte, Gribonval, Peyre (2023) for x y z",
        tolerance="|Q - Q(0)| against the movement of its terms c_i m_i(w): 0.05 (GD's O(eta) drift), 1e-3 for rk4",
    ),
    CatalogueEntry(
        id="typed_angular_momentum",
        title="Angular momentum components of a typed potential",
        ids=["typed/jx", "typed/jy", "typed/jz", "typed/j1 (an axis off the coordinate axes)"],
        symmetry="rotations about an axis n (antisymmetric generator A w = n x w) found by discovery",
        condition="a potential of kind 'expression' (d = 2: J_z only); components whose rotation is no symmetry "
        "are measured and drawn, marked not applicable",
        quantity="n . J, J = w' x w (the paper's sign, eq. 48; d = 2: x' y - y' x); w' = -grad L under gradient flow",
        predictions={
            "gf": "0 for a symmetry axis",
            "nd": "conserved for a symmetry axis (eq. 48)",
            "nagf": "J(t0) (t0/t)^3 for a symmetry axis (eq. 46)",
            "general": "J(t0) exp(-int k1/k2) for a symmetry axis (eq. 45)",
            "none": "no prediction (Adam is not equivariant)",
        },
        columns=["typed/jz", "typed/jz:pred"],
        paper="Table 5, Sec. 6 (eq. 45-48)",
        tolerance="|n.J - pred| against max |w| |w'|: 1e-3 float32 / 1e-9 float64 (nd, gf), 0.05 (nagf, general)",
    ),
]


@dataclass(frozen=True)
class Symmetries:
    """What discovery found in one typed potential: quadratic forms and rotation axes, in readable bases."""

    dim: int
    quantities: tuple[tuple[tuple[float, ...], ...], ...]  # symmetric d x d matrices A (Q = w^T A w)
    axes: tuple[tuple[float, ...], ...]  # unit rotation axes n (d = 3), or ((1.0,),) for the plane of d = 2
    notes: tuple[str, ...] = ()

    @property
    def rotation_planes(self) -> int:
        return len(self.axes)

    @property
    def full_rotation(self) -> bool:
        """Invariant under every rotation of w: all d (d - 1) / 2 planes found."""
        return self.rotation_planes == self.dim * (self.dim - 1) // 2


def _readable(rows: Tensor, reverse: bool) -> Tensor:
    """A reduced row echelon basis of the row space (pivots from the last column when ``reverse``), first
    non-zero coefficient of each row 1."""
    if rows.shape[0] == 0:
        return rows
    X = rows.flip(1) if reverse else rows.clone()
    r, lead = 0, 0
    n_rows, n_cols = X.shape
    while r < n_rows and lead < n_cols:
        piv = int(torch.argmax(X[r:, lead].abs())) + r
        if X[piv, lead].abs() < 1e-8 * max(1.0, float(X.abs().max())):
            lead += 1
            continue
        X[[r, piv]] = X[[piv, r]]
        X[r] = X[r] / X[r, lead]
        for i in range(n_rows):
            if i != r:
                X[i] = X[i] - X[i, lead] * X[r]
        r += 1
        lead += 1
    X = X[:r]
    X = X.flip(1) if reverse else X
    X[X.abs() < 1e-9] = 0.0
    for i in range(X.shape[0]):
        nz = torch.nonzero(X[i]).flatten()
        X[i] = X[i] / X[i, nz[0]]
    return X


@lru_cache(maxsize=64)
def symmetries(expression: str, dim: int) -> Symmetries:
    """Run discovery's search over gl(d) on w for L(w) = ``expression`` and read off quantities and axes."""
    from noether.discovery.quantities import split_by_parity
    from noether.discovery.search import SearchOptions, search
    from noether.problem import build_problem

    spec = {"potential": {"kind": "expression", "expression": expression, "dim": dim}, "dtype": "float64",
            "device": "cpu", "initial": {"position": [0.6, -0.4, 0.8][:dim]}, "steps": 1}
    problem = build_problem(spec)
    try:
        found = search(problem, SearchOptions(families=("rotation",)))
    except (RuntimeError, ValueError) as exc:  # e.g. a potential undefined at the sampled points
        return Symmetries(dim, (), (), (f"discovery failed: {exc}",))
    if not found.families:
        return Symmetries(dim, (), (), tuple(found.notes))
    fam = found.families[0]
    n = fam.size
    sym: list[Tensor] = []
    anti: list[Tensor] = []
    for s in found.sets:
        for name, part in split_by_parity(found, s).items():
            C = torch.eye(len(part.index), dtype=torch.float64) if part.C is None else part.C.to(torch.float64)
            for k in range(C.shape[1]):
                coeffs = torch.zeros(n, dtype=torch.float64)
                coeffs[part.index] = C[:, k]
                E = fam.matrix(coeffs)
                (sym if name == "symmetric" else anti if name == "antisymmetric" else []).append(E)
    # quadratic forms: coefficients of x^2, y^2, z^2, xy, xz, yz; pivots from the last monomial, so that
    # L = x y z reads x^2 - y^2, x^2 - z^2
    iu = torch.triu_indices(dim, dim, offset=1)
    quantities = []
    if sym:
        rows = torch.stack([torch.cat([torch.diagonal(S), 2 * S[iu[0], iu[1]]]) for S in sym])
        basis = [_tidy(row) for row in _readable(rows, reverse=True)]
        basis.sort(key=lambda row: int(torch.nonzero(row).flatten()[-1]))  # x^2 - y^2 before x^2 - z^2
        for row in basis:
            A = torch.diag(row[:dim])
            A[iu[0], iu[1]] = row[dim:] / 2
            A[iu[1], iu[0]] = row[dim:] / 2
            quantities.append(tuple(tuple(float(v) for v in r) for r in A))
    axes = []
    if anti:
        if dim == 2:
            axes = [(1.0,)]
        else:
            rows = torch.stack([torch.stack([K[2, 1], K[0, 2], K[1, 0]]) for K in anti])
            for row in _readable(rows, reverse=False):
                axes.append(tuple(float(v) for v in _tidy(row / row.norm())))
    return Symmetries(dim, tuple(quantities), tuple(axes), tuple(found.notes))


def _tidy(row: Tensor) -> Tensor:
    """Round away the solver's last digits (1 - 1e-15 -> 1) and signed zeros."""
    out = torch.round(row * 1e9) / 1e9
    return out + 0.0


def _monomial_text(A: tuple[tuple[float, ...], ...], names: tuple[str, ...]) -> str:
    """w^T A w written out, e.g. 'x^2 - y^2'."""
    d = len(A)
    terms: list[tuple[float, str]] = [(A[i][i], f"{names[i]}^2") for i in range(d)]
    terms += [(2 * A[i][j], f"{names[i]} {names[j]}") for i in range(d) for j in range(i + 1, d)]
    out = ""
    for c, m in terms:
        if abs(c) < 1e-12:
            continue
        sign = "-" if c < 0 else "+"
        mag = abs(c)
        coef = "" if abs(mag - 1) < 1e-9 else f"{mag:.4g} "
        out += (f" {sign} " if out else ("-" if c < 0 else "")) + coef + m
    return out or "0"


def _axis_text(n: tuple[float, ...]) -> str:
    for i, name in enumerate(AXES):
        if abs(abs(n[i]) - 1) < 1e-9:
            return name
    return "(" + ", ".join(f"{v:.3g}" for v in n) + ")"


def _velocity(snap: Snapshot, flow: str) -> Tensor | None:
    if snap.velocity is not None:
        return snap.velocity[0].double()
    if snap.grad is not None and flow == "gf":
        return -snap.grad[0].double()
    return None


class TypedQuantity(TrackedLaw):
    """Q = w^T A w for a symmetric generator A found by discovery: conserved under gradient flow."""

    def __init__(self, context: Context, A: Tensor, **kw: Any) -> None:
        super().__init__(context, **kw)
        self.A = A
        self._T0: Tensor | None = None
        self._Q0: Tensor | None = None

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        w = snap.params[0].double()
        T = self.A * torch.outer(w, w)  # the terms c_ij w_i w_j
        Q = T.sum()
        if self._T0 is None:
            self._T0, self._Q0 = T, Q
        move = (T - self._T0).abs().sum()
        self.track(Q, drift=(Q - self._Q0).abs(), scale=move, size=T.abs().sum())
        return {self.id: Q, self.id + ":pred": self._Q0}


class TypedCharge(TrackedLaw):
    """n . J, J = w' x w (2D: x' y - y' x; eq. 48's sign), with the flow's prediction where rotations about n are a symmetry."""

    def __init__(self, context: Context, axis: Tensor, **kw: Any) -> None:
        super().__init__(context, **kw)
        self.axis = axis
        self.rate = flow_rate(context)
        self.every_step = context.flow == "general" and self.applicable
        self._J_ref: Tensor | None = None
        self._t_ref: float | None = None
        self._log_decay = 0.0
        self._t_last: float | None = None
        self._r_last = 0.0

    def on_step(self, snap: Snapshot) -> None:
        t = float(snap.t)
        r = self.rate(t)
        if self._t_last is not None and self._t_ref is not None:
            self._log_decay += 0.5 * (t - self._t_last) * (r + self._r_last)
        self._t_last, self._r_last = t, r

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        w = snap.params[0].double()
        v = _velocity(snap, self.context.flow)
        if v is None:
            return {}
        if w.shape[0] == 2:
            J = v[0] * w[1] - v[1] * w[0]
        else:
            J = torch.dot(self.axis, torch.linalg.cross(v, w))
        t = float(snap.t)
        flow = self.context.flow
        if self._J_ref is None and (t > 0 or flow != "nagf"):
            self._J_ref, self._t_ref = J, t
            self._log_decay = 0.0
        pred = None
        if self.applicable and (flow == "gf" or self._J_ref is not None):
            if flow == "gf":
                pred = torch.zeros_like(J)
            elif flow == "nd":
                pred = self._J_ref
            elif flow == "nagf":
                pred = self._J_ref * (self._t_ref / t) ** 3
            else:
                pred = self._J_ref * math.exp(-self._log_decay)
        scale = w.norm() * v.norm()
        out: dict[str, Tensor | float] = {self.id: J}
        if pred is not None:
            out[self.id + ":pred"] = pred
            self.track(J, drift=(J - pred).abs(), scale=scale, size=scale)
        else:
            self.track(J, scale=scale, size=scale)
        return out


def _tolerance(context: Context, kind: str) -> float:
    if kind == "quantity":
        if context.dynamics == "rk4":
            return 1e-3
        return 0.05 if context.dynamics in ("gd", "sgd") else (1e-9 if is_float64(context) else 1e-4)
    if context.flow in ("nagf", "general"):
        return 0.05
    return 1e-9 if is_float64(context) else 1e-3


_CHARGE_PRED = {
    "gf": "0 (w' = -grad L is orthogonal to the rotation)",
    "nd": "conserved (eq. 48)",
    "nagf": "decays as t^-3 (eq. 46)",
    "general": "decays as exp(-int k1/k2) (eq. 45)",
}


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """The laws of the symmetries discovery finds in a typed potential (nothing for other problems)."""
    pot = spec.potential
    if pot is None or pot.kind != "expression":
        return [], []
    found = symmetries(pot.expression, pot.dim)
    names = AXES[: pot.dim]
    where = f"found by discovery (Algorithm 1) in L = {pot.expression}"
    laws: list[Law] = []
    skipped: list[LawSummary] = []
    gf = context.flow == "gf"
    for k, A in enumerate(found.quantities, 1):
        text = _monomial_text(A, names)
        laws.append(TypedQuantity(
            context, torch.tensor(A, dtype=torch.float64), id=f"typed/q{k}", family="typed_quantity",
            name=text, symmetry=f"w -> A w, A = {_matrix_text(A)} ({where})",
            prediction="conserved under gradient flow" if gf else "not conserved (gradient flow only)",
            default_tolerance=_tolerance(context, "quantity"), applicable=gf,
            reason=None if gf else f"w^T A w is conserved under gradient flow only (this run: {context.flow})",
        ))
    if not found.quantities:
        skipped.append(not_applicable(context, id="typed/q", family="typed_quantity", name="w^T A w",
                                      symmetry=where, reason="discovery found no symmetric generator"))
    adam = context.flow == "none"
    symmetric_axes = [torch.tensor(n, dtype=torch.float64) for n in found.axes]
    if pot.dim == 2:
        components = [("typed/jz", torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), "J = x' y - y' x")]
    else:
        components = [(f"typed/j{a}", torch.eye(3, dtype=torch.float64)[i], f"J_{a} = {_cross_text(i)}")
                      for i, a in enumerate(AXES)]
    extra = [n for n in symmetric_axes if pot.dim == 3 and _axis_text(tuple(n.tolist())) not in AXES]
    components += [(f"typed/j{k}", n, f"n . J, n = {_axis_text(tuple(n.tolist()))}") for k, n in enumerate(extra, 1)]
    for law_id, n, name in components:
        if pot.dim == 2:
            symmetric = bool(symmetric_axes)
        else:
            symmetric = any(float(torch.dot(n, m).abs()) > 1 - 1e-9 for m in symmetric_axes)
        axis = "the plane" if pot.dim == 2 else f"the {_axis_text(tuple(n.tolist()))} axis"
        if symmetric and not adam:
            applicable, reason, prediction = True, None, _CHARGE_PRED.get(context.flow, "-")
        elif symmetric:
            applicable, reason, prediction = False, "Adam's preconditioner is not equivariant: no prediction", "-"
        else:
            applicable, prediction = False, "not conserved (no symmetry)"
            reason = f"rotations about {axis} change L (discovery found none): shown for comparison"
        laws.append(TypedCharge(
            context, n, id=law_id, family="typed_angular_momentum", name=name,
            symmetry=(f"rotations about {axis} ({where})" if symmetric else f"none: rotations about {axis} change L"),
            prediction=prediction, default_tolerance=_tolerance(context, "charge"), applicable=applicable,
            reason=reason,
        ))
    return laws, skipped


def _cross_text(i: int) -> str:
    a, b = [AXES[j] for j in range(3) if j != i]
    if i == 1:
        a, b = b, a  # J_y = z' x - x' z
    return f"{a}' {b} - {b}' {a}"


def _matrix_text(A: tuple[tuple[float, ...], ...]) -> str:
    return "[" + "; ".join(" ".join(f"{v:g}" for v in row) for row in A) + "]"

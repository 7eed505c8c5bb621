"""Rotation symmetry (Table 5, Sec. 6): angular momentum, the orbit's plane and the symmetry defect.

SO(d) acts on w for the ``sphere`` potential (|w|^2 - r^2)^2 (and a quadratic one with equal
eigenvalues), and on the rows of W_1 when the data is rotation-symmetric (W_1 -> W_1 Q). The
generators are antisymmetric, so the laws concern the angular momentum, in the paper's sign (eq. 48)

    J = sum_i (v_i w_i^T - w_i v_i^T) = (W_1')^T W_1 - W_1^T W_1'    (d x d, antisymmetric; w_i the rows of W_1,
                                                                     or w itself),

for d = 3 the vector sum_i v_i x w_i (the paper's (0, 3/2, -3/2) for the toy's start), with |J| = |J|_F / sqrt(2). The residual law (eq. 45, 47) is
k2 J' + k1 J = 0, so
- GF: J = 0 with v = w' = -grad L (the antisymmetric part of (W_1')^T W_1 vanishes): a radial segment;
- ND: J conserved (eq. 48), and the orbit stays in the plane spanned by w(0), w'(0), normal to J;
- NAGF: J(t) = J(t0) (t0/t)^3 (eq. 46); general: J(t) = J(t0) exp(-int k1/k2).
Discretely, ND's J_{k+1/2} = w_{k+1} w_k^T - w_k w_{k+1}^T is exactly conserved when the loss is exactly
symmetric (eq. 21), and so is J built from the central-difference velocity.

A finite data sample is rotation-symmetric only approximately ("data-symmetry laws need the whole
orbit"): the runner measures the sample's symmetry defect, the largest relative torque
delta = |W_1^T g_1 - g_1^T W_1|_F / (sqrt(2) sum_i |w_i| |g_i|) on the run's records (at w(0) only when the
dynamics has no gradient at w_k), reports it, and widens the tolerance of the angular momentum by 2 delta.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from noether.laws.base import Context, Law, Snapshot
from noether.laws.conditions import has_grad_at_w, minibatch
from noether.laws.entry import CatalogueEntry
from noether.laws.tracking import TrackedLaw, flow_rate, is_float64, not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

MATRIX_MAX = 16  # :matrix columns only for d <= this

ENTRIES = [
    CatalogueEntry(
        id="angular_momentum",
        title="Angular momentum",
        ids=["angular_momentum"],
        symmetry="SO(d) rotations of w (sphere potential) or of the rows of W_1 (rotation-symmetric data)",
        condition="the sphere potential (or a quadratic one with equal eigenvalues), d >= 2; or a network on "
        "rotation data (kind 'rotation'). A quadratic potential with unequal eigenvalues is a control: not "
        "applicable. Other data sets: not applicable",
        quantity="J = sum_i (v_i w_i^T - w_i v_i^T) (the paper's sign, eq. 48), |J| = |J|_F / sqrt 2 (for d = 3 the "
        "vector sum_i v_i x w_i: (0, 3/2, -3/2) at the toy's start, Sec. 6.1); "
        "v = w', or -grad L under gradient flow",
        predictions={
            "gf": "0: the antisymmetric part of (W_1')^T W_1 vanishes, the orbit is a radial segment (Table 5)",
            "nd": "conserved (eq. 48); exactly conserved by ND (eq. 21) and leapfrog when the loss is exactly symmetric",
            "nagf": "decays as t^-3: J(t) = J(t0) (t0/t)^3 (eq. 46)",
            "general": "J(t) = J(t0) exp(-int_t0^t k1/k2) (eq. 45)",
            "none": "no prediction: Adam's per-coordinate preconditioner does not commute with rotations (shown only)",
        },
        columns=["angular_momentum", "angular_momentum:pred", "angular_momentum:vector (d = 3)",
                 "angular_momentum:matrix (3 < d <= 16)"],
        paper="Table 5, Sec. 6.1 (eq. 45-46), Sec. 6.2 (eq. 47-48), Figs. 3-6",
        tolerance="|J - J_pred|_F / sqrt 2 against max sum_i |w_i||v_i|: 1e-3 float32 / 1e-9 float64 for nd and gf; "
        "for nagf and general (a decaying prediction, drawn on log-log axes) against |J_pred(t)| at each time: 0.05; "
        "plus 2 delta (the sample's symmetry defect) for data",
        notes="Data-symmetry laws need the whole orbit: a finite sample has a symmetry defect delta, reported in "
        "the verdict. SGD keeps them only on average (a minibatch is not symmetric). Weight decay keeps them "
        "(|w|^2 is rotation-invariant).",
    ),
    CatalogueEntry(
        id="orbit_plane",
        title="Orbit in a plane",
        ids=["orbit_plane"],
        symmetry="SO(d) rotations of w",
        condition="a rotation-invariant potential with d >= 3",
        quantity="|w - Pi w| / |w|, Pi the projection on span(w(0), w'(0)) (w'(0) = -grad L(w(0)) under GF)",
        predictions={
            "gf": "0: a radial segment (span of w(0) alone), Fig. 5",
            "nd": "0: the plane normal to J (y = z for the toy, Fig. 3)",
            "nagf": "0: the same plane (Fig. 4)",
            "general": "0: the same plane",
            "none": "no prediction (Adam leaves the plane)",
        },
        columns=["orbit_plane", "orbit_plane:pred"],
        paper="Sec. 6.1, Figs. 3-5",
        tolerance="1e-3 float32 / 1e-9 float64",
    ),
    CatalogueEntry(
        id="rotation_residual",
        title="The rotation symmetry itself (symmetry defect)",
        ids=["rotation_residual"],
        symmetry="SO(d) as above",
        condition="as angular_momentum, when the snapshot carries grad L at w_k",
        quantity="|W^T g - g^T W|_F / (sqrt 2 sum_i |w_i| |g_i|): the relative torque",
        predictions={f: "0 for an exactly symmetric loss; a finite sample's defect otherwise" for f in
                     ("gf", "nd", "nagf", "general", "none")},
        columns=["rotation_residual", "rotation_residual:pred"],
        paper="Sec. 2.3, Sec. 6",
        tolerance="1e-3 float32 / 1e-9 float64 for a potential; 0.05 for data (a sample larger than that is "
        "reported as broken: augment it)",
    ),
]


def _torque(W: Tensor, G: Tensor) -> Tensor:
    """|W^T G - G^T W|_F / (sqrt 2 sum_i |w_i||g_i|), rows w_i, g_i (a vector is one row)."""
    if W.dim() == 1:
        W, G = W[None, :], G[None, :]
    A = W.T @ G
    num = (A - A.T).norm() / math.sqrt(2.0)
    den = (W.norm(dim=1) * G.norm(dim=1)).sum()
    return num / torch.clamp(den, min=1e-300)


def _grad_of(context: Context, params: list[Tensor], index: int) -> Tensor | None:
    """grad L with respect to params[index] through ``context.loss_fn`` (once per run, for the defect)."""
    if context.loss_fn is None:
        return None
    with torch.enable_grad():
        ps = [p.detach().requires_grad_(i == index) for i, p in enumerate(params)]
        loss = context.loss_fn(ps)
        (g,) = torch.autograd.grad(loss, ps[index])
    return g


class _RotationBase(TrackedLaw):
    """Shared access to the rotated block (w, or W_1) and its velocity."""

    def __init__(self, context: Context, index: int, **kw) -> None:
        super().__init__(context, **kw)
        self.index = index

    def block(self, snap: Snapshot) -> Tensor:
        """The rotated rows (w as one row, or W_1), in float64."""
        x = snap.params[self.index].double()
        return x[None, :] if x.dim() == 1 else x

    def velocity(self, snap: Snapshot) -> Tensor | None:
        """w' at t_k: the dynamics' velocity, or -grad L for gradient flow (weight decay adds a radial term)."""
        if snap.velocity is not None:
            v = snap.velocity[self.index]
        elif snap.grad is not None and self.context.flow == "gf":
            v = -snap.grad[self.index]
        else:
            return None
        v = v.double()
        return v[None, :] if v.dim() == 1 else v


class AngularMomentum(_RotationBase):
    """J = V^T W - W^T V (eq. 48's sign) with its flow's prediction (0, conserved, t^-3, exp(-int k1/k2))."""

    def __init__(self, context: Context, index: int, *, defect_tolerance: bool, **kw) -> None:
        super().__init__(context, index, **kw)
        self.rate = flow_rate(context)
        self.every_step = context.flow == "general" and self.applicable
        self.decays = context.flow in ("nagf", "general")  # J(t0) (t0/t)^3, J(t0) exp(-int k1/k2)
        self.defect_tolerance = defect_tolerance
        self.defect: float | None = None
        self._defect_t: Tensor | None = None
        self._J_ref: Tensor | None = None
        self._t_ref: float | None = None
        self._log_decay = 0.0  # int_{t_ref}^t k1/k2
        self._t_last: float | None = None
        self._r_last = 0.0

    def on_step(self, snap: Snapshot) -> None:
        t = float(snap.t)
        r = self.rate(t)
        if self._t_last is not None and self._t_ref is not None:
            self._log_decay += 0.5 * (t - self._t_last) * (r + self._r_last)
        self._t_last, self._r_last = t, r

    def _J(self, W: Tensor, V: Tensor) -> Tensor:
        A = V.T @ W  # (W_1')^T W_1 - W_1^T W_1', the paper's sign (eq. 48)
        return A - A.T

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        W = self.block(snap)
        V = self.velocity(snap)
        if V is None:
            return {}
        if self.defect_tolerance and (self._defect_t is None or snap.grad is not None):
            g = snap.grad[self.index] if snap.grad is not None else _grad_of(self.context, snap.params, self.index)
            if g is not None:
                g = g.double()
                torque = _torque(W, g if g.dim() > 1 else g[None, :])
                self._defect_t = torque if self._defect_t is None else torch.maximum(self._defect_t, torque)
        J = self._J(W, V)
        value = J.norm() / math.sqrt(2.0)
        t = float(snap.t)
        if self._J_ref is None and (t > 0 or self.context.flow != "nagf"):
            self._J_ref, self._t_ref = J, t
            self._log_decay = 0.0
        flow = self.context.flow
        pred_J = None
        if self.applicable:
            if flow == "gf":
                pred_J = torch.zeros_like(J)
            elif self._J_ref is not None:
                if flow == "nd":
                    pred_J = self._J_ref
                elif flow == "nagf":
                    pred_J = self._J_ref * (self._t_ref / t) ** 3
                else:
                    pred_J = self._J_ref * math.exp(-self._log_decay)
        scale = (W.norm(dim=1) * V.norm(dim=1)).sum()
        out: dict[str, Tensor | float] = {self.id: value}
        if pred_J is not None:
            pred_norm = pred_J.norm() / math.sqrt(2.0)
            out[self.id + ":pred"] = pred_norm
            drift = (J - pred_J).norm() / math.sqrt(2.0)
            if self.decays:
                # a decaying prediction is drawn on log-log axes: judged by its relative error at each time,
                # not against the initial size (a late |J| 100% off its prediction would pass that test)
                tiny = torch.finfo(torch.float64).tiny
                self.track(value, drift=drift / torch.clamp(pred_norm, min=tiny), scale=torch.ones_like(value))
            else:
                self.track(value, drift=drift, scale=scale, size=scale)
        else:
            self.track(value, scale=scale, size=scale)
        d = J.shape[0]
        if d == 3:
            out[self.id + ":vector"] = torch.stack([J[1, 2], J[2, 0], J[0, 1]])
        elif d <= MATRIX_MAX:
            out[self.id + ":matrix"] = J
        return out

    def summary(self) -> LawSummary:
        if self.defect_tolerance and self._defect_t is not None and self.defect is None:
            self.defect = float(self._defect_t)
            if self.context.spec.tolerance is None:
                self.tolerance += 2.0 * self.defect
                self.tolerance_source = f"default + 2 x symmetry defect {self.defect:.3g}"
        return super().summary()

    def extra_reason(self) -> str | None:
        if not self.defect_tolerance:
            return None
        if self.defect is None:
            return "data-symmetry law: needs the whole orbit (defect not measured: no gradient at w_k)"
        text = (
            f"data-symmetry law: the finite sample's symmetry defect (largest relative torque on the records) is "
            f"{self.defect:.3g}; "
            "it needs the whole orbit (more samples or data.augment shrink it)"
        )
        if minibatch(self.context.spec):
            text += "; with minibatches it holds only on average"
        return text


class OrbitPlane(_RotationBase):
    """|w - Pi w| / |w|, Pi the projection on span(w(0), w'(0)): the orbit stays in that plane (Sec. 6.1)."""

    kind = "zero"

    def __init__(self, context: Context, index: int, **kw) -> None:
        super().__init__(context, index, **kw)
        self._basis: Tensor | None = None

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        w = snap.params[self.index].double()
        if self._basis is None:
            v = self.velocity(snap)
            if v is None:
                return {}
            v = v.reshape(-1)
            tiny = torch.finfo(w.dtype).tiny
            e1 = w / torch.clamp(w.norm(), min=tiny)
            u = v - (v @ e1) * e1
            un = u.norm()
            keep = un > 1e-6 * v.norm()  # w'(0) parallel to w(0): the "plane" is the radial line
            e2 = torch.where(keep, u / torch.clamp(un, min=tiny), torch.zeros_like(u))
            self._basis = torch.stack([e1, e2])
        B = self._basis
        off = w - (B @ w) @ B
        value = off.norm() / torch.clamp(w.norm(), min=1e-300)
        self.track(value, scale=torch.ones_like(value))
        return {self.id: value, self.id + ":pred": torch.zeros_like(value)}


class RotationResidual(_RotationBase):
    """The relative torque |W^T g - g^T W|_F / (sqrt 2 sum_i |w_i||g_i|): 0 for an exactly symmetric loss."""

    kind = "zero"

    def extra_reason(self) -> str | None:
        if self.context.spec.potential is not None:
            return None
        return (
            "for data this is the finite sample's symmetry defect: a sample is only approximately rotation-symmetric "
            "(data-symmetry laws need the whole orbit); more samples or data.augment shrink it"
        )

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        if snap.grad is None:
            return {}
        W = self.block(snap)
        g = snap.grad[self.index].double()
        value = _torque(W, g if g.dim() > 1 else g[None, :])
        self.track(value, scale=torch.ones_like(value))
        return {self.id: value, self.id + ":pred": torch.zeros_like(value)}


def _rotation_target(spec: Any, structure: Structure) -> tuple[int | None, str, str | None]:
    """(index of the rotated tensor, description, reason it is not applicable)."""
    pot = spec.potential
    if pot is not None:
        if pot.dim < 2:
            return None, "", "SO(1) is trivial: a one-dimensional potential has no rotations"
        if pot.kind == "sphere":
            return structure.index("w"), f"SO({pot.dim}) rotations of w (the sphere potential)", None
        if pot.kind == "quadratic":
            ev = list(pot.eigenvalues)
            if max(ev) - min(ev) <= 1e-12 * max(1.0, abs(max(ev))):
                return structure.index("w"), f"SO({pot.dim}) rotations of w (isotropic quadratic)", None
            return None, "", (
                f"the quadratic potential with unequal eigenvalues {ev[:6]}{'...' if len(ev) > 6 else ''} is not "
                "rotation-invariant (a control: rotating w changes L)"
            )
        if pot.kind == "expression":
            return _typed_rotation(pot, structure)
        return None, "", f"the {pot.kind} potential has no rotation symmetry"
    data = spec.data
    if data is not None and data.kind == "rotation":
        return structure.W(1), f"SO({data.dim}) rotations of the inputs, acting on the rows of W_1", None
    kind = getattr(data, "kind", "?")
    return None, "", f"the data ('{kind}') is not rotation-symmetric; use data of kind 'rotation'"


def _typed_rotation(pot: Any, structure: Structure) -> tuple[int | None, str, str | None]:
    """A typed potential is rotation-symmetric when discovery finds every plane of rotation (noether.laws.typed)."""
    from noether.laws.typed import symmetries

    found = symmetries(pot.expression, pot.dim)
    if found.full_rotation:
        return structure.index("w"), f"SO({pot.dim}) rotations of w (found by discovery in L = {pot.expression})", None
    planes = pot.dim * (pot.dim - 1) // 2
    return None, "", (f"discovery finds {found.rotation_planes} of {planes} planes of rotation in L = {pot.expression}: "
                      "not SO(d)-invariant (the components of J are drawn as typed/j*)")


def _default_tolerance(context: Context, data: bool) -> float:
    precise = 1e-9 if is_float64(context) else 1e-3
    if context.flow in ("nagf", "general") or context.dynamics == "sgd":
        return 0.05
    return 0.05 if data and context.flow == "gf" else precise


_SHORT = {
    "gf": "0 (radial segment)",
    "nd": "conserved",
    "nagf": "decays as t^-3",
    "general": "decays as exp(-int k1/k2)",
    "none": "no prediction (Adam is not equivariant)",
}


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """Angular momentum, orbit plane and rotation residual for rotation-symmetric problems."""
    index, symmetry, reason = _rotation_target(spec, structure)
    if index is None:
        return [], [
            not_applicable(context, id="angular_momentum", family="angular_momentum",
                           name="J = sum_i v_i w_i^T - w_i v_i^T", symmetry="SO(d) rotations", reason=reason)
        ]
    data = spec.potential is None
    adam = context.flow == "none"
    common = dict(applicable=not adam, reason=ENTRIES[0].predictions["none"] if adam else None)
    laws: list[Law] = [
        AngularMomentum(
            context, index, defect_tolerance=data, id="angular_momentum", family="angular_momentum",
            name="|J|, J = (W_1')^T W_1 - W_1^T W_1'" if data else "|J|, J = w' w^T - w w'^T (w' x w in 3D)",
            symmetry=symmetry, prediction=_SHORT.get(context.flow, _SHORT["none"]),
            default_tolerance=_default_tolerance(context, data), **common,
        ),
    ]
    if has_grad_at_w(context):
        laws.append(
            RotationResidual(
                context, index, id="rotation_residual", family="rotation_residual",
                name="relative torque |W^T g - g^T W| / (sqrt 2 sum |w_i||g_i|)", symmetry=symmetry,
                prediction="0 (the symmetry itself)" if not data else "0 up to the finite sample's symmetry defect",
                default_tolerance=0.05 if data else (1e-9 if is_float64(context) else 1e-3),
            )
        )
    na: list[LawSummary] = []
    if not data and spec.potential.dim >= 3:
        laws.append(
            OrbitPlane(
                context, index, id="orbit_plane", family="orbit_plane",
                name="|w - Pi w| / |w|, Pi onto span(w(0), w'(0))", symmetry=symmetry,
                prediction="0 (radial segment)" if context.flow == "gf" else "0 (plane normal to J)",
                default_tolerance=1e-9 if is_float64(context) else 1e-3, **common,
            )
        )
    return laws, na

"""Quadratic laws Q(w) = sum_t c_t |w_t|^2 from a rescaling symmetry, with their prediction per flow.

A rescaling symmetry (W_h -> lambda W_h, W_{h+1} -> lambda^-p W_{h+1}, ...) has the symmetric generator
xi(w) = A w, A = diag(c_t) on the tensors involved, so <grad L(w), A w> = 0 for every w. Then

- gradient flow (Table 2): dQ/dt = 2 <w', A w> = -2 <grad L, A w> = 0, Q is conserved (eq. 31); with an
  L2 weight decay lambda, w' = -grad L - lambda w gives dQ/dt = -2 lambda Q: Q(t) = Q(0) exp(-2 lambda t);
- GD, its Euler discretisation w_{k+1} = w_k - eta g_k with g_k = grad L(w_k) + lambda w_k (what the step
  used, ``Snapshot.grad``): Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 sum_t c_t |g_t|^2 *exactly* (the first-order
  term -2 eta <grad L, A w> vanishes by the symmetry), accumulated every step as ``<id>:pred_discrete``; the
  same holds for SGD with the minibatch gradient, because each sample's loss has the symmetry;
- second-order flows k2 w'' + k1 w' + grad L + lambda w = 0 (Table 2, bottom rows): with P = <w, A w'> =
  Q'/2 and K = sum_t c_t |w_t'|^2 the residual law <k2 w'' + k1 w' + lambda w, A w> = 0 reads
  k2 (P' - K) + k1 P + lambda Q = 0; the runner integrates it along the run's own velocities
  (trapezoid rule) and integrates Q' = 2P, so for ND (k1 = 0): Q(t) = Q(0) + 2 int_0^t P, P' = K
  (the identity behind the ND bound, eq. 32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from noether.laws.base import Block, Columns, Context, Snapshot
from noether.laws.conditions import exact_gd, second_order, weight_decay
from noether.laws.tracking import TrackedLaw, Tracker, flow_rate, is_float64
from noether.laws.workspace import Workspace

MAX_NEURONS = 512  # per-neuron views carry the first MAX_NEURONS neurons of a layer (records stay streamable)
MAX_TERM_COLUMNS = 4  # a law's terms |w_t|^2 recorded beside it as '<id>:|W_2|^2' (the first four)


@dataclass(frozen=True)
class Term:
    """c |w_t|^2 for parameter tensor ``index``; ``neurons`` says how it splits per neuron of the layer."""

    index: int
    coef: float
    label: str  # e.g. "W_2", "b_2", "beta_2"
    neurons: str | None = None  # "rows" (W_h[i, :]), "cols" (W_{h+1}[:, i]), "entries" (b_h[i], beta_h[i])


def _fmt_coef(c: float) -> str:
    c = abs(c)
    if c == 1.0:
        return ""
    if float(c).is_integer():
        return f"{int(c)} "
    return f"{c:g} "


def formula(terms: list[Term], *, at: str = "") -> str:
    """Human form of sum_t c_t |w_t|^2, e.g. '|W_2|^2 + |b_2|^2 - 2 |W_3|^2'."""
    out = ""
    for i, term in enumerate(terms):
        piece = f"{_fmt_coef(term.coef)}|{term.label}{at}|^2"
        if i == 0:
            out = piece if term.coef > 0 else f"-{piece}"
        else:
            out += (" + " if term.coef > 0 else " - ") + piece
    return out


def default_tolerance(context: Context) -> float:
    """Relative drift (against the movement of the terms) under which a quadratic law holds.

    GD and SGD are judged by their exact discrete prediction: float precision of the trajectory
    (1e-9 in float64, 1e-3 in float32). RK4 follows its flow to O(dt^4): 1e-3. The other
    discretisations (ND, NAG, momentum, leapfrog, general) are compared with the flow's residual law
    integrated along the run: 5% of the movement.
    """
    if exact_gd(context):
        return 1e-9 if is_float64(context) else 1e-3
    if context.dynamics == "rk4":
        return 1e-3
    return 0.05


class QuadraticBank:
    """Every quadratic law of a run, measured at once as vectors over the laws (one entry per law).

    With C the (laws x tensors) matrix of the coefficients c_t and s = (|w_1|^2, ..., |w_T|^2) the
    workspace's per-tensor squared norms, all the laws' values are Q = C s, their scales |C| |s - s(0)| and
    sizes |C| s; GD's exact recursion is S_{k+1} = (1 - 2 eta lambda) S_k + eta^2 C (|g_t|^2)_t and the
    second-order residual law integrates the vectors P, Q_pred. A step then costs a handful of tensor ops
    for all the laws together instead of a few dozen per law. ``QuadraticLaw`` objects are thin views: they
    register here (the workspace holds one bank per run), keep their id, terms and tolerance, and read their
    entry of the shared statistics (``TrackedLaw.slot``). The recorder steps and measures the bank once (it is
    every view's ``bank``): every law's scalar columns come back as one ``Block``, and the views return only
    their per-neuron columns.
    """

    def __init__(self, context: Context, ws: Workspace, applicable: bool) -> None:
        self.context = context
        self.ws = ws
        self.laws: list[QuadraticLaw] = []
        self.stats = Tracker()
        self.lam = weight_decay(context.spec)
        self.rate = flow_rate(context)
        self.k2 = context.k2 if context.k2 is not None else (lambda t: 1.0)
        self.applicable = applicable
        self.discrete = exact_gd(context) and applicable
        self.integrate = second_order(context) and applicable
        self._C: Tensor | None = None  # coefficients, laws x tensors
        self._B: Tensor | None = None  # [[C, 0], [0, |C|], [|C|, 0]]: (Q, scale, size) = B (s, |s - s(0)|)
        self._delta: Tensor | None = None  # laws in Fig. 2's delta form (None if there are none)
        self._sq0: Tensor | None = None
        self._Q0: Tensor | None = None
        # GD's exact recursion: pred_k = D_k Q_0 + S_k, the step's |g|^2 folded in at the next step
        self._D = 1.0
        self._S: Tensor | None = None
        self._gsq: Tensor | None = None
        self._eta = 0.0
        self._a = 1.0
        # second-order flows: P = <w, A w'> per law, predicted Q
        self._P: Tensor | None = None
        self._Qp: Tensor | None = None
        self._f: Tensor | None = None
        self._t = 0.0
        self._layouts: dict[tuple[bool, bool], tuple[tuple[str, ...], Tensor]] = {}

    @staticmethod
    def of(ws: Workspace, context: Context, applicable: bool) -> QuadraticBank:
        """The bank of the run that ``ws`` belongs to."""
        return ws.shared(("quadratic", applicable), lambda: QuadraticBank(context, ws, applicable))

    def add(self, law: QuadraticLaw) -> int:
        """Register a law; returns its entry."""
        if self._C is not None:
            raise RuntimeError("quadratic laws must be created before the run starts (the bank is already measuring)")
        self.laws.append(law)
        return len(self.laws) - 1

    def _start(self, snap: Snapshot) -> None:
        if self._C is not None:
            return
        ref = snap.params[0]
        n, T = len(self.laws), len(snap.params)
        rows = [[0.0] * T for _ in range(n)]
        for i, law in enumerate(self.laws):
            for term in law.terms:
                rows[i][term.index] += term.coef
        C = torch.tensor(rows, dtype=torch.float64).reshape(n, T)
        B = torch.zeros(3 * n, 2 * T, dtype=torch.float64)
        B[:n, :T] = C
        B[n : 2 * n, T:] = C.abs()
        B[2 * n :, :T] = C.abs()
        if any(law.delta_form for law in self.laws):
            self._delta = torch.tensor([law.delta_form for law in self.laws], device=ref.device)
            self._pos = torch.clamp(C, min=0.0).to(ref.device)
            self._neg = torch.clamp(C, max=0.0).to(ref.device)
        self._C, self._B = C.to(ref.device), B.to(ref.device)
        self._sq0 = self.ws.param_sq(snap)
        self._Q0 = torch.mv(self._C, self._sq0)
        self._S = torch.zeros_like(self._Q0)

    @property
    def every_step(self) -> bool:
        """GD's exact recursion and the second-order residual law accumulate every step."""
        return self.discrete or self.integrate

    # -- the recorder's calls ------------------------------------------------------------------
    def on_step(self, snap: Snapshot) -> None:
        self._start(snap)
        C = self._C
        if self.discrete:
            if self._gsq is not None:
                self._S = torch.addmv(self._S, C, self._gsq, beta=self._a, alpha=self._eta * self._eta)
                self._D *= self._a
            gsq = self.ws.grad_sq(snap)
            if gsq is None or snap.lr is None:
                self.discrete = False
                return
            self._gsq, self._eta = gsq, float(snap.lr)
            self._a = 1.0 - 2.0 * self._eta * self.lam
        if self.integrate:
            vsq = self.ws.velocity_sq(snap)
            if vsq is None:
                self.integrate = False
                return
            t = float(snap.t)
            K = torch.mv(C, vsq)
            lamQ: Tensor | float = 0.0
            if self.lam:
                lamQ = torch.mv(C, self.ws.param_sq(snap)) * (self.lam / float(self.k2(t)))
            r = self.rate(t)
            if self._P is None:
                self._P = torch.mv(C, self.ws.param_velocity_dot(snap))
                self._Qp = self._Q0
                self._f = K - r * self._P - lamQ
                self._t = t
                return
            dt = t - self._t
            g_new = K - lamQ
            P_new = (self._P + 0.5 * dt * (self._f + g_new)) / (1.0 + 0.5 * dt * r)
            self._Qp = self._Qp + dt * (self._P + P_new)
            self._P = P_new
            self._f = g_new - r * P_new
            self._t = t

    def prediction_now(self, snap: Snapshot) -> Tensor | None:
        """The flow's prediction of every law's Q at this snapshot (None where it cannot be formed)."""
        if not self.applicable:
            return None
        if self.context.flow == "gf":
            return self._Q0 * math.exp(-2.0 * self.lam * float(snap.t)) if self.lam else self._Q0
        if self.integrate and self._Qp is not None:
            return self._Qp
        return None

    def measure(self, snap: Snapshot) -> Block:
        """Every law's scalar columns as one 1-D tensor: value, terms, :pred and :pred_discrete, law by law."""
        self._start(snap)
        n = len(self.laws)
        sq = self.ws.param_sq(snap)
        dsq = sq - self._sq0
        m = torch.mv(self._B, torch.cat((sq, dsq.abs())))
        Q, scale, size = m[:n], m[n : 2 * n], m[2 * n :]
        pred = self.prediction_now(snap)
        pred_d = torch.add(self._S, self._Q0, alpha=self._D) if self.discrete and self._gsq is not None else None
        drift = None if pred is None else (Q - pred).abs()
        drift_d = None if pred_d is None else (Q - pred_d).abs()
        value = Q
        if self._delta is not None:
            # Fig. 2: X(0) - X(t) against Y(0) - Y(t), with Q = X - Y and X the positive terms.
            value = torch.where(self._delta, -torch.mv(self._pos, dsq), Q)
            rhs = torch.mv(self._neg, dsq) + self._Q0
            pred = None if pred is None else torch.where(self._delta, rhs - pred, pred)
            pred_d = None if pred_d is None else torch.where(self._delta, rhs - pred_d, pred_d)
        self.stats.track(value, drift=drift, drift_discrete=drift_d, scale=scale, size=size)
        parts = [value, sq]
        if pred is not None:
            parts.append(pred)
        if pred_d is not None:
            parts.append(pred_d)
        keys, index = self._layout(pred is not None, pred_d is not None)
        return Block(keys, torch.cat(parts).index_select(0, index))

    def _layout(self, pred: bool, pred_d: bool) -> tuple[tuple[str, ...], Tensor]:
        """Column names, law by law (value, terms, :pred, :pred_discrete), and where each sits in the parts."""
        layout = self._layouts.get((pred, pred_d))
        if layout is None:
            n, T = len(self.laws), self._C.shape[1]
            keys: list[str] = []
            index: list[int] = []
            for i, law in enumerate(self.laws):
                keys.append(law.id)
                index.append(i)
                if not law.delta_form:
                    for term in law.terms[:MAX_TERM_COLUMNS]:  # Fig. 1's second axis: the norms the law balances
                        keys.append(f"{law.id}:|{term.label}|^2")
                        index.append(n + term.index)
                if pred:
                    keys.append(law.id + ":pred")
                    index.append(n + T + i)
                if pred_d:
                    keys.append(law.id + ":pred_discrete")
                    index.append(n + T + (n if pred else 0) + i)
            layout = (tuple(keys), torch.tensor(index, device=self._C.device))
            self._layouts[(pred, pred_d)] = layout
        return layout


class QuadraticLaw(TrackedLaw):
    """Q(w) = sum_t c_t |w_t|^2 with its flow's prediction; optionally per neuron and in Fig. 2's 'delta' form.

    A view on the run's ``QuadraticBank``, which measures every quadratic law at once.
    """

    def __init__(
        self,
        context: Context,
        ws: Workspace,
        terms: list[Term],
        *,
        per_neuron: bool = False,
        delta_form: bool = False,
        **kw,
    ) -> None:
        super().__init__(context, default_tolerance=kw.pop("default_tolerance", default_tolerance(context)), **kw)
        self.ws = ws
        self.terms = terms
        self.per_neuron = per_neuron
        self.delta_form = delta_form
        if per_neuron:
            for term in terms:
                ws.want(term.index, term.neurons or "entries")
        self.bank = QuadraticBank.of(ws, context, self.applicable)
        self.stats = self.bank.stats
        self.slot = self.bank.add(self)
        self._neuron_key = self.id + ":neurons"

    def neurons(self, snap: Snapshot) -> Tensor:
        """The law per neuron i of the layer (d_h entries), summing to Q."""
        parts = []
        for term in self.terms:
            if term.neurons == "rows":
                part = self.ws.rows_sq(snap, term.index)
            elif term.neurons == "cols":
                part = self.ws.cols_sq(snap, term.index)
            else:
                part = self.ws.square(snap, term.index)
            parts.append((term.coef, part))
        (c0, total), rest = parts[0], parts[1:]
        if c0 == 1.0 and rest:  # a new tensor either way: the workspace's sums are shared
            total = torch.add(total, rest[0][1], alpha=rest[0][0])
            rest = rest[1:]
        else:
            total = total * c0
        for c, part in rest:
            total.add_(part, alpha=c)
        return total

    def measure(self, snap: Snapshot) -> Columns:
        """The per-neuron view (the bank records the value, terms and predictions)."""
        if not self.per_neuron:
            return {}
        v = self.neurons(snap)
        return {self._neuron_key: v if v.shape[0] <= MAX_NEURONS else v[:MAX_NEURONS]}

    def discrete_relative_drift(self) -> float | None:
        """Relative drift from GD's exact discrete prediction (None unless the run is GD or SGD)."""
        return self.relative_drift() if self._max_abs_other is not None else None

    def flow_relative_drift(self) -> float | None:
        """Relative drift from the flow's prediction (GD: gradient flow's conservation)."""
        return self.other_relative_drift() if self._max_abs_other is not None else self.relative_drift()

    def extra_reason(self) -> str | None:
        rel = self.other_relative_drift()
        if rel is None:
            return None
        name = self.context.dynamics.upper()
        return (
            f"judged by {name}'s exact discrete prediction (:pred_discrete); the drift from gradient flow's prediction "
            f"(:pred) is {rel:.3g} relative: {name}'s O(eta) discretisation, it shrinks linearly with the step size"
        )


class ResidualBank:
    """Every symmetry residual of a run at once: (C <w_t, g_t>) / (|C| |g_t| |w_t|), one entry per law."""

    def __init__(self, context: Context, ws: Workspace) -> None:
        self.ws = ws
        self.laws: list[SymmetryResidual] = []
        self.stats = Tracker()
        self.lam = weight_decay(context.spec)
        self._C: Tensor | None = None
        self._keys: tuple[str, ...] = ()

    every_step = False

    def on_step(self, snap: Snapshot) -> None:
        """Nothing to accumulate: the residual is a function of the step."""

    @staticmethod
    def of(ws: Workspace, context: Context) -> ResidualBank:
        return ws.shared(("residual",), lambda: ResidualBank(context, ws))

    def add(self, law: SymmetryResidual) -> int:
        if self._C is not None:
            raise RuntimeError("symmetry residuals must be created before the run starts")
        self.laws.append(law)
        return len(self.laws) - 1

    def measure(self, snap: Snapshot) -> Block | None:
        """Every law's residual and its prediction 0 (None where the step has no gradient at w_k)."""
        wg = self.ws.param_grad_dot(snap)
        if wg is None:
            return None
        if self._C is None:
            n, T = len(self.laws), len(snap.params)
            rows = [[0.0] * T for _ in range(n)]
            for i, law in enumerate(self.laws):
                for term in law.terms:
                    rows[i][term.index] += term.coef
            C = torch.tensor(rows, dtype=torch.float64).reshape(n, T).to(wg.device)
            self._C, self._abs_C = C, C.abs()
            self._tiny = torch.full((n,), 1e-300, dtype=C.dtype, device=C.device)  # 0/0 -> 0 at a standstill
            self._zeros = torch.zeros(n, dtype=C.dtype, device=C.device)
            self.stats.max_scale = torch.ones(n, dtype=C.dtype, device=C.device)  # the value is already relative
            self._keys = tuple(k for law in self.laws for k in (law.id, law.id + ":pred"))
        if self.lam:  # Snapshot.grad includes the weight-decay term lambda w: take it out
            gsq = self.ws.grad_sq(snap)
            wsq = self.ws.param_sq(snap)
            gsq = torch.clamp(gsq - 2.0 * self.lam * wg + self.lam**2 * wsq, min=0.0)
            wg = wg - self.lam * wsq
            gw = (gsq * wsq).sqrt()
        else:
            gw = self.ws.grad_param_norms(snap)
        value = torch.mv(self._C, wg) / torch.addmv(self._tiny, self._abs_C, gw)
        self.stats.track(value, drift=value.abs())
        return Block(self._keys, torch.stack((value, self._zeros), dim=1).reshape(-1))


class SymmetryResidual(TrackedLaw):
    """<grad L(w), A w> / sum_t |c_t| |g_t| |w_t|: the symmetry itself, 0 on every step (Sec. 2.3).

    Measured on the gradient of the loss (a weight-decay term in ``Snapshot.grad`` is taken out). A view on
    the run's ``ResidualBank``.
    """

    kind = "zero"

    def __init__(self, context: Context, ws: Workspace, terms: list[Term], **kw) -> None:
        tol = 1e-9 if is_float64(context) else 1e-3
        super().__init__(context, default_tolerance=kw.pop("default_tolerance", tol), **kw)
        self.ws = ws
        self.terms = terms
        self.bank = ResidualBank.of(ws, context)
        self.stats = self.bank.stats
        self.slot = self.bank.add(self)

    def measure(self, snap: Snapshot) -> Columns:
        """Nothing of its own: the bank records the residual."""
        return {}

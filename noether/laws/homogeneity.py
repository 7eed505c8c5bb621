"""Laws of homogeneous activations (Tables 2-3, Sec. 4.2, 4.4): balance per layer, its sum, p^k chains.

sigma_h p-homogeneous (sigma(lambda x) = lambda^p sigma(x), lambda > 0) means W_h[i, :] -> lambda W_h[i, :],
b_h[i] -> lambda b_h[i], W_{h+1}[:, i] -> lambda^-p W_{h+1}[:, i] leaves f_w unchanged, for each neuron i.
Swish x sigmoid(beta x) with a trainable beta has the same symmetry with beta_h[i] -> beta_h[i] / lambda.
The conserved quantity of gradient flow, per neuron i of layer h (``balance/h{h}:neurons``):

    |W_h[i, :]|^2 + b_h[i]^2 - beta_h[i]^2 - p |W_{h+1}[:, i]|^2,

and per layer (``balance/h{h}``) its sum. Summing layers with weights prod_{i<h} p_i telescopes into
``balance_sum`` (Sec. 4.4) and, for a run of k layers of the same p, into the chain
|W_h(0)|^2 - |W_h(t)|^2 = p^k (|W_{h+k}(0)|^2 - |W_{h+k}(t)|^2) (Sec. 4.2, Fig. 2).
"""

from __future__ import annotations

from typing import Any

from noether.laws.base import Context, Law
from noether.laws.conditions import exact_gd, exactly, has_grad_at_w, weight_decay
from noether.laws.entry import CatalogueEntry
from noether.laws.quadratic import QuadraticLaw, SymmetryResidual, Term, formula
from noether.laws.tracking import not_applicable
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

_GF = (
    "conserved (eq. 31); with an L2 weight decay lambda it decays as Q(0) exp(-2 lambda t); GD and SGD "
    "follow exactly Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 (|g_h|^2 - p |g_{h+1}|^2 ...), g = grad L + lambda w "
    "(:pred_discrete)"
)
_ND = "residual law: Q'' = 2 (|W_h'|^2 - p |W_{h+1}'|^2 ...), integrated along the run's velocities"
_NAGF = "residual law: P' = K - (3/t) P with P = Q'/2 = <W_h, W_h'> - p <W_{h+1}, W_{h+1}'> ..., integrated"
_GENERAL = "residual law: k2 (P' - K) + k1 P + lambda Q = 0 with P = Q'/2, integrated along the run's velocities"
_NONE = "no prediction: Adam's per-coordinate preconditioner is not equivariant under the rescaling (shown only)"
PREDICTIONS = {"gf": _GF, "nd": _ND, "nagf": _NAGF, "general": _GENERAL, "none": _NONE}


ENTRIES = [
    CatalogueEntry(
        id="balance",
        title="Balance of consecutive layers",
        ids=["balance/h{h}"],
        symmetry="rescaling of each neuron of layer h: W_h[i,:] -> l W_h[i,:], b_h[i] -> l b_h[i], "
        "W_{h+1}[:,i] -> l^-p W_{h+1}[:,i] (Swish: also beta_h[i] -> beta_h[i]/l)",
        condition="sigma_h homogeneous: ReLU, LeakyReLU(a), linear(c) (p = 1), x^p, RePU(p) (p); or Swish with "
        "trainable beta_h (Swish with fixed beta, tanh and GELU: not applicable)",
        quantity="|W_h|^2 - p |W_{h+1}|^2, + |b_h|^2 with biases (Table 3), - |beta_h|^2 for Swish; "
        "per neuron i: |W_h[i,:]|^2 + b_h[i]^2 - beta_h[i]^2 - p |W_{h+1}[:,i]|^2",
        predictions=PREDICTIONS,
        columns=["balance/h{h}", "balance/h{h}:pred", "balance/h{h}:pred_discrete (gd, sgd)",
                 "balance/h{h}:neurons (the first 512 neurons)",
                 "balance/h{h}:|W_h|^2, balance/h{h}:|W_{h+1}|^2, ... (its terms, for Fig. 1's second axis)"],
        paper="Table 2 rows 1-3 (eq. 29-31), Table 3 (biases), Sec. 4.3 (Swish)",
        tolerance="relative drift against the movement of |W_h|^2, p|W_{h+1}|^2, ...: 0.05 (gd, second-order "
        "dynamics), 0.1 (sgd), 1e-3 (rk4)",
        notes="Fig. 1 plots |W_2|^2, |W_3|^2 and balance/h2 for GD, ND and NAG.",
    ),
    CatalogueEntry(
        id="balance_sum",
        title="Sum of the balances over all hidden layers",
        ids=["balance_sum"],
        symmetry="all the per-neuron rescalings of every hidden layer at once",
        condition="every hidden layer has a balance law, at least two hidden layers",
        quantity="|W_1|^2 - (prod p_h) |W_K|^2 + sum_h c_h |b_h|^2 - sum_h c_h |beta_h|^2, c_h = prod_{i<h} p_i "
        "(all ReLU with biases: |W_1|^2 - |W_K|^2 + sum_h |b_h|^2)",
        predictions=PREDICTIONS,
        columns=["balance_sum", "balance_sum:pred", "balance_sum:pred_discrete (gd, sgd)"],
        paper="Sec. 4.4",
        tolerance="as balance",
    ),
    CatalogueEntry(
        id="chain",
        title="p^k chain across layers",
        ids=["chain/h{h}-h{h+k}"],
        symmetry="the rescalings of k consecutive p-homogeneous layers",
        condition="sigma_h .. sigma_{h+k-1} all p-homogeneous with the same p != 1, k >= 2 (maximal runs)",
        quantity="|W_h(0)|^2 - |W_h(t)|^2 against p^k (|W_{h+k}(0)|^2 - |W_{h+k}(t)|^2) (bias terms weighted "
        "by p^(j-h) join the left side)",
        predictions={
            "gf": "the two sides are equal (Fig. 2: W_2 against W_4 with factor 4); GD: exact discrete "
            "prediction in :pred_discrete",
            "nd": "residual law, integrated along the run's velocities (as balance)",
            "nagf": "residual law with k1 = 3/t (as balance)",
            "general": "residual law (as balance)",
            "none": _NONE,
        },
        columns=["chain/h{h}-h{h+k} (left side)", "chain/h{h}-h{h+k}:pred (right side)", "…:pred_discrete"],
        paper="Sec. 4.2, Fig. 2",
        tolerance="as balance",
    ),
    CatalogueEntry(
        id="residual",
        title="The rescaling symmetry itself",
        ids=["residual/h{h}"],
        symmetry="as balance",
        condition="a balance law applies and the snapshot carries grad L at w_k (gd, sgd, adam, ...)",
        quantity="<grad L(w), xi(w)> / sum_t |c_t| |g_t| |w_t| with xi = (W_h, b_h, -beta_h, -p W_{h+1})",
        predictions={f: "0 at every step, whatever the dynamics (the loss is invariant)" for f in
                     ("gf", "nd", "nagf", "general", "none")},
        columns=["residual/h{h}", "residual/h{h}:pred"],
        paper="Sec. 2.3 (<E, xi(w)> = 0), Table 2 bottom rows",
        tolerance="float precision: 1e-3 (float32), 1e-9 (float64)",
    ),
]


def _reason_not_homogeneous(act: Any, h: int, batch_norm: bool = False) -> str:
    if batch_norm:
        return (
            f"BatchNorm follows W_{h}: it undoes any rescaling of W_{h}'s rows, so W_{h + 1} has nothing to balance "
            f"against; W_{h} is scale-invariant by itself (see scale/h{h})"
        )
    kind = getattr(act, "kind", "?")
    if kind == "swish":
        return (
            f"Swish with a fixed beta is not homogeneous (layer {h}): the rescaling needs beta_h -> beta_h / lambda; "
            "make beta trainable (e.g. 'swish(1, trainable)')"
        )
    name = {"gelu": "GELU", "tanh": "tanh"}.get(kind, kind)
    return (
        f"{name} is not homogeneous (layer {h}): sigma(lambda x) != lambda^p sigma(x), so no rescaling of W_{h} "
        f"against W_{h + 1} leaves the network unchanged"
    )


def layer_power(structure: Structure, h: int) -> float | None:
    """p of sigma_h's rescaling symmetry (Swish with trainable beta: 1), None if it has none."""
    layer = structure.layer(h)
    if layer.batch_norm:  # BatchNorm undoes any rescaling of W_h's rows: W_h is scale-invariant alone (see scale)
        return None
    if layer.trainable_beta:
        return 1.0
    return layer.homogeneity


def layer_terms(structure: Structure, h: int, weight: float = 1.0) -> list[Term]:
    """The terms of layer h's balance, times ``weight``."""
    p = layer_power(structure, h)
    assert p is not None
    terms = [Term(structure.W(h), weight, f"W_{h}", "rows")]
    b = structure.b(h)
    if b is not None:
        terms.append(Term(b, weight, f"b_{h}", "entries"))
    beta = structure.beta(h)
    if beta is not None:
        terms.append(Term(beta, -weight, f"beta_{h}", "entries"))
    terms.append(Term(structure.W(h + 1), -weight * p, f"W_{h + 1}", "cols"))
    return terms


SHORT = {
    "gf": "conserved",
    "nd": "residual law: Q'' = 2K (K from the velocities), integrated",
    "nagf": "residual law: P' = K - (3/t) P, P = Q'/2, integrated",
    "general": "residual law: k2 (P' - K) + k1 P = 0, P = Q'/2, integrated",
    "none": "no prediction (Adam is not equivariant)",
}


def _prediction_text(context: Context) -> str:
    """The short prediction of one instance for this run's flow."""
    text = SHORT.get(context.flow, SHORT["none"])
    lam = weight_decay(context.spec)
    if lam and context.flow == "gf":
        text = f"decays as Q(0) exp(-2 lambda t), lambda = {lam:g}"
    elif lam and context.flow == "general":
        text += f" (+ lambda Q, lambda = {lam:g})"
    if exact_gd(context) and context.flow == "gf":
        text += f" under GF; {exactly(context)} Q_{{k+1}} = (1 - 2 eta lambda) Q_k + eta^2 sum c |g|^2 (dotted)"
    return text


def _symmetry_text(structure: Structure, h: int) -> str:
    layer = structure.layer(h)
    kind = layer.activation.kind
    if layer.trainable_beta:
        return f"rescaling of layer {h}'s neurons with beta_{h} (Swish, trainable beta)"
    p = layer.homogeneity
    return f"rescaling of layer {h}'s neurons ({kind}, {p:g}-homogeneous)"


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """Balance per hidden layer, their sum, the p^k chains and the symmetry residuals that apply."""
    laws: list[Law] = []
    na: list[LawSummary] = []
    K = structure.depth
    if K < 2:
        return laws, na
    adam = context.flow == "none"
    common = dict(applicable=not adam, reason=_NONE if adam else None)
    has_grad = has_grad_at_w(context)
    ok: list[int] = []
    for h in range(1, K):
        act = structure.layer(h).activation
        p = layer_power(structure, h)
        if p is None:
            na.append(
                not_applicable(
                    context,
                    id=f"balance/h{h}",
                    family="balance",
                    name=f"|W_{h}|^2 - p |W_{h + 1}|^2",
                    symmetry="rescaling (none for this activation)",
                    reason=_reason_not_homogeneous(act, h, structure.layer(h).batch_norm),
                )
            )
            continue
        ok.append(h)
        terms = layer_terms(structure, h)
        laws.append(
            QuadraticLaw(
                context, ws, terms, per_neuron=True, id=f"balance/h{h}", family="balance", name=formula(terms),
                symmetry=_symmetry_text(structure, h), prediction=_prediction_text(context), **common,
            )
        )
        if has_grad:
            laws.append(
                SymmetryResidual(
                    context, ws, terms, id=f"residual/h{h}", family="residual",
                    name=f"<grad L, xi_{h}(w)> / norms", symmetry=_symmetry_text(structure, h),
                    prediction="0 at every step (the loss is invariant)",
                )
            )
    if len(ok) == K - 1 and K >= 3:
        weight = 1.0
        terms: list[Term] = [Term(structure.W(1), 1.0, "W_1")]
        for h in range(1, K):
            for t in layer_terms(structure, h, weight)[1:-1]:
                terms.append(Term(t.index, t.coef, t.label))
            weight *= layer_power(structure, h)
        terms.append(Term(structure.W(K), -weight, f"W_{K}"))
        laws.append(
            QuadraticLaw(
                context, ws, terms, id="balance_sum", family="balance_sum", name=formula(terms),
                symmetry="rescalings of every hidden layer", prediction=_prediction_text(context), **common,
            )
        )
    elif K >= 3:
        missing = [h for h in range(1, K) if h not in ok]
        na.append(
            not_applicable(
                context, id="balance_sum", family="balance_sum", name="|W_1|^2 - |W_K|^2 + ...",
                symmetry="rescalings of every hidden layer",
                reason=f"needs a balance law in every hidden layer; layer(s) {missing} have none",
            )
        )
    for a, k, p in _same_p_runs(structure):
        terms = [Term(structure.W(a), 1.0, f"W_{a}")]
        for j in range(a, a + k):
            b = structure.b(j)
            if b is not None:
                terms.append(Term(b, p ** (j - a), f"b_{j}"))
        terms.append(Term(structure.W(a + k), -(p**k), f"W_{a + k}"))
        pk = p**k
        name = (
            f"|W_{a}(0)|^2 - |W_{a}(t)|^2 = {pk:g} (|W_{a + k}(0)|^2 - |W_{a + k}(t)|^2)"
            + (" (bias terms on the left)" if len(terms) > 2 else "")
        )
        laws.append(
            QuadraticLaw(
                context, ws, terms, delta_form=True, id=f"chain/h{a}-h{a + k}", family="chain", name=name,
                symmetry=f"rescalings of layers {a}..{a + k - 1} ({p:g}-homogeneous, p^k = {pk:g})",
                prediction=_prediction_text(context), **common,
            )
        )
    return laws, na


def _same_p_runs(structure: Structure) -> list[tuple[int, int, float]]:
    """Maximal runs (h, k, p) of k >= 2 consecutive hidden layers with the same homogeneity p != 1."""
    runs = []
    K = structure.depth
    h = 1
    while h < K:
        layer = structure.layer(h)
        p = None if layer.trainable_beta or layer.batch_norm else layer.homogeneity
        if p is None or p == 1.0:
            h += 1
            continue
        k = 1
        while h + k < K:
            nxt = structure.layer(h + k)
            if nxt.trainable_beta or nxt.batch_norm or nxt.homogeneity != p:
                break
            k += 1
        if k >= 2:
            runs.append((h, k, p))
        h += k
    return runs

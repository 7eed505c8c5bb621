"""Scale invariance of the weights before a BatchNorm (Kunin et al. 2021, Sec. 4, eq. 9-10).

With BatchNorm on layer h's pre-activations (``model.batch_norm``, no affine parameters, eps = 0),
BN(c (W_h x + b_h)) = BN(W_h x + b_h) for every c > 0 and each neuron i separately: the loss does not
change under W_h[i, :] -> c W_h[i, :], b_h[i] -> c b_h[i]. The generator is xi(w) = (W_h, b_h), so
<grad_{W_h} L, W_h> + <grad_{b_h} L, b_h> = 0 (and grad_{b_h} L = 0 itself: the mean is subtracted). For

    Q = |W_h|^2 + |b_h|^2      (per neuron i: |W_h[i, :]|^2 + b_h[i]^2)

- gradient flow: Q is constant; with weight decay lambda, Q(0) exp(-2 lambda t);
- GD and SGD (G = grad L + lambda w, what the step used): Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 |G_h|^2
  *exactly*: without weight decay |W_h|^2 only grows, by eta^2 |grad|^2 per step, and drifts from gradient
  flow's constant by eta times int |grad|^2 dt, first order in eta (the "effective learning rate" of
  normalised layers);
- second-order flows: the residual law k2 (P' - K) + k1 P + lambda Q = 0 with P = Q'/2, integrated along
  the run (as the balance laws);
- Adam: no prediction.

It is a quadratic law (``noether.laws.quadratic``): measured by the run's shared bank like the balance.
With eps > 0 the invariance is only approximate (BN(c z) = c z / sqrt(c^2 var + eps)): the law is shown,
without a verdict.
"""

from __future__ import annotations

from typing import Any

from noether.laws.base import Context, Law
from noether.laws.conditions import exact_gd, exactly, has_grad_at_w, weight_decay
from noether.laws.entry import CatalogueEntry
from noether.laws.quadratic import QuadraticLaw, SymmetryResidual, Term, formula
from noether.laws.workspace import Workspace
from noether.structure import Structure
from noether.summary import LawSummary

_NONE = "no prediction: Adam's per-coordinate preconditioner does not keep the scale invariance (shown only)"

ENTRIES = [
    CatalogueEntry(
        id="scale",
        title="Scale invariance before a BatchNorm",
        ids=["scale/h{h}"],
        symmetry="W_h[i,:] -> c W_h[i,:], b_h[i] -> c b_h[i] for each neuron i (BatchNorm undoes it)",
        condition="BatchNorm on layer h's pre-activations (model.batch_norm) with batch_norm_eps = 0",
        quantity="|W_h|^2 + |b_h|^2; per neuron i: |W_h[i,:]|^2 + b_h[i]^2",
        predictions={
            "gf": "constant; Q(0) exp(-2 lambda t) with weight decay; GD and SGD exactly "
            "Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 |G_h|^2 (:pred_discrete): without weight decay it grows "
            "by eta^2 |grad|^2 per step, O(eta) from the flow's constant",
            "nd": "residual law: Q'' = 2 |W_h'|^2 (+ |b_h'|^2), integrated along the run's velocities",
            "nagf": "residual law: P' = K - (3/t) P with P = Q'/2, integrated",
            "general": "residual law: k2 (P' - K) + k1 P + lambda Q = 0, integrated",
            "none": _NONE,
        },
        columns=["scale/h{h}", "scale/h{h}:pred", "scale/h{h}:pred_discrete (gd, sgd)",
                 "scale/h{h}:neurons (the first 512 neurons)", "scale/h{h}:|W_h|^2, scale/h{h}:|b_h|^2"],
        paper="not in the paper: Kunin et al., Neural Mechanics (ICLR 2021), Sec. 4 and 5 (scale symmetry)",
        tolerance="as balance",
    ),
    CatalogueEntry(
        id="scale_residual",
        title="The scale symmetry itself",
        ids=["scale_residual/h{h}"],
        symmetry="as scale",
        condition="a scale law applies and the snapshot carries grad L at w_k",
        quantity="<grad L, (W_h, b_h)> / (|g_W| |W_h| + |g_b| |b_h|)",
        predictions={f: "0 at every step, whatever the dynamics (the loss is invariant)" for f in
                     ("gf", "nd", "nagf", "general", "none")},
        columns=["scale_residual/h{h}", "scale_residual/h{h}:pred"],
        paper="Kunin et al. (2021), eq. 9",
        tolerance="float precision: 1e-3 (float32), 1e-9 (float64)",
    ),
]

SHORT = {
    "gf": "constant under gradient flow",
    "nd": "residual law: Q'' = 2K, integrated",
    "nagf": "residual law: P' = K - (3/t) P, P = Q'/2, integrated",
    "general": "residual law: k2 (P' - K) + k1 P + lambda Q = 0, integrated",
}


def _prediction_text(context: Context) -> str:
    text = SHORT.get(context.flow, _NONE)
    lam = weight_decay(context.spec)
    if lam and context.flow == "gf":
        text = f"decays as Q(0) exp(-2 lambda t), lambda = {lam:g}"
    if exact_gd(context) and context.flow == "gf":
        text += f"; {exactly(context)} Q_{{k+1}} = (1 - 2 eta lambda) Q_k + eta^2 |G_h|^2 (dotted)"
    return text


def select(spec: Any, structure: Structure, context: Context, ws: Workspace) -> tuple[list[Law], list[LawSummary]]:
    """One scale law (and its symmetry residual) per hidden layer followed by BatchNorm."""
    laws: list[Law] = []
    if spec.model is None:
        return laws, []
    adam = context.flow == "none"
    for h in range(1, structure.depth):
        layer = structure.layer(h)
        if not layer.batch_norm:
            continue
        terms = [Term(structure.W(h), 1.0, f"W_{h}", "rows")]
        b = structure.b(h)
        if b is not None:
            terms.append(Term(b, 1.0, f"b_{h}", "entries"))
        exact = layer.batch_norm_eps == 0.0
        reason = None
        if adam:
            reason = _NONE
        elif not exact:
            reason = (f"batch_norm_eps = {layer.batch_norm_eps:g} > 0 makes the invariance approximate "
                      "(BN(c z) = c z / sqrt(c^2 var + eps)); set it to 0 for the exact law (shown only)")
        symmetry = f"scaling of layer {h}'s neurons before BatchNorm"
        laws.append(
            QuadraticLaw(
                context, ws, terms, per_neuron=True, id=f"scale/h{h}", family="scale", name=formula(terms),
                symmetry=symmetry, prediction=_prediction_text(context),
                applicable=reason is None, reason=reason,
            )
        )
        if has_grad_at_w(context) and exact:
            laws.append(
                SymmetryResidual(
                    context, ws, terms, id=f"scale_residual/h{h}", family="scale_residual",
                    name=f"<grad L, (W_{h}, b_{h})> / norms", symmetry=symmetry,
                    prediction="0 at every step (the loss is invariant)",
                )
            )
    return laws, []

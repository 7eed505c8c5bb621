"""Render docs/laws.md from the catalogue (``python -m lab.docsgen --write`` calls ``render_markdown``)."""

from __future__ import annotations

from noether.laws.catalogue import catalogue
from noether.laws.entry import FLOWS

FLOW_NAMES = {
    "gf": "GF (gd, sgd, rk4 gf)",
    "nd": "ND (nd, leapfrog, rk4 nd)",
    "nagf": "NAGF (nag, rk4 nagf)",
    "general": "general (momentum, general, rk4 general)",
    "none": "none (adam)",
}

INTRO = """\
# Law catalogue

<!-- Generated from noether/laws (noether.laws.docs.render_markdown); do not edit by hand: run
`python -m lab.docsgen --write`. -->

Every law of the paper (Głuch & Urbanke, Tables 2-5, Sec. 4.2, 4.4, eq. 32-35, 43, 49, Sec. 7) that
Noether Lab measures. The runner picks the laws that apply to a spec by itself
(`noether.laws.select`); the ones that do not apply are listed in the run summary with the reason
(e.g. "GELU is not homogeneous"). Notation: `W_h` connects layer h-1 to layer h, `b_h` its bias,
`beta_h` the trainable Swish parameters of layer h, `sigma_h` its activation (h = 1..K-1), `w'` the
velocity, `g = grad L(w) + lambda w` the gradient a step used (with an L2 weight decay lambda).

## How a law is judged

- **Series columns.** Each law instance writes `<id>` (the measured value) and `<id>:pred` (the
  prediction for this run's flow) at every record. Per-neuron laws add `<id>:neurons` (one value per
  neuron of the layer, for histograms and heatmaps), matrix laws `<id>:matrix` (d <= 16), vector laws
  `<id>:vector` (d = 3). GD and SGD add `<id>:pred_discrete`, the *exact* discrete prediction.
- **Prediction per flow.** The dynamics' flow is gf (gd, sgd), nd (nd, leapfrog), nagf (nag), general
  (momentum with k2 = 1, k1 = (1 - beta)/sqrt(eta); general), the rk4 flow, or none (adam). Where the
  paper gives a residual law instead of a conserved quantity (Table 2, bottom rows), the runner turns
  it into a number by integrating the residual ODE along the run's own velocities (trapezoid rule),
  e.g. for ND `Q'' = 2 (|W_h'|^2 - p |W_{h+1}'|^2)`.
- **Drift.** Every instance tracks its initial and final value, the maximum absolute drift
  `max_t |value - prediction|` (a matrix distance for matrix laws, the excess over the bound for
  bounds) and a **relative drift**: the maximum absolute drift divided by the largest movement of
  the law's *terms* over the run, `max_t sum_i |T_i(t) - T_i(0)|` (for `|W_2|^2 - |W_3|^2` the terms
  are `|W_2|^2` and `|W_3|^2`), floored at 64 ulps of their size. Dividing by the quantity itself
  would be meaningless: `|W_2|^2 - |W_3|^2` is near 0 at a standard initialisation while both terms
  move. Bounds use the bound as the scale; zero-laws (residuals, orbit plane) are normalised already.
- **Verdict.** *holds* when the relative drift is at most the tolerance, *broken* otherwise, *not
  applicable* when the paper predicts nothing for this model or dynamics (with the reason; Adam's
  laws are still measured and shown). The tolerance is `spec.tolerance` when set, else the law's
  default for the dynamics and dtype (listed per law below): float precision for exact identities
  (1e-3 in float32, 1e-9 in float64; measurements are combined in float64, so a float32 run is judged
  by its trajectory's rounding), 5% of the movement where a flow's residual law is integrated along a
  discretisation (nd, nag, momentum, general), 1e-3 for rk4. GD and SGD are judged by their exact
  discrete prediction (below); the summary's reason also quotes the drift from gradient flow's
  prediction, which is GD's O(eta) discretisation error. Non-finite values of a diverging run are
  left out (and said so).
- **Discretisation (Sec. 8).** GD is the Euler discretisation of GF. For a rescaling law
  `Q = sum_t c_t |w_t|^2`, the first-order change of a step vanishes exactly (it is the symmetry
  `<grad L, A w> = 0`), so `Q_{k+1} = (1 - 2 eta lambda) Q_k + eta^2 sum_t c_t |g_t|^2` exactly:
  `<id>:pred_discrete` accumulates it every step and explains GD's drift to float precision (the
  summary's reason quotes the residual). The drift from GF's conservation over a fixed physical time
  shrinks linearly with eta. SGD keeps the rescaling laws to the same order (each sample's loss has
  the symmetry); data-symmetry laws only on average. ND's discrete angular momentum
  `w_k w_{k+1}^T - w_{k+1} w_k^T` is exactly conserved when the loss is exactly symmetric (eq. 21),
  and so is the one built from the central-difference velocity the runner reports.
- **Data symmetry.** A finite sample is only approximately rotation-symmetric ("data-symmetry laws
  need the whole orbit"): the runner measures the sample's symmetry defect, the largest relative
  torque `|W_1^T g_1 - g_1^T W_1|_F / (sqrt 2 sum_i |w_i||g_i|)` on the records (the column
  `rotation_residual`), reports it in the verdict and adds 2x the defect to the angular momentum's
  tolerance. More samples or `data.augment` shrink both the defect and the drift.
- **Beyond the paper.** Weight decay lambda: `d/dt Q = -2 lambda Q` under GF, so a rescaling law decays
  as `Q(0) exp(-2 lambda t)` (rotation laws are unaffected: `|w|^2` is rotation-invariant). Momentum is
  the general flow with k2 = 1, k1 = (1 - beta)/sqrt(eta). Adam: no prediction (its per-coordinate
  preconditioner is not equivariant under the symmetries); its laws are measured and shown with the
  verdict *not applicable*.
- **Cost.** Laws share one per-step cache of per-tensor squared norms (one fused `_foreach_norm`);
  `on_step` and `measure` return tensors and never synchronise with the device.

## Catalogue
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """The whole of docs/laws.md."""
    out = [INTRO]
    out.append("| family | instance ids | condition | quantity |")
    out.append("|---|---|---|---|")
    for e in catalogue():
        out.append(
            f"| [{e.id}](#{e.id.replace('_', '-')}) | {', '.join('`' + i + '`' for i in e.ids)} | "
            f"{_cell(e.condition)} | {_cell(e.quantity)} |"
        )
    out.append("")
    for e in catalogue():
        out.append(f"### {e.id}")
        out.append("")
        out.append(f"**{e.title}** ({e.paper}).")
        out.append("")
        out.append(f"- Symmetry: {e.symmetry}")
        out.append(f"- Applies when: {e.condition}")
        out.append(f"- Quantity: {e.quantity}")
        out.append(f"- Columns: {', '.join('`' + c + '`' for c in e.columns)}")
        out.append(f"- Tolerance: {e.tolerance}")
        if e.notes:
            out.append(f"- Notes: {e.notes}")
        out.append("")
        out.append("| flow | prediction |")
        out.append("|---|---|")
        for flow in FLOWS:
            out.append(f"| {FLOW_NAMES[flow]} | {_cell(e.predictions.get(flow, '-'))} |")
        out.append("")
    from noether.watcher.docs import MARKDOWN as WATCH  # the monitor's families (noether.watch)

    out.append(WATCH)
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")

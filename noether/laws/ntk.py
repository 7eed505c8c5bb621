"""Neural tangent kernel drift (Sec. 7): the kernel H_ij = <df(x_i)/dw, df(x_j)/dw> moves less as width grows.

On a small fixed probe set x_1..x_n (``context.probe_inputs``, at most ``MAX_PROBES``) and a fixed scalar
readout f(x) = <f_w(x), 1> / sqrt(d_K), the runner computes H(t) at every record (n backward passes
through one forward) and reports |H(t) - H(0)|_F / |H(0)|_F. The paper's argument is the velocity bound (eq. 49):
from rest, the mean speed is at most sqrt(2 L(w(0)) / m), so the weights, and with them the kernel,
move less in wider networks. There is no per-run number to compare with: the prediction is a trend
across the runs of a width sweep (preset ``ntk-width``); a run has no verdict of its own ("not applicable",
with the velocity bound's verdict in the reason).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from noether.laws.base import Context, Snapshot
from noether.laws.entry import CatalogueEntry
from noether.laws.tracking import TrackedLaw
from noether.summary import LawSummary

MAX_PROBES = 8

ENTRIES = [
    CatalogueEntry(
        id="ntk_drift",
        title="Neural tangent kernel drift",
        ids=["ntk_drift"],
        symmetry="time translation (through the velocity bound, eq. 49)",
        condition="a network where the velocity bound applies (nd, nag, momentum from rest, full batch), with probe "
        "inputs and the model function in the run's context",
        quantity="|H(t) - H(0)|_F / |H(0)|_F, H_ij = <df(x_i)/dw, df(x_j)/dw>, f = <f_w(x), 1>/sqrt(d_K), "
        f"at most {MAX_PROBES} probe inputs",
        predictions={
            "gf": "not applicable (the paper's argument needs the energy of a second-order flow)",
            "nd": "shrinks as the width grows (across a width sweep); per run: the velocity bound's verdict",
            "nagf": "as nd",
            "general": "as nd when k2 = 1, k1 >= 0",
            "none": "not applicable",
        },
        columns=["ntk_drift"],
        paper="Sec. 7 (eq. 49-51)",
        tolerance="no per-run prediction, so no per-run verdict (not applicable; the reason gives the velocity bound's)",
    ),
]


def ntk_reason(context: Context) -> str | None:
    """Why the kernel cannot be computed for this run (None if it can)."""
    if context.model_fn is None:
        return "needs the model function in the run's context (only the driver provides it)"
    if context.probe_inputs is None or len(context.probe_inputs) == 0:
        return "needs probe inputs in the run's context"
    return None


class NTKDrift(TrackedLaw):
    """|H(t) - H(0)|_F / |H(0)|_F on a fixed probe set (Sec. 7)."""

    kind = "zero"

    def __init__(self, context: Context, bound: TrackedLaw | None) -> None:
        super().__init__(
            context,
            id="ntk_drift",
            family="ntk_drift",
            name="|H(t) - H(0)|_F / |H(0)|_F",
            symmetry="time translation (via eq. 49)",
            prediction="shrinks as the width grows (compare a width sweep); bounded through eq. 49",
            default_tolerance=1.0,
        )
        self.bound = bound
        self.probes = context.probe_inputs[:MAX_PROBES]
        self.model_fn = context.model_fn
        self._H0: Tensor | None = None
        self._readout: Tensor | None = None

    def kernel(self, params: list[Tensor]) -> Tensor:
        """H = J J^T with J the Jacobian of the probe outputs' readout with respect to every parameter."""
        x = self.probes.to(device=params[0].device, dtype=params[0].dtype)
        if self._readout is None:
            d_out = self.model_fn(params, x[:1]).shape[-1]
            self._readout = torch.full((d_out,), 1.0 / math.sqrt(d_out), dtype=x.dtype, device=x.device)
        r = self._readout

        n = x.shape[0]
        with torch.enable_grad():
            ps = [p.detach().requires_grad_(True) for p in params]
            out = self.model_fn(ps, x) @ r
            rows = []
            for i in range(n):  # n <= MAX_PROBES backward passes: cheaper than jacrev's vmap for small n
                grads = torch.autograd.grad(out[i], ps, retain_graph=i < n - 1, allow_unused=True)
                rows.append(torch.cat([g.reshape(-1) if g is not None else torch.zeros_like(p).reshape(-1)
                                       for g, p in zip(grads, ps, strict=True)]))
        J = torch.stack(rows).double()
        return J @ J.T

    def measure(self, snap: Snapshot) -> dict[str, Tensor | float]:
        H = self.kernel(snap.params)
        if self._H0 is None:
            self._H0 = H
        H0 = self._H0
        value = (H - H0).norm() / torch.clamp(H0.norm(), min=1e-300)
        self.track(value, scale=torch.ones_like(value))
        return {self.id: value}

    def summary(self) -> LawSummary:
        s = super().summary()
        if self.bound is None:
            return s.model_copy(update={"verdict": "not applicable", "tolerance": None,
                                        "reason": "no per-run prediction (the velocity bound does not apply)"})
        b = self.bound.summary()
        reason = (
            "no per-run prediction: the kernel drift should shrink as the width grows (compare the runs of a width "
            f"sweep); verdict of the velocity bound (eq. 49) that implies it: {b.reason}"
        )
        # no prediction of its own to follow, so no verdict of its own: "holds" beside a drift of 1.6e4 read as if
        # the kernel had followed something; the bound's verdict is in the reason (and in its own row)
        reason += f" (the velocity bound {b.verdict})"
        return s.model_copy(update={"verdict": "not applicable", "tolerance": None, "reason": reason,
                                    "max_rel_drift": None})

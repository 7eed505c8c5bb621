"""What the catalogue needs to know about a spec: its flow, weight decay, batch, start at rest.

``make_context(spec, structure)`` builds the laws' ``Context`` of a spec: the driver builds its own with
it (adding the loss, the model and the probe inputs), and ``POST /api/validate``, ``noether laws`` and the
tests use it without running anything. The flow a dynamics discretises and its coefficients k1(t), k2(t)
come from the kind's record (``noether.dynamics``, ``DynamicsKind.flow``):

========================= ========= ============================================
dynamics kind             flow      k2, k1
========================= ========= ============================================
gd, sgd                   gf        (k2 -> 0, k1 = 1)
nd, leapfrog              nd        1, 0
nag                       nagf      1, 3/t
momentum                  general   1, (1 - beta)/sqrt(eta)  (t = k sqrt(eta))
general                   general   the spec's k2(t), k1(t)
rk4                       its flow  the spec's k2, k1 for flow = general
adam                      none      (no paper flow)
========================= ========= ============================================
"""

from __future__ import annotations

from typing import Any

from noether.dynamics import kind_of
from noether.dynamics.kind import Flow
from noether.laws.base import Context
from noether.spec import ExperimentSpec
from noether.structure import Structure, mlp_structure, potential_structure

FLOW_LABELS = {
    "gf": "gradient flow",
    "nd": "Newtonian dynamics",
    "nagf": "Nesterov's accelerated gradient flow",
    "general": "general dynamics k2 w'' + k1 w' + grad L = 0",
    "none": "no paper flow",
}


def flow_of(spec: ExperimentSpec) -> Flow:
    """The continuous flow the spec's dynamics discretises (gf, nd, nagf, general, none), with k1(t), k2(t)."""
    return kind_of(spec.dynamics).flow(spec.dynamics)


def structure_of(spec: Any) -> Structure:
    """The parameter layout of a spec (an MLP's W1, b1, ... or a potential's single w)."""
    if spec.model is not None:
        return mlp_structure(spec.model)
    return potential_structure(spec.potential.dim)


def make_context(spec: ExperimentSpec, structure: Structure | None = None, **extra: Any) -> Context:
    """The laws' Context of ``spec``; ``extra``: the driver's loss_fn, model_fn, probe_inputs (or k1, k2 to replace)."""
    flow = flow_of(spec)
    return Context(
        spec=spec,
        structure=structure if structure is not None else structure_of(spec),
        dynamics=spec.dynamics.kind,
        flow=flow.name,
        k1=extra.pop("k1", flow.k1),
        k2=extra.pop("k2", flow.k2),
        **extra,
    )


def weight_decay(spec: Any) -> float:
    """lambda of an L2 term lambda/2 |w|^2 added to the loss (0 for Adam, whose decay is decoupled)."""
    if spec.dynamics.kind == "adam":
        return 0.0
    return float(getattr(spec.dynamics, "weight_decay", 0.0) or 0.0)


def minibatch(spec: Any) -> bool:
    """True when the gradient of a step comes from a minibatch (SGD, or momentum/Adam with batch_size)."""
    if spec.dynamics.kind == "sgd":
        return True
    return getattr(spec.dynamics, "batch_size", None) is not None


def at_rest(spec: Any) -> bool:
    """True when the dynamics start with w'(0) = 0."""
    init = spec.initial
    if spec.potential is not None:
        return init.velocity is None or all(v == 0 for v in init.velocity)
    return init.velocity_scale == 0.0


def second_order(context: Context) -> bool:
    return context.flow in ("nd", "nagf", "general")


def exact_gd(context: Context) -> bool:
    """True when each step is w_{k+1} = w_k - eta (g_k + lambda w_k): GD's exact discrete identities apply."""
    return context.dynamics in ("gd", "sgd")


def exactly(context: Context) -> str:
    """How a prediction text names the step-by-step identity of this run: 'SGD: exactly' on an SGD run, 'GD: exactly'
    on a GD run (the dotted curve of the law's chart)."""
    return f"{context.dynamics.upper()}: exactly"


def k2_is_one(context: Context, t0: float = 0.0) -> bool:
    """True when k2(t) = 1 and k1(t) >= 0 at a few probe times: the energy |w'|^2/2 + L then never grows."""
    if context.flow in ("nd", "nagf"):
        return True
    if context.flow != "general" or context.k1 is None or context.k2 is None:
        return False
    try:
        for t in (max(t0, 1e-3), 0.1, 1.0, 10.0, 100.0):
            if abs(context.k2(t) - 1.0) > 1e-12 or context.k1(t) < 0:
                return False
    except (ValueError, ArithmeticError):
        return False
    return True


def has_grad_at_w(context: Context) -> bool:
    """True when the snapshot carries grad L at w_k (NAG evaluates it at y_k instead)."""
    return context.dynamics != "nag"

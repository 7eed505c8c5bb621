"""The training dynamics of the paper (Sec. 3, Table 1) and beyond, one small file each.

``DYNAMICS`` maps the spec's ``dynamics.kind`` to an (init, step) pair (see ``noether.dynamics.base``);
``flow_of`` names the continuous flow a kind discretises, for the laws' predictions.

=========== ============================================== ===================== =============
kind        update                                          time t_k              flow
=========== ============================================== ===================== =============
gd          w - eta grad L                                  k eta                 gf
sgd         the same on a seeded minibatch                  k eta                 gf
momentum    w - eta grad L + beta (w_k - w_{k-1})           k sqrt(eta)           general (k2 = 1, k1 = (1-beta)/sqrt(eta))
adam        Adam / AdamW                                    k eta                 none
nd          eq. 21                                          k sqrt(eta)           nd
nag         eq. 20, index from k0 = t0/sqrt(eta)            k sqrt(eta)           nagf
leapfrog    velocity Verlet for ND                          k dt                  nd
rk4         classical RK4 for gf, nd, nagf or general       t0 + k dt             its flow
general     semi-implicit central scheme for eq. 22         t0 + k dt             general
=========== ============================================== ===================== =============
"""

from __future__ import annotations

import math
from collections.abc import Callable

from noether.dynamics import adam, gd, general, leapfrog, momentum, nesterov, newton, rk4
from noether.dynamics.base import Dynamics, Observation
from noether.expr import parse_expression

DYNAMICS: dict[str, Dynamics] = {
    "gd": Dynamics(gd.init, gd.step),
    "sgd": Dynamics(gd.init, gd.step),
    "momentum": Dynamics(momentum.init, momentum.step),
    "adam": Dynamics(adam.init, adam.step),
    "nd": Dynamics(newton.init, newton.step),
    "nag": Dynamics(nesterov.init, nesterov.step),
    "leapfrog": Dynamics(leapfrog.init, leapfrog.step),
    "rk4": Dynamics(rk4.init, rk4.step),
    "general": Dynamics(general.init, general.step),
}

# Declared order of accuracy against the flow (error at a fixed time ~ step^order; the step is eta for
# gd, sqrt(eta) for nd and nag, dt otherwise). tests/core/test_dynamics.py fits the slopes.
ORDER = {"gd": 1, "nd": 2, "nag": 1, "leapfrog": 2, "rk4": 4, "general": 2}

Coefficient = Callable[[float], float]


def flow_of(cfg) -> tuple[str, Coefficient | None, Coefficient | None]:
    """(flow, k1, k2): the continuous flow a dynamics discretises, with k1(t), k2(t) for second-order flows."""
    kind = cfg.kind
    if kind in ("gd", "sgd"):
        return "gf", None, None
    if kind == "adam":
        return "none", None, None
    if kind in ("nd", "leapfrog"):
        return "nd", (lambda t: 0.0), (lambda t: 1.0)
    if kind == "nag":
        return "nagf", (lambda t: 3.0 / t), (lambda t: 1.0)
    if kind == "momentum":
        k1 = (1.0 - cfg.beta) / math.sqrt(cfg.lr)
        return "general", (lambda t: k1), (lambda t: 1.0)
    if kind == "general":
        return "general", parse_expression(cfg.k1), parse_expression(cfg.k2)
    if kind == "rk4":
        if cfg.flow == "gf":
            return "gf", None, None
        k1, k2 = rk4.friction(cfg)
        return cfg.flow, k1, k2
    raise ValueError(f"unknown dynamics kind '{kind}'")


def batch_size(cfg) -> int | None:
    """The minibatch size of a stochastic dynamics, None for full batch."""
    return getattr(cfg, "batch_size", None)


__all__ = ["DYNAMICS", "ORDER", "Dynamics", "Observation", "flow_of", "batch_size"]

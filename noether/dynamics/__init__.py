"""The training dynamics of the paper (Sec. 3, Table 1) and beyond, one small file each.

``DYNAMICS`` maps the spec's ``dynamics.kind`` to its ``DynamicsKind`` (``noether.dynamics.kind``): the
(init, step) pair (``noether.dynamics.base``), the flow it discretises with k1(t), k2(t), the time map,
the declared order and the names the summary and the form show. Adding a kind is one module that
defines its record and one ``register`` call below (CONTRIBUTING.md has a worked example).

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

from noether.dynamics import adam, gd, general, leapfrog, momentum, nesterov, newton, rk4
from noether.dynamics.base import Observation
from noether.dynamics.kind import Coefficient, DynamicsKind, Flow

DYNAMICS: dict[str, DynamicsKind] = {}


def register(kind: DynamicsKind) -> DynamicsKind:
    """Make ``kind`` available to specs (``dynamics.kind``), the driver, the laws and the form."""
    if kind.name in DYNAMICS and DYNAMICS[kind.name] is not kind:
        raise ValueError(f"dynamics kind '{kind.name}' is already registered")
    DYNAMICS[kind.name] = kind
    return kind


for _kind in (gd.GD, gd.SGD, momentum.KIND, adam.KIND, newton.KIND, nesterov.KIND, leapfrog.KIND, rk4.KIND, general.KIND):
    register(_kind)

# Declared order of accuracy against the flow (error at a fixed time ~ step^order; the step is eta for
# gd, sqrt(eta) for nd and nag, dt otherwise). tests/core/test_dynamics.py fits the slopes.
ORDER = {name: kind.order for name, kind in DYNAMICS.items() if kind.order is not None}


def kind_of(cfg) -> DynamicsKind:
    """The registered record of a spec's ``dynamics`` section."""
    try:
        return DYNAMICS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown dynamics kind '{cfg.kind}' (known: {', '.join(DYNAMICS)})") from None


def batch_size(cfg) -> int | None:
    """The minibatch size of a stochastic dynamics, None for full batch."""
    return getattr(cfg, "batch_size", None)


__all__ = ["DYNAMICS", "ORDER", "Coefficient", "DynamicsKind", "Flow", "Observation", "batch_size", "kind_of", "register"]

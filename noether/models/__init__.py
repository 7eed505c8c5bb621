"""Models: MLPs as pure functions of a parameter list (eq. 19), and analytic potentials."""

from noether.models.mlp import forward, make_forward
from noether.models.potentials import make_potential

__all__ = ["forward", "make_forward", "make_potential"]

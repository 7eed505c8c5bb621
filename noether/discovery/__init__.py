"""Automatic discovery of conserved quantities: the paper's Algorithm 1 (FINDCONSERVEDQUANTITIES), numerically.

``discover(spec, options) -> DiscoveryResult`` searches a structured space of linear generators
xi(w) = A w for those with <grad L(w), A w> = 0 (a null-space problem with a stated tolerance), turns them
into laws (w^T A w / 2 under gradient flow, w'^T A w under Newtonian dynamics, residual laws), names them
after the catalogue where they coincide, and verifies them along a run of the spec's dynamics.
"""

from noether.discovery.discover import discover
from noether.discovery.result import DiscoveredLaw, DiscoveryOptions, DiscoveryResult, GeneratorBlock

__all__ = ["DiscoveredLaw", "DiscoveryOptions", "DiscoveryResult", "GeneratorBlock", "discover"]

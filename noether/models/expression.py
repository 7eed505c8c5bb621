"""A potential L(w) typed as an expression of x, y, z (or w1, w2, w3), e.g. ``x*y*z`` or ``(x^2 + y^2 - 1)^2 + z^2``.

The text is parsed by the same restricted grammar as the k1/k2 expressions (``noether.expr``, lark, LALR)
and built by the same ``TreeBuilder`` with the same table of operations (torch's here) into a tree of
closures, so L(w) is a torch function of w and its gradient comes from autograd on that tree: exact, no
finite differences. Nothing a user writes reaches ``eval``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
from lark import v_args
from torch import Tensor

from noether.expr import ExpressionError, TreeBuilder, check_text, operations, transform

# the names of the coordinates of w: x, y, z or w1, w2, w3
AXES = ("x", "y", "z")
MAX_DIM = 3

Fn = Callable[[Tensor], Tensor]

TORCH = operations(torch, power=torch.pow)  # noether.expr's table of operations, on tensors


def variable_index(name: str) -> int | None:
    """0, 1, 2 for x, y, z or w1, w2, w3; None for any other name."""
    if name in AXES:
        return AXES.index(name)
    if len(name) == 2 and name[0] == "w" and name[1] in "123":
        return int(name[1]) - 1
    return None


@v_args(inline=True)
class _Build(TreeBuilder):
    """The parse tree as closures w -> tensor; records the largest coordinate used."""

    allowed = "x, y, z or w1, w2, w3"

    def __init__(self) -> None:
        super().__init__(TORCH)
        self.used = -1

    def _constant(self, value: float) -> Fn:
        return lambda w: w.new_tensor(value)

    def _variable(self, name: str) -> Fn | None:
        i = variable_index(name)
        if i is None:
            return None
        self.used = max(self.used, i)
        return lambda w: w[i]


@lru_cache(maxsize=256)
def parse_potential(text: str) -> tuple[Fn, int]:
    """(L, d_used): L as a torch function of w, and how many coordinates it uses (z or w3: 3)."""
    check_text(text)
    build = _Build()
    fn = transform(build, text)
    return fn, build.used + 1


def check_potential(text: str, dim: int) -> None:
    """Raise ExpressionError unless ``text`` parses, uses at most ``dim`` coordinates and is finite somewhere."""
    fn, used = parse_potential(text)
    if used > dim:
        name = AXES[used - 1]
        raise ExpressionError(f"uses {name} (coordinate {used}) but dim is {dim}")
    probes = (torch.full((dim,), 0.5, dtype=torch.float64), torch.tensor([0.3, -0.7, 1.1][:dim], dtype=torch.float64))
    for w in probes:
        value = fn(w)
        if value.dim() != 0:
            raise ExpressionError("must give one number")
        if math.isfinite(float(value)):
            return
    raise ExpressionError(f"'{text}' is not finite at the probe points {[p.tolist() for p in probes]}")


def expression_potential(text: str) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """w -> (L(w), grad L(w)), the gradient by autograd on the parsed tree."""
    fn, _ = parse_potential(text)

    def loss_and_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            x = w.detach().requires_grad_(True)
            value = fn(x)
            (g,) = torch.autograd.grad(value, x, allow_unused=True)
        if g is None:  # a constant potential
            g = torch.zeros_like(w)
        return value.detach(), g

    return loss_and_grad


def loss_only(text: str) -> Fn:
    """w -> L(w) (differentiable), for callers that take their own gradients (discovery's vmapped grads)."""
    return parse_potential(text)[0]

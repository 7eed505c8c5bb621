"""A potential L(w) typed as an expression of x, y, z (or w1, w2, w3), e.g. ``x*y*z`` or ``(x^2 + y^2 - 1)^2 + z^2``.

The text is parsed by the same restricted grammar as the k1/k2 expressions (``noether.expr``, lark, LALR)
into a tree of closures over torch operations, so L(w) is a torch function of w and its gradient comes
from autograd on that tree: exact, no finite differences. Nothing a user writes reaches ``eval``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import torch
from lark import Token, Transformer, v_args
from lark.exceptions import LarkError
from torch import Tensor

from noether.expr import CONSTANTS, MAX_LENGTH, ExpressionError, _parser

# the names of the coordinates of w: x, y, z or w1, w2, w3
AXES = ("x", "y", "z")
MAX_DIM = 3

Fn = Callable[[Tensor], Tensor]


def _min(a: Tensor, b: Tensor) -> Tensor:
    return torch.minimum(a, b)


def _max(a: Tensor, b: Tensor) -> Tensor:
    return torch.maximum(a, b)


TORCH_FUNCTIONS: dict[str, tuple[int, Callable[..., Tensor]]] = {
    "exp": (1, torch.exp),
    "log": (1, torch.log),
    "sqrt": (1, torch.sqrt),
    "sin": (1, torch.sin),
    "cos": (1, torch.cos),
    "tanh": (1, torch.tanh),
    "abs": (1, torch.abs),
    "min": (2, _min),
    "max": (2, _max),
}


def variable_index(name: str) -> int | None:
    """0, 1, 2 for x, y, z or w1, w2, w3; None for any other name."""
    if name in AXES:
        return AXES.index(name)
    if len(name) == 2 and name[0] == "w" and name[1] in "123":
        return int(name[1]) - 1
    return None


@v_args(inline=True)
class _Build(Transformer):
    """The parse tree as closures w -> tensor; records the largest coordinate used."""

    def __init__(self) -> None:
        super().__init__()
        self.used = -1

    def number(self, tok: Token) -> Fn:
        value = float(tok)
        return lambda w: w.new_tensor(value)

    def var(self, tok: Token) -> Fn:
        name = str(tok)
        i = variable_index(name)
        if i is not None:
            self.used = max(self.used, i)
            return lambda w: w[i]
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return lambda w: w.new_tensor(value)
        raise ExpressionError(f"unknown name '{name}' (allowed: x, y, z or w1, w2, w3, and {', '.join(CONSTANTS)})")

    def call(self, tok: Token, *args: Fn) -> Fn:
        name = str(tok)
        if name not in TORCH_FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}' (allowed: {', '.join(TORCH_FUNCTIONS)})")
        arity, fn = TORCH_FUNCTIONS[name]
        if len(args) != arity:
            raise ExpressionError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return lambda w: fn(*(a(w) for a in args))

    def add(self, a: Fn, b: Fn) -> Fn:
        return lambda w: a(w) + b(w)

    def sub(self, a: Fn, b: Fn) -> Fn:
        return lambda w: a(w) - b(w)

    def mul(self, a: Fn, b: Fn) -> Fn:
        return lambda w: a(w) * b(w)

    def div(self, a: Fn, b: Fn) -> Fn:
        return lambda w: a(w) / b(w)

    def neg(self, a: Fn) -> Fn:
        return lambda w: -a(w)

    def pow(self, a: Fn, b: Fn) -> Fn:
        return lambda w: torch.pow(a(w), b(w))


@lru_cache(maxsize=256)
def parse_potential(text: str) -> tuple[Fn, int]:
    """(L, d_used): L as a torch function of w, and how many coordinates it uses (z or w3: 3)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression must be at most {MAX_LENGTH} characters (got {len(text)})")
    build = _Build()
    try:
        fn = build.transform(_parser.parse(text.strip().lower()))
    except ExpressionError:
        raise
    except LarkError as exc:
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, ExpressionError):
            raise inner from None
        raise ExpressionError(f"cannot parse '{text}': {str(exc).splitlines()[0]}") from None
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

"""Restricted expressions of time, such as ``k1(t) = 3/t``: parsed by a grammar, never ``eval``'d.

The grammar (lark, LALR) accepts numbers, the variable ``t``, ``+ - * / ^ **``, parentheses and a
fixed set of functions. Parsing builds a tree of plain Python closures; nothing a user writes is ever
handed to ``eval``, ``exec`` or ``compile``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

MAX_LENGTH = 200

_GRAMMAR = r"""
?start: sum
?sum: product
    | sum "+" product   -> add
    | sum "-" product   -> sub
?product: unary
    | product "*" unary -> mul
    | product "/" unary -> div
?unary: power
    | "-" unary         -> neg
    | "+" unary
?power: atom
    | atom ("^" | "**") unary -> pow
?atom: NUMBER           -> number
    | NAME              -> var
    | NAME "(" sum ("," sum)* ")" -> call
    | "(" sum ")"
NAME: /[a-z_][a-z0-9_]*/
NUMBER: /(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/
%import common.WS
%ignore WS
"""

FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {
    "exp": (1, math.exp),
    "log": (1, math.log),
    "sqrt": (1, math.sqrt),
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tanh": (1, math.tanh),
    "abs": (1, abs),
    "min": (2, min),
    "max": (2, max),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("t",)

_parser = Lark(_GRAMMAR, parser="lalr")


class ExpressionError(ValueError):
    """A user-written expression that the grammar or its checks reject."""


@v_args(inline=True)
class _Build(Transformer):
    def number(self, tok: Token):
        value = float(tok)
        return lambda t: value

    def var(self, tok: Token):
        name = str(tok)
        if name in VARIABLES:
            return lambda t: t
        if name in CONSTANTS:
            value = CONSTANTS[name]
            return lambda t: value
        raise ExpressionError(f"unknown name '{name}' (allowed: t, {', '.join(CONSTANTS)})")

    def call(self, tok: Token, *args):
        name = str(tok)
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}' (allowed: {', '.join(FUNCTIONS)})")
        arity, fn = FUNCTIONS[name]
        if len(args) != arity:
            raise ExpressionError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return lambda t: fn(*(a(t) for a in args))

    def add(self, a, b):
        return lambda t: a(t) + b(t)

    def sub(self, a, b):
        return lambda t: a(t) - b(t)

    def mul(self, a, b):
        return lambda t: a(t) * b(t)

    def div(self, a, b):
        return lambda t: a(t) / b(t)

    def neg(self, a):
        return lambda t: -a(t)

    def pow(self, a, b):
        return lambda t: a(t) ** b(t)


@lru_cache(maxsize=256)
def parse_expression(text: str) -> Callable[[float], float]:
    """Parse ``text`` into a function of ``t``; raise ExpressionError with a readable reason."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression must be at most {MAX_LENGTH} characters (got {len(text)})")
    try:
        tree = _parser.parse(text.strip().lower())
        fn = _Build().transform(tree)
    except ExpressionError:
        raise
    except LarkError as exc:
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, ExpressionError):
            raise inner from None
        raise ExpressionError(f"cannot parse '{text}': {str(exc).splitlines()[0]}") from None
    return _safe(fn, text)


def _safe(fn: Callable[[float], float], text: str) -> Callable[[float], float]:
    def evaluate(t: float) -> float:
        try:
            value = float(fn(float(t)))
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            raise ExpressionError(f"'{text}' is undefined at t={t:g} ({exc})") from None
        if not math.isfinite(value):
            raise ExpressionError(f"'{text}' is not finite at t={t:g}")
        return value

    evaluate.__doc__ = text
    return evaluate

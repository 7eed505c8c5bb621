"""Restricted expressions of time, such as ``k1(t) = 3/t``: parsed by a grammar, never ``eval``'d.

The grammar (lark, LALR) accepts numbers, the variable ``t``, ``+ - * / ^ **``, parentheses and a
fixed set of functions. Parsing builds a tree of plain Python closures; nothing a user writes is ever
handed to ``eval``, ``exec`` or ``compile``.

One table (``FUNCTIONS``, ``OPERATORS``) says what an expression may call; three evaluators walk the same
tree with it (``TreeBuilder``): Python floats and numpy arrays here, torch tensors in
``noether.models.expression`` (typed potentials), each naming its own implementation of every entry.

``first_failure(text, times)`` evaluates the same tree on an array of times at once (numpy) and returns
the first time where the expression, or any value computed on the way to it, is not finite (with
``positive=True``: also where it is not > 0). The spec checks k1(t) and k2(t) with it at every time a
run evaluates them (``noether.spec``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, NamedTuple

import numpy as np
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

# What an expression may call: its name -> (arity, the operation's name in an evaluator's namespace).
FUNCTIONS: dict[str, tuple[int, str]] = {
    "exp": (1, "exp"),
    "log": (1, "log"),
    "sqrt": (1, "sqrt"),
    "sin": (1, "sin"),
    "cos": (1, "cos"),
    "tanh": (1, "tanh"),
    "abs": (1, "abs"),
    "min": (2, "minimum"),
    "max": (2, "maximum"),
}
# The grammar's operators -> the operation's name in an evaluator's namespace.
OPERATORS: dict[str, str] = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "neg": "negative", "pow": "power",
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("t",)

_parser = Lark(_GRAMMAR, parser="lalr")


class ExpressionError(ValueError):
    """A user-written expression that the grammar or its checks reject."""


def operations(module: Any, **overrides: Callable[..., Any]) -> SimpleNamespace:
    """Every operation of the table, taken by name from ``module`` (numpy, torch, ...) unless overridden."""
    names = {op for _, op in FUNCTIONS.values()} | set(OPERATORS.values())
    return SimpleNamespace(**{name: overrides[name] if name in overrides else getattr(module, name) for name in names})


@v_args(inline=True)
class TreeBuilder(Transformer):
    """The parse tree as closures over one evaluator's operations (``ops``, see ``operations``).

    Subclasses say what a number and a variable are (``_constant``, ``_variable``) and may wrap each operation
    (``_apply``: the array evaluator marks where a node is not finite).
    """

    allowed = ", ".join(VARIABLES)  # the variable names, for the error message

    def __init__(self, ops: SimpleNamespace) -> None:
        super().__init__()
        self.ops = ops

    def _constant(self, value: float) -> Callable[..., Any]:
        raise NotImplementedError

    def _variable(self, name: str) -> Callable[..., Any] | None:
        raise NotImplementedError

    def _apply(self, op: Callable[..., Any], *args: Callable[..., Any]) -> Callable[..., Any]:
        return lambda x: op(*(a(x) for a in args))

    def number(self, tok: Token):
        return self._constant(float(tok))

    def var(self, tok: Token):
        name = str(tok)
        fn = self._variable(name)
        if fn is not None:
            return fn
        if name in CONSTANTS:
            return self._constant(CONSTANTS[name])
        raise ExpressionError(f"unknown name '{name}' (allowed: {self.allowed}, {', '.join(CONSTANTS)})")

    def call(self, tok: Token, *args):
        name = str(tok)
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}' (allowed: {', '.join(FUNCTIONS)})")
        arity, op = FUNCTIONS[name]
        if len(args) != arity:
            raise ExpressionError(f"{name}() takes {arity} argument(s), got {len(args)}")
        return self._apply(getattr(self.ops, op), *args)

    def add(self, a, b):
        return self._apply(self.ops.add, a, b)

    def sub(self, a, b):
        return self._apply(self.ops.subtract, a, b)

    def mul(self, a, b):
        return self._apply(self.ops.multiply, a, b)

    def div(self, a, b):
        return self._apply(self.ops.divide, a, b)

    def neg(self, a):
        return self._apply(self.ops.negative, a)

    def pow(self, a, b):
        return self._apply(self.ops.power, a, b)


@v_args(inline=True)
class _Build(TreeBuilder):
    """Python floats: a function of t."""

    def __init__(self) -> None:
        super().__init__(SCALAR)

    def _constant(self, value: float):
        return lambda t: value

    def _variable(self, name: str):
        return (lambda t: t) if name in VARIABLES else None


def _real_power(base: float, exponent: float) -> float:
    """base ** exponent, refusing the complex number Python makes of a negative base's fractional power."""
    value = base**exponent
    if isinstance(value, complex):
        raise ValueError(f"{base:g} ^ {exponent:g} is not a real number")
    return value


SCALAR = operations(
    math, abs=abs, minimum=min, maximum=max, add=operator.add, subtract=operator.sub, multiply=operator.mul,
    divide=operator.truediv, negative=operator.neg, power=_real_power,
)


@lru_cache(maxsize=256)
def parse_expression(text: str) -> Callable[[float], float]:
    """Parse ``text`` into a function of ``t``; raise ExpressionError with a readable reason."""
    check_text(text)
    return _safe(transform(_Build(), text), text)


@lru_cache(maxsize=256)
def _tree(text: str) -> Any:
    try:
        return _parser.parse(text.strip().lower())
    except LarkError as exc:
        raise ExpressionError(f"cannot parse '{text}': {str(exc).splitlines()[0]}") from None


def check_text(text: Any) -> None:
    """Refuse an empty or too long expression (before parsing it)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression must be at most {MAX_LENGTH} characters (got {len(text)})")


def transform(builder: Transformer, text: str) -> Any:
    """The parse tree of ``text`` built by ``builder`` (one of the evaluators), errors as ExpressionError."""
    try:
        return builder.transform(_tree(text))
    except ExpressionError:
        raise
    except LarkError as exc:
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, ExpressionError):
            raise inner from None
        raise ExpressionError(f"cannot parse '{text}': {str(exc).splitlines()[0]}") from None


def _safe(fn: Callable[[float], float], text: str) -> Callable[[float], float]:
    def evaluate(t: float) -> float:
        try:
            value = float(fn(float(t)))
        except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
            raise ExpressionError(f"'{text}' is undefined at t={t:g} ({exc})") from None
        if not math.isfinite(value):
            raise ExpressionError(f"'{text}' is not finite at t={t:g}")
        return value

    evaluate.__doc__ = text
    return evaluate


# ---------------------------------------------------------------------------------------------
# The same expressions on arrays of times: where is an expression undefined over a whole run?

ARRAY = operations(np)
ArrayFn = Callable[..., np.ndarray]  # (times, _Marks) -> values
CHUNK = 65_536  # times evaluated at once (bounds the memory of a check to a few MB)


class _Marks(NamedTuple):
    """Where an expression fails on an array of times t_0 < t_1 < ...: ``undefined[i]`` at t_i itself,
    ``pole[i]`` strictly between t_i and t_{i+1} (a denominator changes sign there, so it is zero between)."""

    undefined: np.ndarray
    pole: np.ndarray


def _node(op: Callable[..., np.ndarray], *args: ArrayFn) -> ArrayFn:
    """A tree node on arrays that marks every time where its own value is not finite."""

    def evaluate(t: np.ndarray, marks: _Marks) -> np.ndarray:
        value = op(*(a(t, marks) for a in args))
        marks.undefined[...] |= ~np.isfinite(value)
        return value

    return evaluate


def _sign_change(x: np.ndarray) -> np.ndarray | bool:
    """Where x is non-zero at two neighbouring times with opposite signs (so it is zero in between)."""
    if np.ndim(x) == 0:
        return False
    a, b = x[:-1], x[1:]
    return (np.signbit(a) != np.signbit(b)) & (a != 0) & (b != 0) & np.isfinite(a) & np.isfinite(b)


def _divide(a: ArrayFn, b: ArrayFn) -> ArrayFn:
    """a / b, and a pole wherever b changes sign between two neighbouring times (b is 0 in between)."""

    def evaluate(t: np.ndarray, marks: _Marks) -> np.ndarray:
        num, den = a(t, marks), b(t, marks)
        marks.pole[:-1] |= _sign_change(den)
        value = num / den
        marks.undefined[...] |= ~np.isfinite(value)
        return value

    return evaluate


def _power(a: ArrayFn, b: ArrayFn) -> ArrayFn:
    """a ^ b, and a pole wherever a changes sign between two neighbouring times while b < 0."""

    def evaluate(t: np.ndarray, marks: _Marks) -> np.ndarray:
        base, exponent = a(t, marks), b(t, marks)
        negative = exponent < 0
        if np.ndim(negative):
            negative = negative[:-1] | negative[1:]
        marks.pole[:-1] |= _sign_change(base) & negative
        value = np.power(base, exponent)
        marks.undefined[...] |= ~np.isfinite(value)
        return value

    return evaluate


@v_args(inline=True)
class _BuildArray(TreeBuilder):
    """The same tree on numpy arrays of times: every node marks where it is not finite (NaN, inf)."""

    def __init__(self) -> None:
        super().__init__(ARRAY)

    def _constant(self, value: float):
        value = np.float64(value)
        return lambda t, marks: value  # a scalar: numpy broadcasts it (and x ^ 2 stays fast)

    def _variable(self, name: str):
        return (lambda t, marks: t) if name in VARIABLES else None

    def _apply(self, op, *args):
        return _node(op, *args)

    def div(self, a, b):
        return _divide(a, b)

    def pow(self, a, b):
        return _power(a, b)


@lru_cache(maxsize=256)
def _array_expression(text: str) -> ArrayFn:
    check_text(text)
    return transform(_BuildArray(), text)


class Failure(NamedTuple):
    """Where an expression first fails on a run's times: at ``t`` (``value`` NaN where undefined), or, for a
    pole, strictly between ``t`` and ``until``."""

    t: float
    value: float
    until: float | None = None


def first_failure(text: str, times: np.ndarray, *, positive: bool = False) -> Failure | None:
    """The first failure of ``text`` over increasing ``times``: not finite at a time, a pole between two
    neighbouring times (a denominator that changes sign), or, with ``positive``, a value that is not > 0.
    None when there is none.

    Every intermediate value counts: ``1/(1/t)`` fails at t = 0 although numpy would carry 1/inf = 0 on,
    as the scalar evaluation (``parse_expression``) raises there.
    """
    fn = _array_expression(text)
    times = np.asarray(times, dtype=np.float64)
    with np.errstate(all="ignore"):
        for start in range(0, len(times), CHUNK):
            t = times[start : start + CHUNK + 1]  # one time of overlap: a pole before the next chunk
            marks = _Marks(~np.isfinite(t), np.zeros(len(t), dtype=bool))
            value = np.broadcast_to(fn(t, marks), t.shape)
            undefined = marks.undefined | ~np.isfinite(value)
            bad = undefined | marks.pole
            if positive:
                bad |= ~(value > 0)
            if bad.any():
                i = int(np.argmax(bad))
                if undefined[i]:
                    return Failure(float(t[i]), math.nan)
                if positive and not value[i] > 0:
                    return Failure(float(t[i]), float(value[i]))
                return Failure(float(t[i]), math.nan, float(t[i + 1]))
    return None

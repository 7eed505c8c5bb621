"""Plain-text formulas of the presets and laws (``|W_2|^2 - |W_3|^2``, ``t^-3``) as MathJax-typeset Markdown.

Cards, the run page's "Look at" / "Prediction" and the Learn page render with ``dcc.Markdown(mathjax=True)``;
this module finds the formulas in a sentence and wraps them in ``$...$`` with TeX exponents and
subscripts. A run of tokens is a formula when one of them carries ``^``, ``_`` or ``|...|``; operators
(``-``, ``+``, ``=``, ``/``) between formulas join them. Words and unbalanced brackets are left alone.
"""

from __future__ import annotations

import re

_POWER = re.compile(r"\^\(?(-?[0-9.]+|-?[A-Za-z])\)?")
_SUB = re.compile(r"_\{?([A-Za-z0-9+\-]+)\}?")
_MATHY = re.compile(r"[\^_]|\|[^|\s]+\|")
_OPS = {"-", "+", "=", "/", "<=", ">=", "<", ">", "x", "*"}
_TEX_OPS = {"<=": r"\le", ">=": r"\ge", "x": r"\times", "*": r"\cdot"}
_TRAIL = ".,;:"


def _balanced(tok: str) -> bool:
    return tok.count("(") == tok.count(")") and tok.count("[") == tok.count("]") and tok.count("|") % 2 == 0


def _tex_token(tok: str) -> str:
    tok = _POWER.sub(lambda m: "^{" + m.group(1) + "}", tok)
    tok = _SUB.sub(lambda m: "_{" + m.group(1) + "}", tok)
    return tok.replace("eta", r"\eta").replace("sqrt", r"\sqrt").replace("|", r"\vert ")


def _is_formula(tok: str) -> bool:
    core = tok.rstrip(_TRAIL)
    plain = not any(c in core for c in "$<>`*") and "://" not in core
    return bool(core) and bool(_MATHY.search(core)) and _balanced(core) and plain


def to_markdown(text: str) -> str:
    """``text`` with each formula wrapped in ``$...$`` (Markdown with MathJax)."""
    if not text:
        return ""
    tokens = text.split(" ")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not _is_formula(tok):
            out.append(tok)
            i += 1
            continue
        group = [tok.rstrip(_TRAIL)]
        trail = tok[len(group[0]):]
        j = i + 1
        while not trail and j + 1 < len(tokens) and tokens[j] in _OPS and _is_formula(tokens[j + 1]):
            nxt = tokens[j + 1].rstrip(_TRAIL)
            trail = tokens[j + 1][len(nxt):]
            group += [_TEX_OPS.get(tokens[j], tokens[j]), nxt]
            j += 2
        out.append("$" + " ".join(_tex_token(g) if g not in _TEX_OPS.values() else g for g in group) + "$" + trail)
        i = j
    return " ".join(out)

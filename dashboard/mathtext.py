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
_GREEK = re.compile(r"(?<![A-Za-z\\])(alpha|beta|gamma|delta|eta|lambda|sigma|xi|rho|mu)(?![A-Za-z])")
_MATH_WORDS = {"grad", "-grad", "sqrt", "exp", "log", "sin", "cos", "int"}


def _balanced(tok: str) -> bool:
    return tok.count("(") == tok.count(")") and tok.count("[") == tok.count("]") and tok.count("|") % 2 == 0


def _tex_token(tok: str) -> str:
    tok = _POWER.sub(lambda m: "^{" + m.group(1) + "}", tok)
    tok = _SUB.sub(lambda m: "_{" + m.group(1) + "}", tok)
    tok = _GREEK.sub(lambda m: "\\" + m.group(1) + " ", tok)
    return tok.replace("|", r"\vert ")


_VAR = re.compile(r"^[A-Za-z][0-9]?'*(\([A-Za-z0-9'+\-/, ]*\))?'*$")  # J(0), w'(0), w', t0
_WEAK = re.compile(r"^([A-Za-z]|[0-9.]+|[A-Za-z][0-9]|\([0-9.,\-/]+\))$")  # y, 2, t0, (0)


def _core(tok: str) -> str:
    core = tok.rstrip(_TRAIL)
    while core.endswith(")") and core.count(")") > core.count("("):  # "w)" closing a remark: the bracket is prose
        core = core[:-1].rstrip(_TRAIL)
    return core


def _plain(core: str) -> bool:
    """Nothing Markdown or HTML would read, no path or environment variable (NOETHER_DATA_DIR/datasets)."""
    return (bool(core) and _balanced(core) and not any(c in core for c in "$<>`*\\\"")
            and not re.search(r"://|[A-Z]{2,}_|/[a-z]{3,}", core))


def _strong(tok: str) -> bool:
    """A formula by itself: carries ^, _ or |...|, or is a variable with a prime or arguments (w'(0), J(t))."""
    core = _core(tok)
    if not _plain(core):
        return False
    return bool(_MATHY.search(core)) or (bool(_VAR.match(core)) and ("'" in core or "(" in core))


def _weak(tok: str) -> bool:
    """Part of a formula when an operator joins it to one: a letter, a number, t0."""
    core = _core(tok)
    return _plain(core) and bool(_WEAK.match(core) or _VAR.match(core))


def to_markdown(text: str) -> str:
    """``text`` with each formula wrapped in ``$...$`` (Markdown with MathJax)."""
    if not text:
        return ""
    tokens = text.split(" ")
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        # a chain: term (op term)*, ending at a token with trailing punctuation
        j, strong, group, trail = i, False, [], ""
        while j < len(tokens) and (_strong(tokens[j]) or _weak(tokens[j])):
            core = _core(tokens[j])
            strong |= _strong(tokens[j])
            group.append(_tex_token(core))
            trail = tokens[j][len(core):]
            j += 1
            if trail or not (j + 1 < len(tokens) and tokens[j] in _OPS and (_strong(tokens[j + 1]) or _weak(tokens[j + 1]))):
                break
            group.append(_TEX_OPS.get(tokens[j], tokens[j]))
            j += 1
        nxt = _core(tokens[j]) if j < len(tokens) else ""
        before = _core(tokens[i - 1]) if i > 0 else ""
        marked = any(_MATHY.search(g) for g in group) or "\\vert" in " ".join(group)
        letters = all(len(g) == 1 or g in _TEX_OPS.values() or g in _OPS for g in group)
        clean_end = bool(trail) or not nxt or nxt in _OPS or (nxt.isalpha() and nxt.islower() and nxt not in _MATH_WORDS)
        if group and before not in _MATH_WORDS and (marked or (len(group) >= 3 and (strong or letters) and clean_end)):
            out.append("$" + " ".join(group).strip() + "$" + trail)
            i = j
        elif tok.startswith("(") and len(tok) > 1 and tok.count("(") > tok.count(")"):
            rest = to_markdown(tok[1:] + (" " + " ".join(tokens[i + 1:]) if i + 1 < len(tokens) else ""))
            return " ".join([*out, "(" + rest])  # "(|W_4(0)|^2 - ...": the bracket is prose
        else:
            out.append(_escape(tok))
            i += 1
    return " ".join(out)


def _escape(tok: str) -> str:
    """Prose for Markdown: underscores, stars and dollars are literal (they would pair up with formulas)."""
    return re.sub(r"([_*$`\\])", r"\\\1", tok)

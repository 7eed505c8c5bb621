"""Generate the parts of the docs that code already says, so that they cannot drift from it.

Three sources, four outputs:

- ``labsettings.Settings`` gives the configuration table of ``docs/operations.md`` and the variable
  block of ``.env.example`` (each between marker comments; the prose around them is hand-written);
- ``noether.spec.ExperimentSpec``'s JSON schema gives the field reference of ``docs/spec.md`` (every
  field of every sub-model with type, default, bounds and description) and the table of size limits;
- the law catalogue gives the whole of ``docs/laws.md`` (``noether.laws.docs.render_markdown()``,
  written by the laws engineer; until it exists the file is left alone and reported as skipped).

``python -m lab.docsgen --write`` rewrites what is stale; ``python -m lab.docsgen --check`` writes
nothing and exits 1 naming every stale file (CI runs it through ``tests/test_docs.py``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python -m lab.docsgen --write"


# ---------------------------------------------------------------------------------------------
# Markers: a generated block sits between two comment lines, the rest of the file is hand-written.


def begin_marker(name: str, comment: str = "html") -> str:
    text = f"BEGIN GENERATED {name}: do not edit by hand, run `{COMMAND}`"
    return f"<!-- {text} -->" if comment == "html" else f"# {text}"


def end_marker(name: str, comment: str = "html") -> str:
    return f"<!-- END GENERATED {name} -->" if comment == "html" else f"# END GENERATED {name}"


class MarkerError(ValueError):
    """A file lacks the marker lines (or has them out of order) around a generated block."""


def replace_block(text: str, name: str, body: str, comment: str = "html") -> str:
    """``text`` with the block between the ``name`` markers replaced by ``body``."""
    begin, end = begin_marker(name, comment), end_marker(name, comment)
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise MarkerError(f"missing the marker lines for '{name}':\n  {begin}\n  {end}")
    return text[: i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]


# ---------------------------------------------------------------------------------------------
# Formatting helpers shared by the tables.


def _cell(text: str) -> str:
    """Make ``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _code(value: Any, as_json: bool = False) -> str:
    """``value`` as inline code: strings as they are (or as JSON with ``as_json``), the rest as JSON."""
    text = value if isinstance(value, str) and not as_json else json.dumps(value)
    return f"`{text}`"


def _prose(text: str) -> str:
    """A docstring or description as one Markdown line (reST ``code`` becomes `code`)."""
    return " ".join(text.replace("``", "`").split())


def _num(x: float) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def _json_default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return str(value)
    return value


def bounds(schema: dict[str, Any]) -> str:
    """The constraints of one JSON-schema node in words: ``0 < x <= 100``, ``2..17 items``, ``length <= 120``."""
    parts: list[str] = []
    lo = ("<=", schema["minimum"]) if "minimum" in schema else ("<", schema.get("exclusiveMinimum"))
    hi = ("<=", schema["maximum"]) if "maximum" in schema else ("<", schema.get("exclusiveMaximum"))
    if lo[1] is not None and hi[1] is not None:
        parts.append(f"{_num(lo[1])} {lo[0]} x {hi[0]} {_num(hi[1])}")
    elif lo[1] is not None:
        parts.append(f"x {'>=' if lo[0] == '<=' else '>'} {_num(lo[1])}")
    elif hi[1] is not None:
        parts.append(f"x {hi[0]} {_num(hi[1])}")
    if "minItems" in schema and "maxItems" in schema:
        parts.append(f"{schema['minItems']}..{schema['maxItems']} items")
    elif "maxItems" in schema:
        parts.append(f"at most {schema['maxItems']} items")
    elif "minItems" in schema:
        parts.append(f"at least {schema['minItems']} items")
    if "minLength" in schema and "maxLength" in schema:
        parts.append(f"length {schema['minLength']}..{schema['maxLength']}")
    elif "maxLength" in schema:
        parts.append(f"length <= {schema['maxLength']}")
    elif "minLength" in schema:
        parts.append(f"length >= {schema['minLength']}")
    if "pattern" in schema:
        parts.append(f"matches {_code(schema['pattern'])}")
    items = schema.get("items")
    if isinstance(items, dict):
        inner = bounds(items)
        if inner:
            parts.append(f"each {inner}")
    for alt in schema.get("anyOf", []):
        if alt.get("type") != "null":
            inner = bounds(alt)
            if inner:
                parts.append(inner)
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Configuration: docs/operations.md's table and .env.example's variable block, from Settings.


def _settings_type(schema: dict[str, Any]) -> str:
    alts = [a for a in schema.get("anyOf", [schema]) if a.get("type") != "null"]
    optional = len(alts) < len(schema.get("anyOf", [schema]))
    names = []
    for alt in alts:
        kind = alt.get("type", "any")
        if alt.get("format") == "path":
            kind = "path"
        elif kind == "array":
            kind = f"JSON list of {alt.get('items', {}).get('type', 'any')}s"
        elif kind == "number":
            kind = "float"
        names.append(kind)
    text = " or ".join(names)
    return f"{text} (optional)" if optional else text


def _settings_rows() -> list[tuple[str, str, str, str, str]]:
    """(variable, type, default, bounds, description) for every field of Settings."""
    from labsettings import Settings

    schema = Settings.model_json_schema()["properties"]
    prefix = Settings.model_config.get("env_prefix", "")
    rows = []
    for name, field in Settings.model_fields.items():
        node = schema[name]
        default = _json_default(field.get_default(call_default_factory=True))
        rows.append(
            (
                f"{prefix}{name}".upper(),
                _settings_type(node),
                "unset" if default is None else _code(default),
                bounds(node),
                field.description or "",
            )
        )
    return rows


def settings_table() -> str:
    """The configuration table: one row per Settings field, as the variable that sets it."""
    lines = [
        "| variable | type | default | bounds | what it does |",
        "|---|---|---|---|---|",
    ]
    for var, kind, default, bound, desc in _settings_rows():
        lines.append(f"| `{var}` | {_cell(kind)} | {_cell(default)} | {_cell(bound)} | {_cell(_prose(desc))} |")
    return "\n".join(lines) + "\n"


def env_block() -> str:
    """.env.example's block: every variable, commented out at its default, with its description."""
    from labsettings import Settings

    out = []
    for var, kind, _default, bound, desc in _settings_rows():
        name = var.removeprefix(str(Settings.model_config.get("env_prefix", "")).upper()).lower()
        default = _json_default(Settings.model_fields[name].get_default(call_default_factory=True))
        if default is None:
            value = ""
        elif isinstance(default, str):
            value = default
        else:
            value = json.dumps(default)
        note = f"{desc} [{kind}{'; ' + bound if bound else ''}]"
        out.append(f"# {note}")
        out.append(f"# {var}={value}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------------------
# The spec's field reference: docs/spec.md, from ExperimentSpec's JSON schema.


def _spec_models() -> dict[str, type[BaseModel]]:
    import noether.spec as spec

    return {n: o for n, o in vars(spec).items() if isinstance(o, type) and issubclass(o, BaseModel)}


def _anchor(name: str) -> str:
    return f"spec-{name.lower()}"


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _spec_type(node: dict[str, Any]) -> str:
    """A JSON-schema node's type in words, linking sub-models to their section."""
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        return f"[{name}](#{_anchor(name)})"
    if "const" in node:
        return _code(node["const"], as_json=True)
    if "enum" in node:
        return "one of " + ", ".join(_code(v, as_json=True) for v in node["enum"])
    if "oneOf" in node:
        members = " | ".join(_spec_type(m) for m in node["oneOf"])
        key = node.get("discriminator", {}).get("propertyName")
        return f"{members} (chosen by `{key}`)" if key else members
    if "anyOf" in node:
        alts = [a for a in node["anyOf"] if a.get("type") != "null"]
        singles = [a for a in alts if not (a.get("type") == "array" and a.get("items") in alts)]
        text = " or ".join(_spec_type(a) for a in singles)
        if len(singles) < len(alts):
            text += ", or a list of them"
        return f"{text} or null" if len(alts) < len(node["anyOf"]) else text
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_spec_type(node.get('items', {}))}"
    return {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean"}.get(kind, kind)


def _walk_refs(node: Any, defs: dict[str, Any], seen: list[str]) -> None:
    """Every $defs name reachable from ``node``, depth first (a sub-model's own sub-models follow it)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = _ref_name(node["$ref"])
            if name not in seen:
                seen.append(name)
                _walk_refs(defs.get(name, {}), defs, seen)
        for key, value in node.items():
            if key != "discriminator":
                _walk_refs(value, defs, seen)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(value, defs, seen)


def _model_section(name: str, node: dict[str, Any], model: type[BaseModel] | None, top: bool) -> list[str]:
    kind = node.get("properties", {}).get("kind", {}).get("const")
    title = f"`{name}`" + (f" (`kind: {kind}`)" if kind else "") + (" (top level)" if top else "")
    lines = [f'<a id="{_anchor(name)}"></a>', "", f"### {title}", ""]
    if node.get("description"):
        lines += [_prose(node["description"]), ""]
    required = set(node.get("required", []))
    lines += ["| field | type | default | bounds | description |", "|---|---|---|---|---|"]
    for field, prop in node.get("properties", {}).items():
        if field in required:
            default = "required"
        elif model is not None and field in model.model_fields:
            value = model.model_fields[field].get_default(call_default_factory=True)
            default = _code(_json_default(value), as_json=True)
        else:
            default = _code(prop["default"], as_json=True) if "default" in prop else ""
        desc = _prose(prop.get("description", ""))
        if not desc and "const" in prop and field == "kind":
            desc = "selects this variant"
        lines.append(
            f"| `{field}` | {_cell(_spec_type(prop))} | {_cell(default)} | {_cell(bounds(prop))} | {_cell(desc)} |"
        )
    return lines + [""]


def spec_reference() -> str:
    """Every field of ExperimentSpec and of each sub-model, in the order the spec reaches them."""
    from noether.spec import ExperimentSpec

    schema = ExperimentSpec.model_json_schema()
    defs = schema.get("$defs", {})
    models = _spec_models()
    order: list[str] = []
    _walk_refs(schema.get("properties", {}), defs, order)
    order += sorted(set(defs) - set(order))
    lines = _model_section("ExperimentSpec", schema, ExperimentSpec, top=True)
    for name in order:
        lines += _model_section(name, defs[name], models.get(name), top=False)
    return "\n".join(lines).rstrip("\n") + "\n"


def spec_limits() -> str:
    """The size limits of ``noether.spec`` (its ``MAX_*`` constants), which the validators quote."""
    import noether.spec as spec

    lines = ["| limit | value |", "|---|---|"]
    for name, value in vars(spec).items():
        if name.startswith("MAX_") and isinstance(value, int):
            lines.append(f"| `{name}` | {value:,} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# docs/laws.md: the whole file, from the law catalogue.


def laws_markdown() -> str | None:
    """docs/laws.md's text from ``noether.laws.docs.render_markdown()``; None while it does not exist.

    HOOK: the laws engineer owns ``noether/laws/docs.py``. Until it provides ``render_markdown()``,
    docs/laws.md is not generated and ``--check`` reports it as skipped rather than stale.
    """
    try:
        module = importlib.import_module("noether.laws.docs")
    except ImportError:
        return None
    render: Callable[[], str] | None = getattr(module, "render_markdown", None)
    if render is None:
        return None
    text = render()
    return text if text.endswith("\n") else text + "\n"


# ---------------------------------------------------------------------------------------------
# Targets and the command.


@dataclass(frozen=True)
class Target:
    """One generated file: its path and how to compute its new text from the current one."""

    path: str
    render: Callable[[str], str | None]  # current text -> new text, or None when its source is missing


def _blocks(*blocks: tuple[str, Callable[[], str], str]) -> Callable[[str], str]:
    def render(text: str) -> str:
        for name, make, comment in blocks:
            text = replace_block(text, name, make(), comment)
        return text

    return render


TARGETS = (
    Target("docs/operations.md", _blocks(("configuration", settings_table, "html"))),
    Target(".env.example", _blocks(("settings", env_block, "hash"))),
    Target("docs/spec.md", _blocks(("spec-limits", spec_limits, "html"), ("spec-reference", spec_reference, "html"))),
    Target("docs/laws.md", lambda _text: laws_markdown()),
)


def run(root: Path, write: bool) -> tuple[list[str], list[str], list[str]]:
    """(stale, skipped, errors): paths whose text differs from what code gives, and why some were not checked."""
    stale, skipped, errors = [], [], []
    for target in TARGETS:
        path = root / target.path
        current = path.read_text() if path.exists() else ""
        try:
            new = target.render(current)
        except MarkerError as exc:
            errors.append(f"{target.path}: {exc}")
            continue
        if new is None:
            skipped.append(target.path)
            continue
        if new != current:
            stale.append(target.path)
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new)
    return stale, skipped, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.docsgen", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated files that are stale")
    mode.add_argument("--check", action="store_true", help="write nothing; exit 1 naming each stale file")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)

    stale, skipped, errors = run(args.root, write=args.write)
    for path in skipped:
        print(f"skipped {path}: noether.laws.docs.render_markdown() does not exist yet", file=sys.stderr)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    if args.write:
        for path in stale:
            print(f"wrote {path}")
        if not stale:
            print("generated docs are up to date")
        return 1 if errors else 0
    for path in stale:
        print(f"stale: {path} differs from what the code generates; run `{COMMAND}` (or `make docs`)", file=sys.stderr)
    if not stale and not errors:
        print("generated docs are up to date")
    return 1 if stale or errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Edit a spec by dotted path (``dynamics.lr``, ``model.widths.1``): the one editor behind overrides and sweeps.

The API's preset overrides (``backend/resolve.py``), sweep grids (``noether.sweep``), the CLI's options and
``ExperimentSpec.with_overrides`` all edit a spec's JSON through ``set_path`` and ``apply``, with one meaning:

- A path names a field of the spec, as its JSON schema knows it; a number part is a list index
  (``model.widths.1``, ``model.activation.0.beta``). An unknown field, an index past a list's end, or a path
  through a number is an ``EditError`` naming the path.
- An object that is missing or null on the way is created (``potential.dim`` on a network spec creates
  ``potential``; validating the edited spec then says what else it needs).
- A number, text or list is replaced whole (``model.widths`` = [64, 128, 10] changes the depth).
- An object is merged into the object already there, field by field, recursively: ``dynamics`` = {"lr": 0.1}
  changes only the learning rate.
- An object with another ``kind`` switches the variant: of the old fields, those the new kind also has are
  kept (unless null: momentum's full batch, ``batch_size`` null, is not SGD's), the others dropped, then the
  new object's fields apply. ``dynamics`` = {"kind": "sgd"} on GD with
  lr 0.07 gives SGD with lr 0.07 (and SGD's own default batch size); NAG -> GD drops ``t0``.
- ``apply`` sets several paths shallow first (``dynamics`` before ``dynamics.lr``), whatever their order, so a
  more specific path always wins.

Nothing here validates values: the edited JSON goes through ``ExperimentSpec`` as any spec does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from noether.spec import SpecError


class EditError(SpecError):
    """A path that does not name a field of the spec; ``path`` is the path as given, ``lines`` one message."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__([f"{path}: {reason}"])


@lru_cache(maxsize=1)
def spec_schema() -> dict[str, Any]:
    """ExperimentSpec's JSON schema (the one ``GET /api/schema/spec`` serves): which fields each kind has."""
    from noether.spec import ExperimentSpec

    return ExperimentSpec.model_json_schema()


def _variants(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The concrete schema nodes behind ``nodes``: references resolved, unions (anyOf, oneOf) flattened."""
    defs = spec_schema().get("$defs", {})
    out: list[dict[str, Any]] = []
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if "$ref" in node:
            stack.append(defs.get(node["$ref"].rsplit("/", 1)[-1], {}))
        elif "anyOf" in node or "oneOf" in node:
            stack.extend(reversed(node.get("anyOf") or node.get("oneOf")))
        else:
            out.append(node)
    return out


def _child(nodes: list[dict[str, Any]], part: str) -> list[dict[str, Any]]:
    """The schema nodes of field (or list index) ``part`` inside any of ``nodes``."""
    out = []
    for node in _variants(nodes):
        if part.isdigit() and node.get("type") == "array" and isinstance(node.get("items"), dict):
            out.append(node["items"])
        elif part in node.get("properties", {}):
            out.append(node["properties"][part])
    return out


def _kind_of(node: dict[str, Any]) -> Any:
    kind = node.get("properties", {}).get("kind", {})
    if "const" in kind:
        return kind["const"]
    return kind["enum"][0] if len(kind.get("enum", ())) == 1 else kind.get("default")


def fields_of_kind(nodes: list[dict[str, Any]], kind: Any) -> set[str] | None:
    """The fields of the variant called ``kind`` among ``nodes`` (None: no variant has that kind)."""
    for node in _variants(nodes):
        if "properties" in node and _kind_of(node) == kind:
            return set(node["properties"])
    return None


def merge(old: Any, new: Any, nodes: list[dict[str, Any]] | None = None) -> Any:
    """``new`` set over ``old`` (the module's rules): objects merge, another ``kind`` keeps the shared fields."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return copy.deepcopy(new)
    nodes = nodes or []
    if "kind" in new and new["kind"] != old.get("kind"):
        shared = fields_of_kind(nodes, new["kind"]) or set()
        old = {k: v for k, v in old.items() if k in shared and k != "kind" and v is not None}
    out = dict(old)
    for key, value in new.items():
        out[key] = merge(old[key], value, _child(nodes, key)) if key in old else copy.deepcopy(value)
    return out


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    return "a number" if isinstance(value, int | float) else f"{type(value).__name__} {str(value)[:20]!r}"


def set_path(spec: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the spec JSON ``spec`` with the field at ``path`` set to ``value`` (the module's rules)."""
    parts = path.split(".") if isinstance(path, str) else []
    if not parts or any(not p for p in parts):
        raise EditError(str(path), "is not a field path such as 'dynamics.lr' or 'model.widths.1'")
    out = copy.deepcopy(dict(spec))
    node: Any = out
    nodes: list[dict[str, Any]] = [spec_schema()]
    for i, part in enumerate(parts):
        where = ".".join(parts[:i]) or "the spec"
        nodes = _child(nodes, part)
        if not nodes:
            raise EditError(path, f"does not name a field of the spec ('{part}' is not a field of {where})")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise EditError(path, f"{where} is a list of {len(node)}: '{part}' is not one of its indices "
                                      f"0 to {len(node) - 1}")
            key: Any = int(part)
        elif isinstance(node, dict):
            key = part
        else:
            raise EditError(path, f"does not name a field of the spec ({where} is {_describe(node)}, not an object)")
        if i == len(parts) - 1:
            node[key] = merge(node[key], value, nodes) if isinstance(node, dict) and key in node else copy.deepcopy(value)
            return out
        if isinstance(node, dict) and node.get(key) is None:
            node[key] = {}
        node = node[key]
    return out  # not reached: the loop returns at the last part


def apply(spec: Mapping[str, Any], edits: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with every ``path: value`` of ``edits`` set, shallow paths first (a deeper one wins)."""
    out = copy.deepcopy(dict(spec))
    for path in sorted(edits, key=lambda p: str(p).count(".")):  # stable: same depth keeps the given order
        out = set_path(out, path, edits[path])
    return out

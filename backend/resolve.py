"""From a request to a validated ExperimentSpec: a spec, or a preset with overrides; errors as FastAPI 422s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from backend.schemas import SpecSource
from noether import edit
from noether.edit import EditError
from noether.spec import ExperimentSpec, SpecError

MAX_PATH_PARTS = 8  # the deepest field of a spec is 4 deep ('model.activation.1.alpha')
MAX_PATH_CHARS = 200
MAX_VALUE_DEPTH = 8  # nesting of one override or grid value ({"model": {"activation": [{"kind": ...}]}} is 4)


def invalid(loc: tuple[Any, ...], msg: str, value: Any = None, kind: str = "value_error") -> RequestValidationError:
    """A 422 naming the field (``loc``), what is wrong with it (``msg``, with the bound) and the value."""
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg, "input": value}])


def relocate(exc: ValidationError, prefix: tuple[Any, ...]) -> RequestValidationError:
    """Pydantic errors of a spec validated inside a route, with their location under ``prefix``."""
    errors = []
    for err in exc.errors(include_url=False):
        err = dict(err)
        err["loc"] = (*prefix, *err.get("loc", ()))
        ctx = err.get("ctx")
        if ctx:
            err["ctx"] = {k: (v if isinstance(v, int | float | str | bool | None) else str(v)) for k, v in ctx.items()}
        errors.append(err)
    return RequestValidationError(errors)


def preset_spec(name: str) -> tuple[ExperimentSpec, Any]:
    """The preset's spec and the preset, or a 422 naming the known presets."""
    from noether import presets

    try:
        preset = presets.get(name)
    except (KeyError, LookupError, ValueError):
        known = ", ".join(p.name for p in presets.all())
        raise invalid(("body", "preset"), f"unknown preset '{name}' (known: {known})", name) from None
    return preset.spec, preset


def check_path(path: str, loc: tuple[Any, ...], value: Any = None) -> None:
    """A dotted field path ('dynamics.lr') of bounded length and depth, or a 422 naming it and the bound."""
    if len(path) > MAX_PATH_CHARS:
        raise invalid(loc[:-1] + (path[:40] + "...",), f"a field path must be at most {MAX_PATH_CHARS} characters "
                      f"(got {len(path)})", value)
    parts = path.split(".")
    if len(parts) > MAX_PATH_PARTS:
        raise invalid(loc, f"a field path must have at most {MAX_PATH_PARTS} parts, such as 'dynamics.lr' "
                      f"(got {len(parts)})", value)
    if any(not p for p in parts):
        raise invalid(loc, f"'{path}' is not a field path such as 'dynamics.lr'", value)


def depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a number or text), counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level + 1)
            if level + 1 <= MAX_VALUE_DEPTH:  # deeper than the bound: no need to look further
                stack.extend((v, level + 1) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def check_value(value: Any, loc: tuple[Any, ...]) -> None:
    """A value nested at most MAX_VALUE_DEPTH deep, or a 422 naming the bound (copying it would not recurse)."""
    if depth(value) > MAX_VALUE_DEPTH:
        raise invalid(loc, f"a value may nest lists and objects at most {MAX_VALUE_DEPTH} deep (got deeper)", "...")


def apply_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with each dotted path of ``overrides`` set by the core's editor (``noether.edit``: objects merge,
    another ``kind`` keeps the fields the new kind also has, deeper paths apply last); a 422 names a bad path."""
    for path, value in overrides.items():
        check_path(path, ("body", "overrides", path), value)
        check_value(value, ("body", "overrides", path))
    try:
        return edit.apply(base, overrides)
    except EditError as exc:
        raise invalid(("body", "overrides", exc.path), exc.reason, overrides.get(exc.path)) from None


def check_data(spec: ExperimentSpec, datasets_dir: Path | None, loc: tuple[Any, ...]) -> None:
    """A file data set must be in the lab's data sets folder now, not only when a worker looks (422 otherwise)."""
    data = spec.data
    if data is None or data.kind != "file":
        return
    from noether.data.files import find_dataset

    try:
        find_dataset(data.name, datasets_dir)
    except SpecError as exc:
        raise invalid((*loc, "data", "name"), "; ".join(line.removeprefix("data.name: ") for line in exc.lines),
                      data.name) from None


def resolve(source: SpecSource, datasets_dir: Path | None = None) -> tuple[ExperimentSpec, str | None]:
    """The spec a request describes and its preset's name (if any); 422 if it is not exactly one, or invalid,
    or (given the lab's ``datasets_dir``) if it reads a file data set that is not there."""
    if (source.spec is None) == (source.preset is None):
        raise invalid(("body",), "give exactly one of 'spec' or 'preset'", None)
    if source.spec is not None:
        spec, preset = source.spec, None
    else:
        spec, _ = preset_spec(source.preset)
        preset = source.preset
    if source.overrides:
        data = apply_overrides(spec.model_dump(mode="json"), source.overrides)
        try:
            spec = ExperimentSpec.model_validate(data)
        except ValidationError as exc:
            raise relocate(exc, ("body", "overrides")) from None
    if datasets_dir is not None:
        check_data(spec, datasets_dir, ("body", "overrides" if source.overrides else "spec"))
    return spec, preset


def laws_for(spec: ExperimentSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The laws that would apply to ``spec`` (id, name, prediction) and those that would not (with why).

    Uses the problem's structure only (no data is loaded); if the catalogue cannot tell without
    building the problem, returns empty lists rather than failing the validation.
    """
    try:
        from noether import laws

        context = laws.make_context(spec)
        applicable, not_applicable = laws.select(spec, context.structure, context)
    except Exception:  # noqa: BLE001 - the core's law selection is advisory here
        return [], []
    apply = [{"id": law.id, "name": law.name, "family": law.family, "symmetry": law.symmetry,
              "prediction": law.prediction} for law in applicable]
    skip = [s.model_dump(mode="json", include={"id", "name", "family", "symmetry", "reason"}) for s in not_applicable]
    return apply, skip

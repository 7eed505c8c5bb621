"""The launch form, generated from the spec's JSON schema (``GET /api/schema/spec``): pure functions.

``section_fields(schema, ...)`` reads field descriptions (type, default, bounds, choices, help) out of
the schema; ``field_component`` turns one into Dash inputs with a pattern id
``{"type": "launch-field", "path": "dynamics.lr"}`` and an error slot beside it; ``build_spec`` turns
the collected values back into a nested spec; ``errors_by_path`` puts the backend's 422 details next to
the field they name. Nothing here checks bounds itself: the backend is the one judge, so the user sees
its exact message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dash import dcc, html

# Variant unions of the spec: a kind chooses the sub-form.
UNIONS = {"data": "data", "potential": "potential", "dynamics": "dynamics"}
TOP_FIELDS = ("steps", "record_every", "seed", "loss", "dtype", "device", "tolerance")
MODEL_FIELDS = ("widths", "activation", "bias", "init", "init_gain", "batch_norm", "batch_norm_eps")
_NONE_MEANS = re.compile(r"\bNone: ([^);]+)")  # what a field's description says its null default means

# One line per dynamics kind for the dropdown. TODO(lead): fill from the core's dynamics descriptors (their label
# and description, issue 11 item 1) through the API once they land; until then this is the one copy.
# The paper's order of the dynamics (Table 1 first, then the rest); kinds the schema adds come after.
DYNAMICS_ORDER = ("gd", "sgd", "momentum", "adam", "nd", "nag", "leapfrog", "rk4", "general")


def kind_texts(schema: dict | None, name: str) -> dict[str, str]:
    """kind -> 'label: description' of a union property, from the core's kind records (``x-label`` and
    ``x-description`` in GET /api/schema/spec): the one place these texts are written."""
    if not schema:
        return {}
    defs = schema.get("$defs", {})
    out = {}
    for kind, ref in variants(schema, name).items():
        node = defs.get(ref, {})
        label, text = node.get("x-label"), node.get("x-description")
        if label:
            out[kind] = f"{label}: {text}" if text else label
    return out


def kind_options(section: str, kinds: list[str], texts: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Dropdown options for a kind picker: the code with its readable label and description (``kind_texts``), in
    the paper's order; typed text searches the code only, so 'sgd' finds sgd and not gd (whose description
    mentions gradient descent)."""
    texts = texts or {}
    order = list(DYNAMICS_ORDER) if section == "dynamics" else []
    kinds = sorted(kinds, key=lambda k: order.index(k) if k in order else len(order))  # gd, sgd, ... as the paper
    # a component label is not searched by Dash's dropdown: only the value and ``search`` (the code) are
    return [{"label": html.Span([html.B(k), f" · {texts[k]}"]) if k in texts else k, "value": k, "search": k}
            for k in kinds]


# Readable names of the spec's fields (the schema's titles are pydantic's, made from the names: "Lr", "T0"). A field's
# own ``x-label`` or an explicit ``title`` in the schema wins; then its path here, then its name; else the name itself.
# The label adds the field's name in brackets where the words do not spell it ("learning rate (lr)"): it is what a
# spec, a sweep and an error message call the field.
LABELS = {
    # model
    "widths": "layer widths", "activation": "activation", "bias": "biases b_h",
    "init": "weight initialisation", "init_gain": "initial weight gain",
    "batch_norm": "BatchNorm after each hidden layer", "batch_norm_eps": "BatchNorm eps",
    # run settings
    "steps": "steps", "record_every": "record every n-th step", "seed": "seed", "loss": "loss", "dtype": "precision",
    "device": "device", "tolerance": "verdict tolerance",
    # initial state
    "position": "initial position w(0)", "velocity": "initial velocity w'(0)",
    "velocity_scale": "initial velocity scale",
    # data
    "samples": "training samples", "normalize": "normalise pixels to 0..1", "name": "file", "target": "target",
    "augment": "rotated copies per sample", "inputs": "input dimension d_0", "classes": "number of classes",
    "separation": "class separation",
    "data.dim": "input dimension d_x",
    # potentials
    "potential.dim": "dimension d of w", "expression": "potential L(w)", "eigenvalues": "eigenvalues lambda_i",
    "radius": "radius r of the minima",
    # dynamics
    "lr": "learning rate", "weight_decay": "weight decay lambda", "batch_size": "batch size",
    "beta": "momentum beta", "beta1": "first-moment decay beta1", "beta2": "second-moment decay beta2",
    "eps": "Adam's eps", "t0": "start time t0", "dt": "time step dt", "k1": "friction k1(t)", "k2": "mass k2(t)",
    "flow": "flow to integrate",
}


def field_label(path: str, node: dict, inner: dict) -> str:
    """A field's readable label: its schema ``x-label`` or explicit ``title``, else ``LABELS`` (by path, then name),
    with the field's name in brackets where the words do not spell it ('learning rate (lr)', 'seed')."""
    name = path.rsplit(".", 1)[-1]
    auto = name.replace("_", " ").title()  # pydantic's title, made from the name: not a label
    for n in (node, inner):
        if n.get("x-label"):
            words = n["x-label"]
            break
        if n.get("title") and n["title"] != auto:
            words = n["title"]
            break
    else:
        words = LABELS.get(path) or LABELS.get(name) or name.replace("_", " ")
    return words if words.replace(" ", "_") == name else f"{words} ({name})"


@dataclass
class FieldSpec:
    """One input of the form: where its value goes in the spec and how to show it."""

    path: str
    label: str
    type: str  # integer, number, boolean, string, enum, list (of numbers), widths, activation
    default: Any = None
    enum: list[Any] = field(default_factory=list)
    bounds: str = ""
    help: str = ""
    optional: bool = False


def _resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    if ref:
        return schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
    return node


def _non_null(node: dict) -> tuple[dict, bool]:
    """The non-null alternative of an ``anyOf [X, null]`` and whether null is allowed."""
    alts = node.get("anyOf")
    if not alts:
        return node, False
    rest = [a for a in alts if a.get("type") != "null"]
    return (rest[0] if len(rest) == 1 else {"anyOf": rest}), len(rest) < len(alts)


def variants(schema: dict, name: str) -> dict[str, str]:
    """kind -> definition name of a discriminated union property (``dynamics``, ``data``, ``potential``)."""
    node, _ = _non_null(schema.get("properties", {}).get(name, {}))
    mapping = node.get("discriminator", {}).get("mapping", {})
    return {kind: ref.rsplit("/", 1)[-1] for kind, ref in mapping.items()}


def describe_bounds(node: dict) -> str:
    parts = []
    if "exclusiveMinimum" in node:
        parts.append(f"> {node['exclusiveMinimum']:g}")
    if "minimum" in node:
        parts.append(f">= {node['minimum']:g}")
    if "exclusiveMaximum" in node:
        parts.append(f"< {node['exclusiveMaximum']:g}")
    if "maximum" in node:
        parts.append(f"<= {node['maximum']:g}")
    return ", ".join(parts)


def field_spec(schema: dict, path: str, node: dict) -> FieldSpec:
    """The FieldSpec of one schema property."""
    name = path.rsplit(".", 1)[-1]
    node = _resolve(schema, node)
    inner, optional = _non_null(node)
    inner = _resolve(schema, inner)
    label = field_label(path, node, inner)
    help_text = node.get("description") or inner.get("description") or ""
    default = node.get("default", inner.get("default"))
    if name == "batch_norm":  # bool | list[bool]: a checkbox, or one flag per hidden layer when the spec lists them
        ftype = "flags"
    elif name == "activation":
        ftype = "activation"
    elif name == "widths":
        ftype = "widths"
    elif "enum" in inner:
        return FieldSpec(path, label, "enum", default, list(inner["enum"]), "", help_text, optional)
    elif inner.get("type") == "array":
        ftype = "list"
    elif inner.get("type") in ("integer", "number", "boolean", "string"):
        ftype = inner["type"]
    else:
        ftype = "string"
    return FieldSpec(path, label, ftype, default, [], describe_bounds(inner), help_text, optional)


def section_fields(schema: dict, def_name: str | None, prefix: str, only: tuple[str, ...] | None = None) -> list[FieldSpec]:
    """FieldSpecs of a definition's properties (all but ``kind``), with paths under ``prefix``."""
    if def_name is None and prefix:
        return []  # a variant that is not chosen (yet)
    node = schema if def_name is None else schema.get("$defs", {}).get(def_name, {})
    props = node.get("properties", {})
    names = [n for n in (only or props) if n in props and n != "kind"]
    return [field_spec(schema, f"{prefix}.{n}" if prefix else n, props[n]) for n in names]


def _show(value: Any, ftype: str) -> Any:
    if value is None:
        return ""
    if ftype == "widths" and isinstance(value, list):
        return "-".join(str(v) for v in value)
    if ftype == "list" and isinstance(value, list):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if ftype == "flaglist" and isinstance(value, list):
        return ", ".join(_value_text(v) if isinstance(v, bool) else str(v) for v in value)
    if ftype == "activation":
        if isinstance(value, list):
            return ", ".join(_act_text(a) for a in value)
        return _act_text(value)
    return value


def _act_text(a: Any) -> str:
    if isinstance(a, str):
        return a
    if not isinstance(a, dict):
        return "relu"
    kind = a.get("kind", "relu")
    args = [a[k] for k in ("alpha", "p", "beta", "c") if k in a]
    if kind == "swish" and a.get("trainable") is False:
        args.append("fixed")
    return f"{kind}({', '.join(f'{x:g}' if isinstance(x, float) else str(x) for x in args)})" if args else kind


def field_component(f: FieldSpec, value: Any = None) -> html.Div:
    """A labelled input for one field, with its bounds as a hint and an empty error slot.

    ``value`` None leaves the input empty: the spec's default applies, and the placeholder says which. So the
    form shows exactly the spec it was given, and collecting it gives that spec back.
    """
    fid = {"type": "launch-field", "path": f.path, "as": f.type}
    shown = _show(value, f.type)
    default = _show(f.default, f.type) if f.default is not None else ""
    if f.type == "flags":  # one flag for every hidden layer (a checkbox), or a flag per layer as a list
        per_layer = isinstance(value, list)
        fid = {**fid, "as": "flaglist" if per_layer else "boolean"}
        f = FieldSpec(f.path, f.label, "flaglist" if per_layer else "boolean", f.default, f.enum, f.bounds, f.help,
                      f.optional)
        shown = _show(value, f.type)
    if f.type == "boolean":
        control = dcc.Checklist(id=fid, options=[{"label": " yes", "value": "yes"}],
                                value=["yes"] if (f.default if value is None else value) is True else [],
                                className="check")
    elif f.type == "enum":
        control = dcc.Dropdown(id=fid, options=[{"label": str(o), "value": o} for o in f.enum],
                               value=shown if shown != "" else None, clearable=f.optional or default != "",
                               placeholder=f"empty: the default, {default}" if default != "" else None)
    else:
        placeholder = {"widths": "e.g. 64-16-10", "activation": "relu, or one per layer: relu, repu(2)",
                       "list": "comma-separated numbers",
                       "flaglist": "one per hidden layer: yes, no"}.get(f.type, f.bounds or "")
        if default != "":
            placeholder = f"empty: the default, {default}"  # what an empty field runs with
        elif _NONE_MEANS.search(f.help):  # "None: full batch" -> "empty: full batch"
            placeholder = f"empty: {_NONE_MEANS.search(f.help).group(1).strip()}"
        control = dcc.Input(id=fid, type="text", value=shown, placeholder=placeholder, debounce=True,
                            className="input")
    hint = " · ".join(x for x in (f.bounds, f.help) if x)
    return html.Div(
        className="field",
        id=field_box_id(f.path),
        children=[
            html.Label(f.label, className="field-label", title=f.help),
            control,
            html.Div(hint, className="field-hint") if hint else None,
            html.Div(id={"type": "launch-error", "path": f.path}, className="field-error"),
        ],
    )


def field_box_id(path: str) -> str:
    """The id of a field's box, for links that scroll to it ('launch-box-dynamics-lr')."""
    return "launch-box-" + path.replace(".", "-").replace("_", "-")


def _number(text: Any, integer: bool) -> Any:
    if isinstance(text, int | float):
        return text
    s = str(text).strip()
    try:
        return int(s) if integer else float(s)
    except ValueError:
        try:
            v = float(s)
            return int(v) if integer and v.is_integer() else v
        except ValueError:
            return s  # let the backend say what is wrong with it


def convert(value: Any, ftype: str) -> Any:
    """A form value to its JSON value; empty means 'leave it out' (the spec's default)."""
    if ftype == "boolean":
        return bool(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if ftype == "integer":
        return _number(value, True)
    if ftype == "number":
        return _number(value, False)
    if ftype == "widths":
        return [_number(v, True) for v in str(value).replace("-", ",").split(",") if v.strip()]
    if ftype == "list":
        return [_number(v, False) for v in str(value).replace(";", ",").split(",") if v.strip()]
    if ftype == "activation":
        parts = _split_top(str(value))
        return parts[0] if len(parts) == 1 else parts
    if ftype == "flaglist":
        return [_FLAGS.get(v.strip().lower(), v.strip()) for v in str(value).replace(";", ",").split(",") if v.strip()]
    return value


# A per-layer flag as typed ('yes, no'); anything else goes to the backend as typed, which says what is wrong.
_FLAGS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False, "1": True, "0": False}


def _split_top(text: str) -> list[str]:
    """'relu, repu(2), swish(1, fixed)' -> ['relu', 'repu(2)', 'swish(1, fixed)']."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def build_spec(values: dict[str, tuple[Any, str]], kinds: dict[str, str | None]) -> dict[str, Any]:
    """A nested spec from ``{path: (value, type)}`` and the chosen kinds (``{"dynamics": "nd", ...}``)."""
    spec: dict[str, Any] = {}
    for section, kind in kinds.items():
        if kind:
            spec.setdefault(section, {})["kind"] = kind
    for path, (raw, ftype) in values.items():
        value = convert(raw, ftype)
        if value is None:
            continue
        parts = path.split(".")
        if parts[0] in kinds and not kinds[parts[0]]:
            continue  # a section that is switched off (data for a potential, and so on)
        node = spec
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return spec


def loc_path(loc: list[Any], known: set[str]) -> str | None:
    """The form path a 422 ``loc`` names: ``["body", "spec", "dynamics", "nd", "lr"]`` -> ``dynamics.lr``.

    Discriminator tags (``nd``) and list indices that pydantic adds are skipped: a known path matches
    when its parts appear in order in ``loc``, starting with its first part. The longest match wins.
    """
    parts = [str(p) for p in loc if not isinstance(p, int)]
    while parts and parts[0] in ("body", "spec", "overrides"):
        parts = parts[1:]
    if not parts:
        return None
    best = None
    for path in known:
        segs = path.split(".")
        if segs[0] != parts[0]:
            continue
        it = iter(parts)
        if all(any(seg == p for p in it) for seg in segs) and (best is None or len(segs) > len(best.split("."))):
            best = path
    return best


def errors_by_path(detail: Any, known: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split a 422 ``detail`` into messages per form field and the rest (said at the top of the form)."""
    by_path: dict[str, list[str]] = {}
    rest: list[str] = []
    items = detail if isinstance(detail, list) else [detail]
    for err in items:
        if not isinstance(err, dict):
            rest.append(str(err))
            continue
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        got = err.get("input")
        if err.get("type") not in ("missing", "value_error") and isinstance(got, int | float | str) and str(got) not in msg:
            msg += f" (got {got!r})"
        path = loc_path(list(err.get("loc", ())), known) or _path_in_message(msg, known)
        if path:
            by_path.setdefault(path, []).append(msg)
        else:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
            rest.append(f"{loc}: {msg}" if loc else msg)
    return by_path, rest


def _path_in_message(msg: str, known: set[str]) -> str | None:
    """A model-level error names its field in the text ('model.widths[0] must equal ...')."""
    head = msg.split(" ", 1)[0].split("[", 1)[0].rstrip(":")
    return head if head in known else None


def kind_fields(schema: dict, section: str, kind: str | None) -> dict[str, Any]:
    """The fields of ``section``'s variant ``kind`` (all but ``kind``) with their defaults; {} for an unknown kind."""
    node = schema.get("$defs", {}).get(variants(schema, section).get(kind or ""), {})
    return {name: field_spec(schema, f"{section}.{name}", prop).default
            for name, prop in node.get("properties", {}).items() if name != "kind"}


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, float) else str(value)


def switch_kind(spec: dict[str, Any], section: str, kind: str, schema: dict) -> tuple[dict[str, Any], str]:
    """The form's spec with ``section``'s kind switched to ``kind``, and a sentence saying what that changed.

    The core's editor's rule (``noether.edit``): of the old fields, those the new kind also has keep their values
    (lr stays lr; a null one is not kept), the others are dropped; the fields only the new kind has appear with their defaults. Nothing
    outside ``section`` changes.
    """
    old = dict(spec.get(section) or {})
    old_kind = old.get("kind")
    new_fields, old_fields = kind_fields(schema, section, kind), kind_fields(schema, section, old_kind)
    switched = {"kind": kind, **{k: v for k, v in old.items() if k in new_fields and v is not None}}
    added, empty = [], []
    for name, default in new_fields.items():
        if name in old_fields or name in switched:
            continue
        if default is None:
            empty.append(name)
        else:
            switched[name] = default
            added.append(f"{name} = {_value_text(default)}")
    dropped = [f"{k} = {_value_text(v)}" for k, v in old.items() if k != "kind" and k not in new_fields]
    out = {**spec, section: switched}
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if empty:
        parts.append("added " + ", ".join(empty) + " (empty: the default)")
    if dropped:
        parts.append("dropped " + ", ".join(dropped) + f" ({kind} has no such field)")
    said = " and ".join(parts) if parts else "kept every field"
    return out, f"Switching {section} from {old_kind} to {kind} {said}."


def data_shape(data: dict[str, Any], schema: dict) -> tuple[int, int] | None:
    """(d_x, d_y) a network on ``data`` must have (the core's ``noether.spec.data_shape``, which the dashboard may
    not import; a test keeps the two equal), with the schema's defaults for what ``data`` leaves out."""
    kind = data.get("kind")
    values = {**kind_fields(schema, "data", kind), **data}
    shapes = {"digits": lambda: (64, 10), "file": lambda: (784, 10),
              "synthetic": lambda: (values.get("inputs"), values.get("classes")),
              "rotation": lambda: (values.get("dim"), 1 if values.get("target") == "radius" else 2)}
    shape = shapes[kind]() if kind in shapes else None
    return shape if shape and all(isinstance(n, int) for n in shape) else None


def fit_widths(spec: dict[str, Any], old_data: dict[str, Any], schema: dict) -> tuple[dict[str, Any], str]:
    """After a data switch: the network's first and last widths, where they fitted the old data, fitted to the new
    data's input and output sizes (they depend on the data; the hidden widths do not), and a sentence."""
    widths = (spec.get("model") or {}).get("widths")
    old, new = data_shape(old_data, schema), data_shape(spec.get("data") or {}, schema)
    if not (isinstance(widths, list) and len(widths) >= 2 and old and new and old != new):
        return spec, ""
    fitted = list(widths)
    if widths[0] == old[0]:
        fitted[0] = new[0]
    if widths[-1] == old[1]:
        fitted[-1] = new[1]
    if fitted == widths:
        return spec, ""
    text = "-".join(str(w) for w in fitted)
    return ({**spec, "model": {**spec["model"], "widths": fitted}},
            f"The widths follow the data's input and output sizes: {text}.")


NETWORK_SECTIONS = ("model", "data")
POTENTIAL_SECTIONS = ("potential",)
POTENTIAL_INITIAL = ("position", "velocity")  # initial fields that apply to potentials only


def switch_problem(spec: dict[str, Any], problem: str, aside: dict[str, Any], defaults: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The spec for the other problem (a network on data, or a point in a potential), what is set aside, and a
    sentence: the sections of the problem left are kept aside (``aside``) and come back on switching back;
    missing sections come from ``defaults``. Dynamics, steps and the rest stay."""
    out, aside = dict(spec), dict(aside or {})
    leave, take = (POTENTIAL_SECTIONS, NETWORK_SECTIONS) if problem == "network" else (NETWORK_SECTIONS,
                                                                                        POTENTIAL_SECTIONS)
    for name in leave:
        if out.get(name) is not None:
            aside[name] = out.pop(name)
        out.pop(name, None)
    initial = dict(out.get("initial") or {})
    if problem == "network":
        aside["initial"] = {k: initial.pop(k) for k in POTENTIAL_INITIAL if initial.get(k) is not None}
    else:
        initial.update(aside.pop("initial", None) or {})
    if initial or "initial" in out:
        out["initial"] = initial
    for name in take:
        out[name] = aside.pop(name, None) or defaults.get(name)
    what = "a network on data" if problem == "network" else "a point in a potential"
    return out, aside, (f"Switching to {what} set {' and '.join(leave)} aside (they come back if you switch back); "
                        "dynamics and the run settings stay.")

"""A readable name for a run, made from its spec: what a researcher would write in a lab notebook.

``describe(spec)`` gives e.g. ``swish(1) 64-128-128-10 · sgd lr 0.05 · batch 32`` for a network and
``sphere potential in R^3 · nd lr 0.0001`` for a potential; ``configuration(spec)`` the same facts as
labelled rows (model, data, loss, dynamics with every coefficient, steps, seed, dtype, device) for a
configuration panel. Both take the spec as a dict (as stored in a job record) or an ``ExperimentSpec``.
"""

from __future__ import annotations

from typing import Any

DYNAMICS_NAMES = {
    "gd": "gradient descent (Euler step of gradient flow)",
    "sgd": "stochastic gradient descent (minibatches)",
    "momentum": "heavy-ball momentum",
    "adam": "Adam",
    "nd": "Newtonian dynamics w'' = -grad L",
    "nag": "Nesterov's accelerated gradient",
    "leapfrog": "leapfrog (velocity Verlet) for Newtonian dynamics",
    "rk4": "classical Runge-Kutta 4 on a flow",
    "general": "general dynamics k1(t) w' + k2(t) w'' = -grad L",
}


def _as_dict(spec: Any) -> dict[str, Any]:
    return spec.model_dump(mode="json") if hasattr(spec, "model_dump") else dict(spec or {})


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def activation_text(act: Any) -> str:
    """``relu``, ``swish(1)``, ``leaky_relu(0.01)``, ``repu(2)``; a per-layer list joined with '/'."""
    if isinstance(act, list):
        texts = [activation_text(a) for a in act]
        return texts[0] if len(set(texts)) == 1 else "/".join(texts)
    if isinstance(act, str):
        return act
    act = act or {}
    kind = act.get("kind", "relu")
    arg = next((act[k] for k in ("beta", "alpha", "p", "c") if k in act), None)
    if arg is None or kind == "linear" and arg == 1.0:
        return kind
    return f"{kind}({_num(arg)})"


def model_text(spec: dict[str, Any]) -> str:
    """What is trained: the network (activation and widths) or the potential."""
    model = spec.get("model")
    if model:
        text = f"{activation_text(model.get('activation'))} {'-'.join(str(w) for w in model.get('widths') or [])}"
        bn = model.get("batch_norm")
        return text + (" +bias" if model.get("bias") else "") + (" +batchnorm" if bn is True or (bn and any(bn)) else "")
    pot = spec.get("potential") or {}
    kind = pot.get("kind", "?")
    if pot.get("expression"):
        return f"L = {pot['expression']}"
    dim = pot.get("dim") or len(pot.get("eigenvalues") or []) or "?"
    return f"{kind} potential in R^{dim}"


def dynamics_text(dyn: dict[str, Any]) -> str:
    """``sgd lr 0.05 · batch 32``: the kind with the coefficients that set it apart."""
    kind = dyn.get("kind", "gd")
    parts = [kind]
    if "lr" in dyn:
        parts[0] += f" lr {_num(dyn['lr'])}"
    if "dt" in dyn:
        parts[0] += f" dt {_num(dyn['dt'])}"
    if kind == "sgd" and dyn.get("batch_size"):
        parts.append(f"batch {dyn['batch_size']}")
    if kind == "momentum" and "beta" in dyn:
        parts.append(f"beta {_num(dyn['beta'])}")
    if kind in ("nag", "general", "rk4") and dyn.get("t0"):
        parts.append(f"t0 {_num(dyn['t0'])}")
    if kind == "general" or kind == "rk4" and dyn.get("flow") == "general":
        parts.append(f"k1 {dyn.get('k1')}, k2 {dyn.get('k2')}")
    elif kind == "rk4":
        parts.append(f"flow {dyn.get('flow', 'gf')}")
    if dyn.get("weight_decay"):
        parts.append(f"wd {_num(dyn['weight_decay'])}")
    return " · ".join(parts)


def is_lab_spec(s: dict[str, Any]) -> bool:
    """Whether a stored spec is one of the lab's (a network or a potential), not a free-form description such as
    a watched loop's (``noether.watch``: model class, optimiser, laws found)."""
    return isinstance(s.get("model") or {}, dict) and isinstance(s.get("dynamics") or {}, dict) \
        and isinstance(s.get("potential") or {}, dict)


def _free_form(s: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(k), v if isinstance(v, str) else repr(v)) for k, v in s.items()
            if isinstance(v, str | int | float | bool)][:12]


def describe(spec: Any) -> str:
    """One line that says what the run is (at most 120 characters)."""
    s = _as_dict(spec)
    if not is_lab_spec(s):
        return " · ".join(str(s[k]) for k in ("model", "optimizer", "script") if isinstance(s.get(k), str))[:120]
    return f"{model_text(s)} · {dynamics_text(s.get('dynamics') or {})}"[:120]


def configuration(spec: Any) -> list[tuple[str, str]]:
    """(label, value) rows for a configuration panel: every field that decides what ran."""
    s = _as_dict(spec)
    if not is_lab_spec(s):
        return _free_form(s)
    rows: list[tuple[str, str]] = []
    model = s.get("model")
    if model:
        rows.append(("model", f"MLP {'-'.join(str(w) for w in model.get('widths') or [])}, activation "
                              f"{activation_text(model.get('activation'))}, bias {'yes' if model.get('bias') else 'no'},"
                              f" init {model.get('init')} x {_num(model.get('init_gain', 1.0))}"))
        bn = model.get("batch_norm")
        if bn is True or (bn and any(bn)):
            where = "every hidden layer" if bn is True else "hidden layer " + ", ".join(
                str(h) for h, on in enumerate(bn, 1) if on)
            rows.append(("batch norm", f"after {where}, no affine parameters, eps {_num(model.get('batch_norm_eps', 0.0))}"))
        data = s.get("data") or {}
        fields = ", ".join(f"{k} {_num(v)}" for k, v in data.items() if k != "kind")
        rows.append(("data", f"{data.get('kind')}: {fields}" if fields else str(data.get("kind"))))
        rows.append(("loss", str(s.get("loss"))))
    else:
        pot = s.get("potential") or {}
        rows.append(("potential", f"{pot.get('kind')}: " + ", ".join(f"{k} {v}" for k, v in pot.items() if k != "kind")))
    dyn = s.get("dynamics") or {}
    coeffs = ", ".join(f"{k} {_num(v)}" for k, v in dyn.items() if k != "kind")
    rows.append(("dynamics", f"{dyn.get('kind')} ({DYNAMICS_NAMES.get(dyn.get('kind'), dyn.get('kind'))})"
                             + (f": {coeffs}" if coeffs else "")))
    initial = {k: v for k, v in (s.get("initial") or {}).items() if v not in (None, [], {})}
    if initial:
        rows.append(("initial", ", ".join(f"{k} {v}" for k, v in initial.items())))
    rows.append(("steps", f"{s.get('steps')} (recorded every {s.get('record_every', 1)})"))
    rows.append(("seed", str(s.get("seed"))))
    rows.append(("dtype", str(s.get("dtype"))))
    rows.append(("device asked", str(s.get("device"))))
    return rows


def overview(spec: Any) -> dict[str, Any]:
    """The few facts a table of runs shows in columns: model, widths, activation, dynamics, lr, steps."""
    s = _as_dict(spec)
    if not is_lab_spec(s):
        return {"model": describe(s), "widths": None, "activation": None, "dynamics": None, "lr": None,
                "steps": None}
    model = s.get("model") or {}
    dyn = s.get("dynamics") or {}
    return {
        "model": model_text(s),
        "widths": "-".join(str(w) for w in model.get("widths") or []) or None,
        "activation": activation_text(model.get("activation")) if model else None,
        "dynamics": dyn.get("kind"),
        "lr": dyn.get("lr", dyn.get("dt")),
        "steps": s.get("steps"),
    }

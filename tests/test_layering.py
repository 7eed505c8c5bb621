"""The one-way dependencies of CONTRIBUTING.md, checked on every module's imports (AST, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level modules it must never import
FORBIDDEN = {
    "noether": {"redis", "rq", "fastapi", "starlette", "uvicorn", "dash", "plotly", "httpx", "workers", "backend",
                "dashboard", "lab"},
    "workers": {"fastapi", "starlette", "dash", "plotly", "backend", "dashboard"},
    "backend": {"dash", "plotly", "dashboard"},
    "dashboard": {"noether", "workers", "backend", "torch", "redis", "rq"},
    # noether.watch's HTTP client and figures: may use httpx, plotly and dashboard.figures, never the servers
    "noether_remote": {"redis", "rq", "fastapi", "starlette", "uvicorn", "dash", "workers", "backend", "lab"},
}
ALLOWED_LAB = {"lab.settings"}  # the leaf every part may import


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def cases():
    for package in FORBIDDEN:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield pytest.param(package, path, id=str(path.relative_to(ROOT)))


@pytest.mark.parametrize("package, path", list(cases()))
def test_module_imports_only_what_its_layer_may(package, path):
    bad = []
    for name in imports(path):
        top = name.split(".")[0]
        if top == "lab" and package != "noether" and (name in ALLOWED_LAB or name == "lab"):
            continue
        if top in FORBIDDEN[package]:
            bad.append(name)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}, which the {package}/ layer must not"

"""The one-way dependencies of CONTRIBUTING.md, checked on every module's imports (AST, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level modules it must never import
PROJECT = {"noether", "noether_remote", "workers", "backend", "dashboard", "lab", "labsettings"}
FORBIDDEN = {
    "noether": {"redis", "rq", "fastapi", "starlette", "uvicorn", "dash", "plotly", "httpx", "workers", "backend",
                "dashboard", "lab", "labsettings"},
    "workers": {"fastapi", "starlette", "dash", "plotly", "backend", "dashboard", "lab"},
    "backend": {"dash", "plotly", "dashboard", "lab"},
    "dashboard": {"noether", "workers", "backend", "torch", "redis", "rq", "lab"},
    # noether.watch's HTTP client and figures: may use httpx, plotly and dashboard.figures, never the servers
    "noether_remote": {"redis", "rq", "fastapi", "starlette", "uvicorn", "dash", "workers", "backend", "lab",
                       "labsettings"},
    # the settings: a leaf below everything, importing nothing of the lab
    "labsettings": PROJECT - {"labsettings"},
}
# package -> {another package: the only modules of it this one may import} (workers.client: the job system's one door)
ONLY = {"backend": {"workers": {"workers.client"}}}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from a import b` reaches a.b
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
        if top in FORBIDDEN[package]:
            bad.append(name)
        elif top in ONLY.get(package, {}) and not any(name == m or name.startswith(m + ".")
                                                        for m in ONLY[package][top]):
            bad.append(name)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}, which the {package}/ layer must not"


def test_the_rules_see_every_package_of_the_lab():
    """A new top-level package gets a rule here (else it could import anything unseen)."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages - {"lab"} <= set(FORBIDDEN), sorted(packages - {"lab"} - set(FORBIDDEN))


@pytest.mark.parametrize("path", sorted((ROOT / "backend" / "routes").glob("*.py")), ids=lambda p: p.name)
def test_a_route_module_imports_no_other_route_module(path):
    """Routes stay thin and apart: what two of them share lives in a module of its own (backend.submission,
    backend.deps, backend.schemas), never in a route module the other imports."""
    routes = sorted(n for n in imports(path) if n.startswith("backend.routes"))
    assert not routes, f"{path.relative_to(ROOT)} imports {routes}"

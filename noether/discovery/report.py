"""A DiscoveryResult as text: what was searched, the laws found (named or new), and their verdicts in a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from noether.discovery.result import DiscoveryResult

VERDICT_STYLE = {"holds": "green", "broken": "red", "not applicable": "dim"}


def _g(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def laws_table(result: DiscoveryResult) -> Table:
    """One row per discovered law: kind, level, how many, the quantity, catalogue match or new, residual."""
    table = Table(title="discovered laws", title_justify="left")
    for col, kw in (
        ("id", {"no_wrap": True}),
        ("kind", {}),
        ("level", {}),
        ("n", {"justify": "right"}),
        ("quantity", {"ratio": 1, "min_width": 30}),
        ("catalogue", {}),
        ("residual", {"justify": "right"}),
    ):
        table.add_column(col, **kw)
    for law in result.laws:
        match = ", ".join(law.matches) if law.matches else ("[yellow]new[/yellow]" if law.new else "-")
        res = _g(law.residual) + (f" (z {law.zscore:.2g})" if law.zscore is not None else "")
        name = law.name + (f"\n[dim]{law.note}[/dim]" if law.note else "")
        table.add_row(law.id, law.kind, law.level, str(law.count), name, match, res)
    return table


def verification_table(result: DiscoveryResult) -> Table:
    """The discovered laws' summaries from the verification run, in the catalogue's form."""
    title = f"verification: {result.verification_steps} steps, {result.verification_status or '-'}"
    table = Table(title=title, title_justify="left")
    for col, kw in (
        ("law", {"no_wrap": True}),
        ("prediction", {"ratio": 1, "min_width": 24}),
        ("max rel. drift", {"justify": "right"}),
        ("verdict", {}),
        ("tol.", {"justify": "right"}),
    ):
        table.add_column(col, **kw)
    for s in result.verification:
        style = VERDICT_STYLE.get(s.verdict, "")
        prediction = s.prediction if s.verdict != "not applicable" else (s.reason or s.prediction)
        table.add_row(s.id, prediction, _g(s.max_rel_drift), f"[{style}]{s.verdict}[/{style}]", _g(s.tolerance))
    return table


def print_result(console: Console, result: DiscoveryResult) -> None:
    """Header, laws and verification, for ``noether discover``."""
    cands = ", ".join(f"{k} {v}" for k, v in result.candidates.items())
    eqs = ", ".join(f"{k} {v}" for k, v in result.equations.items())
    console.print(f"[bold]{result.name or 'spec'}[/bold]: {result.parameters} parameters; candidates: {cands}", highlight=False)
    tol = f"tolerance {result.tolerance:g} (RMS cosine of grad L with A w)"
    if result.data_tolerance is not None:
        tol += f"; data symmetries: cosine <= {result.data_tolerance:g} and z <= {result.z_max:g}"
    gap = ", ".join(f"{k} {_g(v)}" for k, v in result.gap.items())
    console.print(f"equations: {eqs}; {tol}; smallest rejected: {gap}", highlight=False)
    console.print(
        f"found {result.generators} generator(s): {result.symmetric} symmetric, {result.antisymmetric} antisymmetric, "
        f"{result.mixed} neither (closed under transposition: {'yes' if result.closed_under_transposition else 'no'})",
        highlight=False,
    )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)
    if result.laws:
        console.print(laws_table(result))
    if result.verification:
        console.print(verification_table(result))
    total = result.timing.get("total_s")
    search = result.timing.get("search_total_s")
    if total is not None:
        console.print(f"time: {total:.2f} s (search {_g(search)} s)", highlight=False)

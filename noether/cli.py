"""The core's commands of ``noether``: run a spec or a preset, list presets, list the law catalogue.

    noether run SPEC.json|SPEC.yaml [--steps N] [--seed S] [--device D] [--out DIR]
    noether run --preset fig1-gd
    noether presets [NAME]
    noether laws
    noether discover SPEC|--preset NAME [--steps N] [--json] [--out FILE]

``app`` is a module-level Typer app; ``lab.cli`` adds the service commands (worker, api, up) to it.
Bad input exits with status 2 and one line per problem naming the field; a diverged or cancelled run
exits with status 1 after writing what it has.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from noether import edit
from noether.spec import ExperimentSpec, SpecError, load_spec, parse_spec
from noether.summary import RunSummary

app = typer.Typer(
    name="noether",
    help="Noether Lab: conservation laws of neural-network training, measured.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()  # a pipe or file gets 140 columns (see _report), a terminal its own width
err = Console(stderr=True)
PIPE_WIDTH = 140

EXIT_BAD_INPUT = 2
EXIT_NOT_SUCCEEDED = 1


def default_data_root() -> Path:
    """NOETHER_DATA_DIR/datasets (the lab's setting, read here without importing the services)."""
    return Path(os.environ.get("NOETHER_DATA_DIR", "data")) / "datasets"


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "run"


def _with_overrides(spec: ExperimentSpec, changes: dict[str, Any]) -> ExperimentSpec:
    """The spec with the options the user gave (None: not given) set by the one spec editor (noether.edit)."""
    return parse_spec(edit.apply(spec.model_dump(mode="json"), {k: v for k, v in changes.items() if v is not None}))


def _parse_sets(items: list[str]) -> dict[str, Any]:
    """``--set path=value`` options as {path: value}; the value is read as JSON (never eval'd), else as text."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise SpecError([f"--set: expected PATH=VALUE such as dynamics.lr=0.05 (got {item!r})"])
        try:
            out[path.strip()] = json.loads(text)
        except json.JSONDecodeError:
            out[path.strip()] = text
    return out


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}"


VERDICT_STYLE = {"holds": "green", "broken": "red", "not applicable": "dim"}


def verdict_table(summary: RunSummary, title: str = "") -> Table:
    """The summary's laws as a rich table: law, prediction, initial, final, drift, verdict, tolerance."""
    table = Table(title=title or None, title_justify="left", show_lines=False)
    for col, kw in (
        ("law", {"no_wrap": True}),
        ("prediction", {"ratio": 1, "min_width": 24}),
        ("initial", {"justify": "right", "no_wrap": True}),
        ("final", {"justify": "right", "no_wrap": True}),
        ("max rel. drift", {"justify": "right", "no_wrap": True}),
        ("verdict", {"no_wrap": True}),
        ("tol.", {"justify": "right", "no_wrap": True}),
    ):
        table.add_column(col, **kw)
    for law in summary.laws:
        style = VERDICT_STYLE.get(law.verdict, "")
        prediction = law.prediction if law.verdict != "not applicable" else (law.reason or law.prediction)
        table.add_row(
            escape(law.id),
            escape(prediction),
            _fmt(law.initial),
            _fmt(law.final),
            _fmt(law.max_rel_drift),
            f"[{style}]{law.verdict}[/{style}]" if style else law.verdict,
            _fmt(law.tolerance),
        )
    return table


def run_one(spec: ExperimentSpec, out: Path, data_root: Path | None, *, quiet: bool = False, label: str = "") -> RunSummary:
    """Run ``spec`` with a progress bar, write series, summary and spec into ``out``, return the summary."""
    from noether.io import write_run
    from noether.simulate import simulate

    sim = simulate(spec, data_root=data_root)
    records = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, disable=quiet, transient=False) as progress:
        task = progress.add_task(label or spec.name or "run", total=spec.steps)
        try:
            for record in sim:
                records.append(record)
                progress.update(task, completed=record["step"])
        except KeyboardInterrupt:
            sim.stop()
            sim.status = "cancelled"
    summary = sim.summary
    write_run(out, spec, records, summary)
    return summary


def _report(summary: RunSummary, out: Path, title: str) -> None:
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    if summary.laws:
        console.print(verdict_table(summary, title))
    else:
        console.print(f"{title}: no law of the catalogue applies to this spec", highlight=False)
    line = f"{summary.status}: {summary.steps_done}/{summary.steps} steps, t = {summary.t_final:.4g}"
    if summary.loss_final is not None:
        line += f", loss {summary.loss_initial:.4g} -> {summary.loss_final:.4g}"
    line += f", {summary.steps_per_s:.1f} steps/s"
    if summary.diverged_at is not None:
        line += f"; diverged at step {summary.diverged_at}"
    console.print(escape(line), highlight=False)
    console.print(f"wrote {escape(str(out))}/ (series.parquet, series.csv, summary.json, spec.json)", highlight=False)


@app.command()
def run(
    spec_file: Annotated[Path | None, typer.Argument(help="a spec as .json, .yaml or .yml", show_default=False)] = None,
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="run a preset instead (see `noether presets`)")] = None,
    steps: Annotated[int | None, typer.Option("--steps", "-n", help="override the number of steps")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="override the seed")] = None,
    device: Annotated[str | None, typer.Option("--device", help="override the device: auto, cpu, cuda, cuda:N")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="set a field by dotted path, e.g. --set dynamics.lr=0.05 --set model.widths.1=128 (value as "
        "JSON, else text; repeatable)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder (default runs/<name>-<time>)")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="where file data sets live (default $NOETHER_DATA_DIR/datasets)")
    ] = None,
    no_sweep: Annotated[bool, typer.Option("--no-sweep", help="run a sweep preset's base spec only")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Run a spec or a preset; write series.parquet, series.csv, summary.json and spec.json; print the verdicts."""
    from noether import presets
    from noether.sweep import expand

    if (spec_file is None) == (preset is None):
        raise _fail(["give a spec file or --preset NAME (exactly one)"])
    grid = None
    try:
        if preset is not None:
            try:
                chosen = presets.get(preset)
            except KeyError as exc:
                raise _fail([str(exc.args[0])]) from None
            spec, name, grid = chosen.spec, chosen.name, (None if no_sweep else chosen.sweep)
        else:
            spec, name = load_spec(spec_file), spec_file.stem
        spec = _with_overrides(spec, {"steps": steps, "seed": seed, "device": device} | _parse_sets(set_ or []))
        runs = expand(spec, grid)
    except SpecError as exc:
        raise _fail(exc.lines) from None
    out = out or Path("runs") / f"{_slug(name)}-{time.strftime('%Y%m%d-%H%M%S')}"
    data_root = data_dir or default_data_root()
    code = 0
    for label, one in runs:
        where = out / _slug(label) if label else out
        try:
            summary = run_one(one, where, data_root, quiet=quiet, label=label or name)
        except SpecError as exc:
            raise _fail(exc.lines) from None
        _report(summary, where, f"{name} {label}".strip())
        if summary.status != "succeeded":
            code = EXIT_NOT_SUCCEEDED
    raise typer.Exit(code)


@app.command("presets")
def presets_cmd(
    name: Annotated[str | None, typer.Argument(help="show one preset in full", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the presets (the paper's experiments first), or show one."""
    from noether import presets

    if name is not None:
        try:
            p = presets.get(name)
        except KeyError as exc:
            raise _fail([str(exc.args[0])]) from None
        if as_json:
            console.print_json(json.dumps(p.to_dict()))
            return
        console.print(f"[bold]{p.name}[/bold]: {escape(p.title)}  ({escape(p.figure)})", highlight=False)
        for head, text in (("what", p.explanation), ("look at", p.look_at), ("prediction", p.prediction)):
            console.print(f"[bold]{head}:[/bold] {escape(text)}", highlight=False)
        if p.sweep:
            console.print(f"[bold]sweep:[/bold] {escape(json.dumps(p.sweep))}", highlight=False)
        console.print(f"[bold]runtime:[/bold] {p.runtime}; run it with `noether run --preset {p.name}`", highlight=False)
        return
    items = presets.all()
    if as_json:
        console.print_json(json.dumps([p.to_dict() for p in items]))
        return
    table = Table(title="presets", title_justify="left")
    for col in ("name", "title", "reproduces", "runtime"):
        table.add_column(col)
    for p in items:
        table.add_row(p.name, escape(p.title), escape(p.figure), p.runtime + (" (sweep)" if p.sweep else ""))
    console.print(table)


def _as_dict(entry: Any) -> dict[str, Any]:
    if hasattr(entry, "model_dump"):
        return entry.model_dump(mode="json")
    if dataclasses.is_dataclass(entry):
        return dataclasses.asdict(entry)
    if isinstance(entry, dict):
        return dict(entry)
    return {k: v for k, v in vars(entry).items() if not k.startswith("_")}


@app.command("laws")
def laws_cmd(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List the law catalogue: each family's symmetry, condition, quantity and prediction per flow."""
    from noether.laws import catalogue

    entries = [_as_dict(e) for e in catalogue()]
    if as_json:
        console.print_json(json.dumps(entries, default=str))
        return
    for e in entries:
        head = str(e.get("id", ""))
        if e.get("title"):
            head += f": {e['title']}"
        console.print(f"[bold]{escape(head)}[/bold]", highlight=False)
        for key in ("symmetry", "condition", "quantity", "prediction", "paper", "tolerance"):
            if e.get(key):
                console.print(f"  [dim]{key}:[/dim] {escape(str(e[key]))}", highlight=False)
        predictions = e.get("predictions")
        if isinstance(predictions, dict):
            console.print("  [dim]predictions:[/dim]", highlight=False)
            for flow, text in predictions.items():
                console.print(f"    {escape(str(flow))}: {escape(str(text))}", highlight=False)
        console.print()


@app.command("discover")
def discover_cmd(
    spec_file: Annotated[Path | None, typer.Argument(help="a spec as .json, .yaml or .yml", show_default=False)] = None,
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="use a preset's spec (see `noether presets`)")] = None,
    steps: Annotated[int | None, typer.Option("--steps", "-n", help="steps of the verification run (default 200)")] = None,
    seed: Annotated[int | None, typer.Option("--seed", "-s", help="override the spec's seed")] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="search only, no verification run")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="also write the result as JSON to this file")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="where file data sets live (default $NOETHER_DATA_DIR/datasets)")
    ] = None,
) -> None:
    """Find the spec's conserved quantities (the paper's Algorithm 1) and verify them in a run of its dynamics."""
    from noether import presets
    from noether.discovery import DiscoveryOptions, discover
    from noether.discovery.report import print_result

    if (spec_file is None) == (preset is None):
        raise _fail(["give a spec file or --preset NAME (exactly one)"])
    try:
        if preset is not None:
            try:
                spec = presets.get(preset).spec
            except KeyError as exc:
                raise _fail([str(exc.args[0])]) from None
        else:
            spec = load_spec(spec_file)
        spec = _with_overrides(spec, {"seed": seed})
        options = DiscoveryOptions(verify=not no_verify, **({"verify_steps": steps} if steps is not None else {}))
    except SpecError as exc:
        raise _fail(exc.lines) from None
    except ValueError as exc:  # pydantic's ValidationError of the options
        raise _fail([line for line in str(exc).splitlines()[1:] if line.strip()][:4] or [str(exc)]) from None
    try:
        result = discover(spec, options, data_root=data_dir or default_data_root())
    except SpecError as exc:
        raise _fail(exc.lines) from None
    text = result.model_dump_json(indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    if as_json:
        print(text)
        return
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    print_result(console, result)
    if out is not None:
        console.print(f"wrote {out}", highlight=False)


def main() -> None:
    app(prog_name="noether")

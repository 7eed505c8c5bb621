"""The `noether` command: the core's commands (run, presets, laws, discover) and the services' (worker, api, up)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer


def worker(
    device: Annotated[str | None, typer.Option(help="cpu, cuda or cuda:N (default NOETHER_WORKER_DEVICE, auto)")] = None,
    name: Annotated[str | None, typer.Option(help="name the worker reports (default host-pid-random)")] = None,
    burst: Annotated[bool, typer.Option(help="exit once the queue is empty")] = False,
) -> None:
    """Run a worker: takes runs from the queue, one work horse process per run."""
    import re

    from labsettings import get_settings
    from workers.worker import run_worker

    if device is not None and not re.fullmatch(r"auto|cpu|cuda(:\d{1,2})?", device):
        typer.echo(f"--device must be auto, cpu, cuda or cuda:N (got '{device}')", err=True)
        raise typer.Exit(2)
    _logging()
    run_worker(get_settings(), device=device, name=name, burst=burst)


def api(
    host: Annotated[str | None, typer.Option(help="address to bind (default NOETHER_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default NOETHER_PORT)")] = None,
    processes: Annotated[
        int | None, typer.Option(min=1, max=64, help="server processes (default NOETHER_WEB_PROCESSES, 1)")
    ] = None,
) -> None:
    """Serve the web server: the dashboard at / and the API at /api (Redis from NOETHER_REDIS_URL)."""
    import os

    from lab.server import serve
    from labsettings import get_settings

    if processes is not None:
        os.environ["NOETHER_WEB_PROCESSES"] = str(processes)
    get_settings.cache_clear()
    settings = get_settings()
    changes = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not settings.redis_url:
        typer.echo("noether api needs NOETHER_REDIS_URL (or use `noether up`, which starts Redis)", err=True)
        raise typer.Exit(2)
    _logging()
    serve(settings.model_copy(update=changes))


def up(
    host: Annotated[str | None, typer.Option(help="address to bind (default NOETHER_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default NOETHER_PORT; 0 picks a free one)")] = None,
    workers: Annotated[int | None, typer.Option(min=0, max=64, help="workers to start (default NOETHER_WORKERS)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="run store and Redis files (default NOETHER_DATA_DIR)")] = None,
) -> None:
    """Start the whole lab on this machine (Redis, workers, web server); Ctrl-C stops it."""
    from lab.up import up as run_up
    from labsettings import get_settings

    settings = get_settings()
    changes = {k: v for k, v in (("host", host), ("port", port), ("workers", workers), ("data_dir", data_dir))
               if v is not None}
    _logging()
    raise typer.Exit(run_up(settings.model_copy(update=changes)))


def import_run(
    folder: Annotated[Path, typer.Argument(help="a run folder written by noether.watch(..., lab=None)")],
    lab: Annotated[str, typer.Option(help="the lab's URL")] = "http://127.0.0.1:8050",
    token: Annotated[str | None, typer.Option(help="the lab's API token (default NOETHER_API_TOKEN)")] = None,
) -> None:
    """Import a watched run's folder into a lab, where it appears in Runs like a live external run."""
    import httpx

    from labsettings import get_settings
    from noether_remote.lab import import_folder

    if not (folder / "spec.json").is_file() or not (folder / "summary.json").is_file():
        typer.echo(f"{folder} is not a run folder: it must hold spec.json, summary.json and series.parquet", err=True)
        raise typer.Exit(2)
    try:
        run_id = import_folder(folder, lab, token=token or get_settings().api_token)
    except (ValueError, httpx.HTTPError) as exc:
        typer.echo(f"could not import {folder}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"imported {folder} as run {run_id}: {lab.rstrip('/')}/runs/{run_id}")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("rq.worker", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def register(app: typer.Typer) -> typer.Typer:
    """Add the service commands to the core's Typer app."""
    app.command("worker")(worker)
    app.command("api")(api)
    app.command("up")(up)
    app.command("import")(import_run)
    return app


def main() -> None:
    from noether.cli import app

    register(app)
    app(prog_name="noether")


if __name__ == "__main__":
    sys.exit(main())

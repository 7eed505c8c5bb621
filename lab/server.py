"""One ASGI app on one port: the dashboard at ``/`` and the API at ``/api``, served by uvicorn.

Dash's FastAPI backend (``Dash(backend="fastapi")``) makes the dashboard's server a FastAPI app;
``backend.app.install`` adds the API to it. Before the dashboard exists (or if it fails to build) the
API is served alone, with a small page at ``/`` that says so.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from backend.app import create_app, install
from labsettings import Settings, get_settings

log = logging.getLogger("lab.server")

_PLACEHOLDER = """<!doctype html><title>Noether Lab</title>
<h1>Noether Lab</h1><p>{message}</p><p>The API runs: <a href="/api/docs">/api/docs</a>,
<a href="/api/health">/api/health</a>.</p>"""


def build_app(settings: Settings | None = None, *, reaper: bool = True) -> FastAPI:
    """The dashboard's FastAPI server with the API installed, or the API alone without a dashboard."""
    settings = settings or get_settings()
    if importlib.util.find_spec("dashboard.app") is not None:
        try:
            from dashboard.app import create_dash

            dash_app = create_dash(settings)
            return install(dash_app.server, settings, reaper=reaper)
        except (ImportError, AttributeError) as exc:
            log.warning("the dashboard is not available (%s); serving the API alone", exc)
            return _api_alone(settings, f"The dashboard is not available ({exc}).", reaper)
    return _api_alone(settings, "The dashboard is not installed.", reaper)


def _api_alone(settings: Settings, message: str, reaper: bool) -> FastAPI:
    app = create_app(settings, reaper=reaper)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(_PLACEHOLDER.format(message=message))

    return app


# WebSocket messages go uncompressed: permessage-deflate compresses every message once per connection,
# which was 80% of the web process's CPU with 200 followers of one run (python -m bench load)
WS_DEFLATE = False


def uvicorn_config(app: Any, host: str, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=3,
                          ws_per_message_deflate=WS_DEFLATE)


def app_from_env() -> FastAPI:
    """The app built from the environment's settings: the factory each process of a multi-process server calls."""
    return build_app(get_settings())


def serve(settings: Settings | None = None) -> None:
    """Serve the lab on ``settings.host:settings.port`` until SIGINT/SIGTERM (``web_processes`` processes)."""
    import uvicorn

    settings = settings or get_settings()
    print(f"Noether Lab web server on http://{settings.host}:{settings.port} (API docs: /api/docs)", flush=True)
    if settings.web_processes > 1:
        # Each process builds its own app from the environment (NOETHER_*), so overrides travel through it.
        uvicorn.run("lab.server:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.web_processes, log_level="warning", timeout_graceful_shutdown=3,
                    ws_per_message_deflate=WS_DEFLATE)
        return
    app = build_app(settings)
    uvicorn.Server(uvicorn_config(app, settings.host, settings.port)).run()

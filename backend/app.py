"""The FastAPI application: ``create_app(settings)`` (the API alone) and ``install(app, settings)``.

``install`` adds everything the API needs (routes under /api, its OpenAPI schema and docs, the sign-in
page and the credential check, the body size limit and read timeout, CORS, error handlers, and a
reaper thread for lost runs) to an existing FastAPI app, such
as the server of Dash's FastAPI backend, so that one ASGI app serves the dashboard and the API.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from backend.auth import Guard, install_auth
from backend.deps import LabState
from backend.errors import install_handlers
from backend.limits import BodySizeLimit
from backend.routes import catalogue, discover, external, health, preview, runs, series, specs, sweeps
from labsettings import Settings, get_settings
from noether import __version__
from workers import client as jobs

log = logging.getLogger("backend")

PREFIX = "/api"
ROUTERS = (health.router, runs.router, series.router, sweeps.router, catalogue.router, specs.router, discover.router,
           external.router, preview.router)
DESCRIPTION = (
    "Launch experiments on the conservation laws of neural-network training, follow their series live, "
    "and read their verdicts. See docs/api.md."
)


def create_app(settings: Settings | None = None, *, reaper: bool = True) -> FastAPI:
    """The API alone (routes under /api)."""
    app = FastAPI(title="Noether Lab API", version=__version__, description=DESCRIPTION,
                  openapi_url=None, docs_url=None, redoc_url=None)
    install(app, settings or get_settings(), reaper=reaper)
    return app


def install(app: FastAPI, settings: Settings, *, reaper: bool = True) -> FastAPI:
    """Add the API to ``app``: routes under /api, schema and docs, middleware, handlers, reaper."""
    state = LabState(settings)
    app.state.noether = state
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
    app.include_router(_docs_router(app))
    app.include_router(_not_found_router())
    install_handlers(app)
    auth = install_auth(app, settings)
    # Starlette runs the last-added middleware first: CORS, then the credential check (before any body is
    # read, so a malformed body without the token gets 401), then the size limit and body-read timeout
    # on every route, the dashboard's included.
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes, prefix="/",
                       timeout=settings.body_timeout_seconds)
    app.add_middleware(Guard, auth=auth)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["*"], allow_credentials=False)
    _add_lifespan(app, state, reaper=reaper)
    return app


def _docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    schema: dict[str, Any] = {}

    @router.get(PREFIX + "/openapi.json")
    def openapi() -> JSONResponse:
        if not schema:
            from fastapi.openapi.utils import get_openapi

            full = get_openapi(title="Noether Lab API", version=__version__, description=DESCRIPTION,
                               routes=app.routes)
            full["paths"] = {p: v for p, v in full.get("paths", {}).items() if p.startswith(PREFIX + "/")}
            schema.update(full)
        return JSONResponse(schema)

    @router.get(PREFIX + "/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=PREFIX + "/openapi.json", title="Noether Lab API")

    return router


def _not_found_router() -> APIRouter:
    """Unknown /api paths answer 404 JSON (otherwise the dashboard's catch-all would answer with HTML)."""
    router = APIRouter(include_in_schema=False)

    @router.api_route(PREFIX + "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def not_found(path: str, request: Request) -> JSONResponse:
        return JSONResponse({"detail": f"no such API path: {request.method} /api/{path}"}, status_code=404)

    return router


def _add_lifespan(app: FastAPI, state: LabState, *, reaper: bool) -> None:
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any):
        thread = None
        try:
            jobs.ensure_store_indexed(state.redis, state.settings)
        except Exception as exc:  # Redis may come up later; the list route retries
            log.warning("could not index the run store: %s", exc)
        if reaper:
            thread = jobs.start_reaper(state.settings)
        try:
            async with outer(a) as inner:
                yield inner
        finally:
            if thread is not None:
                thread.stop()
            if state._aredis is not None:
                await state._aredis.aclose()
            state.redis.close()

    app.router.lifespan_context = lifespan

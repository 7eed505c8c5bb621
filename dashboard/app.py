"""The Dash app: one shell (navigation, presentation mode) around the pages of ``dashboard/pages``.

``create_dash(settings)`` returns a ``Dash`` on the FastAPI backend; ``lab/server.py`` adds the API
routes to ``dash_app.server`` so that one uvicorn process serves the dashboard at ``/`` and the API at
``/api``. Run it alone (API elsewhere, ``NOETHER_API_URL``) with ``uvicorn dashboard.app:asgi --factory``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dash
from dash import Dash, Input, Output, State, dcc, html

from dashboard import api, export_routes

HERE = Path(__file__).parent
PAGES_PACKAGE = "dashboard.pages"


def _load_pages() -> list[str]:
    """Import (or re-import, for a second app in one process) every module of dashboard/pages.

    Each page module registers itself with ``dash.register_page`` and its callbacks with
    ``dash.callback``; Dash hands those global callbacks to the app being set up, so a second app
    needs the modules executed again.
    """
    import dashboard.pages as pages

    names = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        full = f"{PAGES_PACKAGE}.{info.name}"
        if full in sys.modules:
            module = importlib.reload(sys.modules[full])
        else:
            module = importlib.import_module(full)
        page = dash.page_registry.get(full)
        if page is not None and not page.get("supplied_layout"):
            page["layout"] = module.layout  # what Dash's own pages_folder import does after running a module
        names.append(full)
    return names


def navbar(signin: bool = False) -> html.Nav:
    links = [("Launch", "/"), ("Runs", "/runs"), ("Compare", "/compare"), ("Learn", "/learn")]
    extra = [(p["name"], p["relative_path"]) for p in dash.page_registry.values()
             if p.get("nav") and p["relative_path"] not in {href for _, href in links}]
    return html.Nav(
        className="nav",
        children=[
            html.A("Noether Lab", href="/", className="brand"),
            *[dcc.Link(label, href=href, className="nav-link", id=f"nav-{label.lower()}")
              for label, href in links + extra],
            html.Span(className="nav-spacer"),
            html.A("API", href="/api/docs", className="nav-link", target="_blank"),
            *([html.A("Sign in", href="/signin", className="nav-link", id="nav-signin",
                      title="This lab needs its token for changes: sign in (or out) here")] if signin else []),
            html.Button("Presentation mode", id="app-present-toggle", className="btn btn-light",
                        title="Large fonts and high contrast for projectors (remembered in this browser)"),
        ],
    )


def shell(signin: bool = False) -> html.Div:
    """The layout around every page (with a sign-in link when the lab has a token)."""
    return html.Div(
        id="app-root",
        children=[
            dcc.Store(id="app-present", storage_type="local", data=False),
            dcc.Location(id="app-nav", refresh="callback-nav"),
            navbar(signin),
            html.Main(dash.page_container, className="page"),
        ],
    )


def create_dash(settings: Any = None) -> Dash:
    """The dashboard as a Dash app on the FastAPI backend (serve it with uvicorn)."""
    if settings is None:
        from labsettings import get_settings

        settings = get_settings()
    api.configure(settings)
    app = Dash(
        __name__,
        backend="fastapi",
        use_pages=True,
        pages_folder="",
        assets_folder=str(HERE / "assets"),
        suppress_callback_exceptions=True,
        title="Noether Lab",
        update_title=None,
        serve_locally=True,
        use_async=True,  # async page layouts (dashboard/pages/run.py awaits the run record while laying out)
    )
    _load_pages()
    # plotly.js (3.6 MB) is fetched as the page's HTML is read, not when Dash first renders a chart: the browser
    # can compile it off the main thread meanwhile (issue 12 item 4); dcc.Graph's loader then finds it fetched
    app.index_string = app.index_string.replace(
        "{%css%}", '{%css%}\n        <link rel="preload" as="script" href="'
        + app.config.requests_pathname_prefix + '_dash-component-suites/plotly/package_data/plotly.min.js">', 1)
    app.layout = shell(bool(getattr(settings, "api_token", None)))
    export_routes.register(app.server)  # /export/<run id>.png|svg|pdf|zip: the composed figure and the archive

    app.clientside_callback(
        """
        function(n, present) {
            const ctx = window.dash_clientside.callback_context;
            let on = !!present;
            if (ctx.triggered.length && ctx.triggered[0].prop_id === 'app-present-toggle.n_clicks') { on = !on; }
            document.body.classList.toggle('present', on);
            return [on, on ? 'Leave presentation mode' : 'Presentation mode'];
        }
        """,
        Output("app-present", "data"),
        Output("app-present-toggle", "children"),  # says how to leave it while it is on
        Input("app-present-toggle", "n_clicks"),
        State("app-present", "data"),
    )
    # Dash's FastAPI backend sets the app up (assets, inline clientside functions, and the pages router
    # with its clientside title callback) in before-request hooks that run only on "/" and "/_dash-*": a
    # shared link such as /runs/<id> opened first on a fresh server was served a page without the title
    # callback's script (a console error). Run those hooks now; each runs once.
    for hook in list(app.backend._before_request_funcs):
        result = hook()
        if inspect.iscoroutine(result):  # async hooks (use_async apps): run off any running loop
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, result).result()
    return app


def asgi() -> Any:
    """ASGI factory for running the dashboard alone: ``uvicorn dashboard.app:asgi --factory``."""
    return create_dash().server

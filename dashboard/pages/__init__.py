"""The dashboard's pages: one module per page, each with its layout and its callbacks.

Conventions (follow them to add a page; ``dashboard.app`` imports every module here by itself):

- Register the page at import: ``dash.register_page(__name__, path="/things", name="Things", order=5)``
  (``path_template="/things/<thing_id>"`` for a shareable URL with a variable). Add ``nav=True`` to
  show it in the navigation bar.
- ``layout(**kwargs)`` is a plain function returning components. It must work with no arguments
  (Dash calls it so to validate callbacks) and must not call the API: it lays out the page and puts
  what it got from the URL (path variables, query string) in a ``dcc.Store``; callbacks fetch data.
- Every component id starts with the page's name: ``things-table``, ``things-filter``; pattern ids
  use ``{"type": "things-...", ...}``.
- Callbacks use ``@dash.callback`` in the same module. Those that call the API are ``async def`` and
  ``await dashboard.api.get/post/patch(...)`` (a blocking call would stall Dash's FastAPI event loop).
  Keep them thin: the figures come from the pure builders in ``dashboard/figures.py``.
- To move to another page from a callback, write ``Output("app-nav", "href", allow_duplicate=True)``.
- Browser-side code (live streaming, replay, exports) lives in ``dashboard/assets/*.js`` under
  ``window.NoetherLive``; styles in ``dashboard/assets/style.css`` (``body.present`` is presentation mode).
"""

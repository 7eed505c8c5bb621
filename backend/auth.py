"""Who is calling, and may they: the lab's one credential check, for the API and the dashboard alike.

A caller is *authenticated* when the lab has no token, or when the request carries the token
(``Authorization: Bearer <NOETHER_API_TOKEN>``) or a valid session cookie from the sign-in page
(``/signin`` exchanges the token for a cookie signed with itsdangerous: ``HttpOnly``,
``SameSite=Strict``, ``Secure`` over https). ``Guard``, an ASGI middleware around the whole server,
refuses before any body is read:

- with a token, every unsafe method (POST, PUT, PATCH, DELETE) under ``/api`` from an unauthenticated
  caller (401; so a malformed body gets 401, not 422), except ``POST /api/validate``, which changes
  nothing and is a read;
- with a token and ``public_read`` off, every other request too, except the sign-in page and the
  dashboard's static files (pages redirect to ``/signin``, the rest get 401, WebSockets close).

Dash callbacks (``POST /_dash-update-component``) pass the guard, but the dashboard's server side holds
no credential of its own: ``dashboard/api.py`` forwards the browser's ``Authorization`` and ``Cookie``
headers to the API, which the guard checks like any other call. A callback that changes something can
only do so through the API, so a new callback cannot forget the check.

The caller's identity for per-client limits comes from the credential: the session id of its cookie
(every browser gets one, signed in or not), else a hash of the bearer token, else the address of the
connection's peer. Headers such as ``X-Client-Id`` or ``X-Forwarded-For`` are never trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection

from labsettings import Settings

COOKIE = "noether_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_POSTS = frozenset({"/api/validate"})  # POSTs that change nothing (a spec's checks): readers may call them
SIGNIN = "/signin"
SIGNOUT = "/signout"
# Open even when reading needs the credential: the sign-in page and what it needs to render.
OPEN_PREFIXES = (SIGNIN, SIGNOUT, "/api/health", "/assets/", "/_dash-component-suites/", "/_favicon.ico")
# Pages (not the API, not Dash's machinery): an unauthenticated browser is sent to the sign-in page.
MACHINERY_PREFIXES = ("/api", "/_dash", "/_reload", "/assets/", "/_favicon")
UNAUTHORIZED = ("sign in first: this lab needs its token for changes (open /signin in the dashboard, or send "
                "'Authorization: Bearer <NOETHER_API_TOKEN>')")
UNAUTHORIZED_READ = "sign in first: this lab needs its token to view runs (open /signin, or send a bearer token)"


@dataclass(frozen=True)
class Caller:
    """What the guard knows of a request's sender."""

    authenticated: bool
    identity: str  # for per-client limits: never a header the sender chooses
    session: dict[str, Any] | None = None  # the valid session cookie's payload, if any


def _secret(settings: Settings) -> bytes:
    """The key that signs session cookies: derived from the token, else a random key kept in the data directory.

    Derived from the token, every process and host that knows the token accepts the same cookies, and a new
    token signs everyone out. Without a token, cookies only name browsers (for per-client limits).
    """
    if settings.api_token:
        return hashlib.sha256(b"noether-session\0" + settings.api_token.encode()).digest()
    path = Path(settings.data_dir) / "session.key"
    try:
        return path.read_bytes()
    except OSError:
        pass
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
    except FileExistsError:  # another process wrote it first
        return path.read_bytes()
    except OSError:  # read-only data directory: cookies last as long as this process
        pass
    return key


class Auth:
    """The lab's credential check: the token, the session cookies, and the identity of a caller."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.token = settings.api_token or None
        self.max_age = int(settings.session_hours * 3600)
        self.serializer = URLSafeTimedSerializer(_secret(settings), salt="noether-session")

    # -- sessions -------------------------------------------------------------------------------
    def new_session(self, signed_in: bool) -> str:
        return self.serializer.dumps({"sid": secrets.token_urlsafe(18), "in": bool(signed_in)})

    def read_session(self, cookie: str | None) -> dict[str, Any] | None:
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) and isinstance(data.get("sid"), str) else None

    def cookie_header(self, value: str, *, secure: bool, clear: bool = False) -> str:
        parts = [f"{COOKIE}={'' if clear else value}", "Path=/", "HttpOnly", "SameSite=Strict",
                 f"Max-Age={0 if clear else self.max_age}"]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    # -- callers --------------------------------------------------------------------------------
    def token_matches(self, given: str) -> bool:
        return bool(self.token) and secrets.compare_digest(given.encode(), self.token.encode())

    def caller(self, conn: HTTPConnection) -> Caller:
        session = self.read_session(conn.cookies.get(COOKIE))
        scheme, _, given = conn.headers.get("authorization", "").partition(" ")
        bearer = scheme.lower() == "bearer" and self.token_matches(given.strip())
        # A cookie authenticates only requests the lab's own pages make: SameSite=Strict still sends it
        # from another port or subdomain of the same site, so a cross-origin request gets no credit for it.
        signed_in = bool(session and session.get("in")) and not cross_origin(conn)
        authenticated = not self.token or bearer or signed_in
        if session is not None:
            identity = "session:" + hashlib.sha256(session["sid"].encode()).hexdigest()[:24]
        elif bearer:
            identity = "token:" + hmac.new(b"noether-client", given.strip().encode(), "sha256").hexdigest()[:24]
        else:
            identity = "addr:" + (conn.client.host if conn.client else "unknown")
        return Caller(authenticated=authenticated, identity=identity, session=session)


def cross_origin(conn: HTTPConnection) -> bool:
    """Whether a browser sent this request from another origin (``Sec-Fetch-Site``, else ``Origin`` vs ``Host``)."""
    site = conn.headers.get("sec-fetch-site")
    if site:
        return site not in ("same-origin", "none")
    origin = conn.headers.get("origin")
    if origin is None:
        return False  # not a browser's cross-origin request (scripts, the dashboard's own server-side calls)
    return origin == "null" or urlsplit(origin).netloc != conn.headers.get("host", "")


def caller_of(conn: HTTPConnection) -> Caller:
    """The caller the guard saw (or, for an app without the guard, computed now)."""
    found = conn.scope.get("state", {}).get("noether_caller")
    if found is None:
        found = conn.app.state.noether_auth.caller(conn)
    return found


def _is_open(path: str) -> bool:
    return any(path == p or path.startswith(p) for p in OPEN_PREFIXES)


def _is_page(path: str) -> bool:
    return not any(path.startswith(p) for p in MACHINERY_PREFIXES)


class Guard:
    """ASGI middleware: the credential check before anything reads a body (see the module's docstring)."""

    def __init__(self, app: Any, auth: Auth):
        self.app = app
        self.auth = auth

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        caller = self.auth.caller(conn)
        if cross_origin(conn):  # nothing downstream (the dashboard forwarding cookies) may use the cookie
            scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", []) if k != b"cookie"]}
        scope.setdefault("state", {})["noether_caller"] = caller
        path = scope["path"]
        if not caller.authenticated and not _is_open(path):
            method = scope.get("method", "GET")
            unsafe_api = path.startswith("/api") and method not in SAFE_METHODS and path not in READ_POSTS
            if unsafe_api or not self.auth.settings.public_read:
                await self._refuse(scope, send, path, UNAUTHORIZED if unsafe_api else UNAUTHORIZED_READ)
                return
        if (scope["type"] == "http" and caller.session is None and _is_page(path) and not _is_open(path)
                and conn.headers.get("sec-fetch-site") != "cross-site"):
            # names this browser (not on a link from another site: the browser withholds its Strict cookie
            # from that navigation, and a new one would replace the session it has)
            send = self._with_cookie(send, self.auth.new_session(False), scope)
        await self.app(scope, receive, send)

    def _with_cookie(self, send: Any, value: str, scope: dict[str, Any]) -> Any:
        header = self.auth.cookie_header(value, secure=scope.get("scheme") == "https").encode()

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", header)]}
            await send(message)

        return wrapped

    async def _refuse(self, scope: dict[str, Any], send: Any, path: str, detail: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "sign in first"})
            return
        if scope.get("method") == "GET" and _is_page(path):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + ("?" + query if query else "")
            response: Response = RedirectResponse(f"{SIGNIN}?next={quote(target, safe='')}", status_code=303)
        else:
            body = json.dumps({"detail": detail}).encode()
            response = Response(body, status_code=401, media_type="application/json",
                                headers={"WWW-Authenticate": "Bearer"})
        await response(scope, _no_receive, send)


async def _no_receive() -> dict[str, Any]:  # pragma: no cover - responses above never read the request
    return {"type": "http.disconnect"}


# -- the sign-in page ------------------------------------------------------------------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Noether Lab</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}}
input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}button{{margin-top:.8rem;padding:.5rem 1rem;
font-size:1rem}}.error{{color:#b00020}}.ok{{color:#1b5e20}}</style></head><body>
<h1>Noether Lab</h1>{body}</body></html>"""

_FORM = """<p>This lab needs its token (<code>NOETHER_API_TOKEN</code>) to {what}.</p>{error}
<form method="post" action="/signin"><input type="hidden" name="next" value="{next}">
<label for="signin-token">Token</label>
<input id="signin-token" name="token" type="password" autocomplete="current-password" autofocus required>
<button id="signin-submit" type="submit">Sign in</button></form>"""

_SIGNED_IN = """<p class="ok" id="signin-state">You are signed in.</p>
<p><a href="{next}">Continue</a> · <a href="/signout" id="signout">Sign out</a></p>"""


def _safe_next(value: str | None) -> str:
    """A local path to return to after signing in (never another site: ``//evil`` or ``https://...``)."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)):  # browsers drop tabs: "/\t/evil" is "//evil"
        return "/"
    return value


def signin_router(auth: Auth) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def page(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(_PAGE.format(body=body), status_code=status, headers={"Cache-Control": "no-store"})

    def form(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
        what = "make changes" if auth.settings.public_read else "view and change runs"
        return page(_FORM.format(what=what, next=html.escape(next_path),
                                 error=f'<p class="error" id="signin-error">{html.escape(error)}</p>' if error else ""),
                    status)

    @router.get(SIGNIN)
    def signin_page(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002 - the query name
        next_path = _safe_next(next)
        if not auth.token:
            return page(f'<p id="signin-state">This lab has no token: nothing to sign in to.</p>'
                        f'<p><a href="{html.escape(next_path)}">Continue</a></p>')
        if caller_of(request).session and caller_of(request).session.get("in"):
            return page(_SIGNED_IN.format(next=html.escape(next_path)))
        return form(next_path)

    @router.post(SIGNIN)
    async def signin(request: Request) -> Response:
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        next_path = _safe_next((fields.get("next") or ["/"])[0])
        if not auth.token:
            return RedirectResponse(next_path, status_code=303)
        if not auth.token_matches((fields.get("token") or [""])[0]):
            return form(next_path, "That is not this lab's token.", status=401)
        response = RedirectResponse(next_path, status_code=303)
        response.headers.append("set-cookie", auth.cookie_header(auth.new_session(True),
                                                                 secure=request.url.scheme == "https"))
        return response

    @router.get(SIGNOUT)
    def signout(request: Request) -> Response:
        response = RedirectResponse(SIGNIN, status_code=303)
        response.headers.append("set-cookie", auth.cookie_header("", secure=request.url.scheme == "https",
                                                                 clear=True))
        return response

    return router


def install_auth(app: FastAPI, settings: Settings) -> Auth:
    """The sign-in routes and the guard (add it last among middleware so that it runs first)."""
    auth = Auth(settings)
    app.state.noether_auth = auth
    app.include_router(signin_router(auth))
    return auth

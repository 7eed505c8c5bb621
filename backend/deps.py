"""What routes depend on: the lab's state (settings, Redis), the caller's identity, the token check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import redis
import redis.asyncio as aredis
from fastapi import Depends, HTTPException, Path, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.auth import UNAUTHORIZED, caller_of
from backend.reads import HeavyReads
from backend.schemas import RUN_ID_PATTERN
from labsettings import Settings
from workers import client as jobs

RunIdPath = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="run id")]


@dataclass
class LabState:
    """One per app: the settings and the Redis clients (sync for routes, async for streams)."""

    settings: Settings
    redis: redis.Redis = field(init=False)
    heavy_reads: HeavyReads = field(init=False)
    _aredis: Any = None
    _hub: Any = None

    def __post_init__(self) -> None:
        if not self.settings.redis_url:
            raise ValueError("the API needs a Redis: set NOETHER_REDIS_URL (noether up sets it)")
        self.redis = jobs.connect(self.settings.redis_url)
        self.heavy_reads = HeavyReads(self.settings.max_heavy_reads, self.settings.heavy_read_wait)

    def aredis(self) -> aredis.Redis:
        """The async client (made on first use, inside the server's event loop).

        Its pool is bounded (``fanout.pool_size``): a caller waits for a free connection instead of
        failing, and streams never take more than one connection per followed run plus the replays.
        """
        if self._aredis is None:
            from backend.fanout import pool_size

            self._aredis = jobs.connect_async(self.settings.redis_url, max_connections=pool_size(self.settings))
        return self._aredis

    def hub(self) -> Any:
        """The WebSocket fan-out of this process (``backend.fanout.Hub``), made on first use."""
        if self._hub is None:
            from backend.fanout import Hub

            self._hub = Hub(self)
        return self._hub


def get_state(request: Request) -> LabState:
    return request.app.state.noether


def ws_state(websocket: WebSocket) -> LabState:
    return websocket.app.state.noether


State = Annotated[LabState, Depends(get_state)]


def client_id(request: Request) -> str:
    """The caller for the per-client queue limit: its session, else its token, else its peer (backend/auth.py).

    Never a header the caller chooses (``X-Client-Id``) nor a proxy's address taken on trust.
    """
    return caller_of(request).identity


ClientId = Annotated[str, Depends(client_id)]

_bearer = HTTPBearer(auto_error=False, description="NOETHER_API_TOKEN, when the lab sets one")


def require_token(request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Mutating calls need the token (``Authorization: Bearer <token>``) or a signed-in session cookie.

    The guard (backend/auth.py) refuses such calls before their body is read; this dependency keeps the
    check next to each route (and documents the bearer scheme in the OpenAPI schema).
    """
    if not caller_of(request).authenticated:
        raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


Auth = Depends(require_token)

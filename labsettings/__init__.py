"""One settings object for every service: environment variables prefixed ``NOETHER_`` and a ``.env`` file.

docs/operations.md's configuration table is generated from this class (``python -m lab.docsgen``), so
the two cannot drift. This package is a leaf below every other: it imports nothing of the project
(tests/test_layering.py checks it), so the core's neighbours, the workers, the backend, the dashboard and
the launcher may all depend on it without any arrow of the house pointing up.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of the backend, workers, dashboard and the embedded launcher."""

    # env_ignore_empty: `NOETHER_X=` (an uncommented but empty line of .env.example) means the default
    model_config = SettingsConfigDict(env_prefix="NOETHER_", env_file=".env", extra="ignore", env_ignore_empty=True)

    redis_url: str | None = Field(
        None,
        description="Redis to use (redis://host:port/db). Unset: `noether up` starts an embedded server.",
    )
    data_dir: Path = Field(Path("data"), description="Run store, embedded Redis files and user data sets live here.")
    host: str = Field("127.0.0.1", description="Address the web server binds to.")
    port: int = Field(8050, ge=0, le=65535, description="Port of the web server (dashboard at /, API at /api).")
    api_url: str | None = Field(
        None,
        description="The one address the dashboard's server side calls the API at (unset: this server's own "
        "loopback address and port). Never taken from a request's headers.",
    )
    api_token: str | None = Field(
        None,
        description="If set, every change (API or dashboard) needs it: `Authorization: Bearer <token>`, or a "
        "session cookie from the sign-in page (/signin).",
    )
    public_read: bool = Field(
        True, description="With a token set: viewing runs needs no sign-in. Off: reading needs the credential too."
    )
    session_hours: float = Field(12.0, gt=0, description="Hours a sign-in (session cookie) stays valid.")
    body_timeout_seconds: float = Field(
        15.0, gt=0, description="Seconds a request body may take to arrive (between two chunks) before a 408."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (JSON list).")
    max_queued_per_client: int = Field(
        256, ge=1, description="Queued runs one client may have at once (the default fits the largest sweep)."
    )
    max_request_bytes: int = Field(1_000_000, ge=1024, description="Largest request body the API accepts.")
    max_sweep_runs: int = Field(256, ge=1, description="Largest number of runs one sweep may fan out to.")
    queue: str = Field("noether", description="Name of the job queue workers listen on.")
    worker_device: str = Field("auto", description="Device of a worker: auto, cpu, cuda or cuda:N.")
    worker_name: str | None = Field(None, description="Name a worker reports (default: host and pid).")
    lease_seconds: float = Field(
        10.0, gt=0, description="A running job whose worker has not renewed its lease for this long is lost."
    )
    max_attempts: int = Field(2, ge=1, description="Runs of a job before a lost worker marks it failed.")
    stream_maxlen: int = Field(200_000, ge=1000, description="Approximate cap on stream entries (batches) per run.")
    stream_ttl_seconds: int = Field(3600, ge=0, description="Seconds a finished run's stream stays in Redis after archiving.")
    publish_interval: float = Field(0.1, gt=0, description="Seconds between batches a worker publishes.")
    workers: int = Field(1, ge=0, le=64, description="Workers `noether up` starts.")
    max_heavy_reads: int = Field(
        2, ge=1, le=64,
        description="Reads of more than 5,000 records (long pages, envelopes without stored levels, exports) one web "
        "process serves at once; more wait up to `heavy_read_wait` s, then get 503 with Retry-After.",
    )
    heavy_read_wait: float = Field(0.5, ge=0, le=30, description="Seconds a heavy read waits for a free slot.")
    max_streams: int = Field(
        1000, ge=1, description="WebSocket streams one web process serves at once (more are closed with code 1013)."
    )
    max_followed_runs: int = Field(
        64, ge=1, description="Runs one web process follows live at once (one Redis reader each, shared by its streams)."
    )
    web_processes: int = Field(
        1, ge=1, le=64, description="Processes of `noether api` (uvicorn workers; use one per core on a busy host)."
    )

    @property
    def internal_api_url(self) -> str:
        """Where the dashboard's server side calls the API: ``api_url``, else this server's loopback address."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "::", "", "localhost") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def run_store(self) -> Path:
        return self.data_dir / "runs"

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

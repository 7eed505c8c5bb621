"""``noether up``: the whole lab on one machine, supervised, stopped cleanly by Ctrl-C.

1. Redis: ``NOETHER_REDIS_URL`` (or ``REDIS_URL``) if set; else a real server binary as a child on a
   free loopback port, append-only persistence in ``<data_dir>/redis``.
2. ``settings.workers`` workers (``noether worker``), each a child process.
3. The web server (dashboard at ``/``, API at ``/api``) in this process.

The main thread supervises: a child that dies is restarted (the Redis server on the same port and
directory, so its AOF brings the queue back). Ctrl-C (or SIGTERM) stops the web server, then the
workers (a running job is stopped and re-queued on the next start), then Redis. Every child dies
with this process even if it is SIGKILLed (PR_SET_PDEATHSIG), so nothing is left orphaned.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from lab.redis_server import RedisServer, free_port
from lab.settings import Settings
from workers.proc import die_with_parent, stop_process

log = logging.getLogger("lab.up")

RESTART_LIMIT = 5  # restarts of one child before the lab gives up


def _child_setup() -> None:
    os.setsid()  # the terminal's Ctrl-C reaches only `noether up`, which stops children in order
    die_with_parent()


class Child:
    """A supervised child process (a worker)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, preexec_fn=_child_setup)
        out.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Lab:
    """Redis, workers and the web server of one machine."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.redis: RedisServer | None = None
        self.workers: list[Child] = []
        self.server = None
        self.thread: threading.Thread | None = None
        self.url = ""
        self._stop = threading.Event()

    # -- start ----------------------------------------------------------------------------
    def start_redis(self) -> str:
        url = self.settings.redis_url or os.environ.get("REDIS_URL")
        if url:
            return url
        self.redis = RedisServer(self.data_dir / "redis")
        return self.redis.start()

    def child_env(self, redis_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env["NOETHER_REDIS_URL"] = redis_url
        env["NOETHER_DATA_DIR"] = str(self.data_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        n = self.settings.workers
        if n > 1 and "OMP_NUM_THREADS" not in env:  # share the cores instead of oversubscribing them
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
        return env

    def start(self) -> str:
        """Start Redis, the workers and the web server; return the lab's URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        redis_url = self.start_redis()
        self.settings = self.settings.model_copy(update={"redis_url": redis_url, "data_dir": self.data_dir})
        env = self.child_env(redis_url)
        host = os.uname().nodename.split(".")[0]
        for i in range(self.settings.workers):
            name = f"{host}-w{i + 1}-{os.getpid()}"
            argv = [sys.executable, "-m", "lab.cli", "worker", "--name", name]
            child = Child(name, argv, env, self.data_dir / "logs" / f"worker-{i + 1}.log")
            child.start()
            self.workers.append(child)
        self.start_web()
        return self.url

    def start_web(self) -> None:
        import uvicorn

        from lab.server import build_app, uvicorn_config

        port = self.settings.port or free_port(self.settings.host)
        self.settings = self.settings.model_copy(update={"port": port})  # the dashboard calls the API there
        app = build_app(self.settings)
        self.server = uvicorn.Server(uvicorn_config(app, self.settings.host, port))
        self.thread = threading.Thread(target=self.server.run, name="noether-web", daemon=True)
        self.thread.start()
        shown = "127.0.0.1" if self.settings.host in ("0.0.0.0", "::") else self.settings.host
        self.url = f"http://{shown}:{port}"
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.settings.host}:{port}")
            time.sleep(0.05)

    # -- supervise ------------------------------------------------------------------------
    def supervise(self, period: float = 0.5) -> None:
        """Restart children that die, until ``request_stop``."""
        while not self._stop.wait(period):
            if self.redis is not None and not self.redis.alive():
                log.warning("Redis server exited (%s); restarting it", self.redis.log_tail(2))
                self.redis.start()
            for child in self.workers:
                if not child.alive() and child.restarts < RESTART_LIMIT:
                    child.restarts += 1
                    log.warning("worker %s exited with %s; restarting it (see %s)", child.name,
                                child.proc.returncode if child.proc else None, child.log_path)
                    child.start()
            if self.thread is not None and not self.thread.is_alive():
                log.error("the web server stopped; stopping the lab")
                return

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    # -- stop -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Web server, then workers, then Redis."""
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)
        # RQ: SIGTERM stops an idle worker; a second one (RQ ignores it within 1 s of the first) takes
        # down the running job's work horse, and the worker puts that run back on the queue.
        busy = [c.proc for c in self.workers if c.proc is not None and c.proc.poll() is None]
        for proc in busy:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline and any(p.poll() is None for p in busy):
            time.sleep(0.05)
        for proc in busy:
            stop_process(proc, signals=(signal.SIGTERM,), grace=8.0)
        if self.redis is not None:
            self.redis.stop()


def up(settings: Settings) -> int:
    """Run the lab until Ctrl-C; returns the exit code."""
    lab = Lab(settings)
    signal.signal(signal.SIGINT, lab.request_stop)
    signal.signal(signal.SIGTERM, lab.request_stop)
    try:
        url = lab.start()
        print(f"Noether Lab is running at {url}  (API docs: {url}/api/docs). Press Ctrl-C to stop.", flush=True)
        lab.supervise()
        print("Stopping Noether Lab ...", flush=True)
        return 0
    except Exception as exc:
        print(f"noether up: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        lab.stop()


def wait_http(url: str, timeout: float = 30.0) -> bool:
    """True once ``url`` answers 200 (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - a loopback URL we built
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False

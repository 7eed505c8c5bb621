"""``noether up``: the whole lab on one machine, supervised, stopped cleanly by Ctrl-C.

1. Redis: ``NOETHER_REDIS_URL`` (or ``REDIS_URL``) if set; else a real server binary as a child on a
   free loopback port, append-only persistence in ``<data_dir>/redis``.
2. ``settings.workers`` workers (``noether worker``), each a child process.
3. The web server (dashboard at ``/``, API at ``/api``) in this process.

The main thread supervises, and never gives up: a child that dies is restarted (the Redis server on
the same port and directory, so its AOF brings the queue back; a worker under a new name, after a
capped exponential backoff if it keeps dying; workers wait while Redis does not answer and start as
soon as it does). Ctrl-C (or SIGTERM) stops the web server, then the
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

import redis

from lab.redis_server import RedisServer, RedisServerError, free_port
from labsettings import Settings
from workers import keys, registration
from workers.proc import die_with_parent, stop_process

log = logging.getLogger("lab.up")

BACKOFF_FIRST = 0.5  # seconds before restarting a child that exited again soon after its start
BACKOFF_CAP = 10.0  # the longest wait between two restarts: the supervisor never stops trying
STABLE_AFTER = 30.0  # a child that ran this long (or registered in Redis) was healthy: restarted at once


def _child_setup() -> None:
    os.setsid()  # the terminal's Ctrl-C reaches only `noether up`, which stops children in order
    die_with_parent()


def backoff(failures: int) -> float:
    """Seconds to wait before a restart after ``failures`` quick exits in a row: 0, 0.5, 1, 2, ... capped."""
    return 0.0 if failures <= 0 else min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (failures - 1))


class Child:
    """A supervised worker process; each start gets a new name (``<slot>-<start number>``).

    A new name per start means a replacement never collides with the registration its SIGKILLed
    predecessor left in Redis (RQ refuses a name that is still registered).
    """

    def __init__(self, slot: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.slot, self.argv, self.env, self.log_path = slot, argv, env, log_path
        self.name = slot
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.failures = 0  # quick exits in a row
        self.started_at = 0.0
        self.ready = False  # it registered in Redis (it got as far as serving the queue)
        self.next_start: float | None = None  # when a pending restart is due

    def start(self) -> None:
        self.starts += 1
        self.name = f"{self.slot}-{self.starts}"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen([*self.argv, "--name", self.name], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_setup)
        out.close()
        self.started_at = time.monotonic()
        self.ready = False
        self.next_start = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exited(self, now: float) -> float:
        """Note that the child has exited; schedule its restart and return the delay.

        A child that had come up (registered, or ran ``STABLE_AFTER`` seconds) and was then killed
        is restarted at once; one that keeps failing before it comes up waits longer each time.
        """
        if self.ready or now - self.started_at >= STABLE_AFTER:
            self.failures = 0
        delay = backoff(self.failures)
        self.failures += 1
        self.next_start = now + delay
        return delay


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
        self.watch: redis.Redis | None = None  # the supervisor's own client: is Redis answering?
        self.redis_failures = 0
        self.redis_next_start = 0.0

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
            slot = f"{host}-w{i + 1}-{os.getpid()}"
            argv = [sys.executable, "-m", "lab.cli", "worker"]
            child = Child(slot, argv, env, self.data_dir / "logs" / f"worker-{i + 1}.log")
            child.start()
            self.workers.append(child)
        self.watch = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=2)
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
        """Restart children that die, until ``request_stop``; never gives up.

        A worker that had come up and dies (SIGKILL, out of memory) is restarted at once; one that
        keeps exiting before it comes up is restarted after 0.5, 1, 2 ... 10 s. While Redis does not
        answer, no worker is started (it could not register); when Redis answers again, every
        pending worker starts at once. The embedded Redis server is restarted (same port and
        directory) whenever it dies.
        """
        redis_was_up = True
        while not self._stop.wait(period):
            now = time.monotonic()
            if self.redis is not None and not self.redis.alive() and now >= self.redis_next_start:
                self.restart_redis(now)
            redis_up = self.redis_answers()
            if redis_up and not redis_was_up:
                log.warning("Redis answers again; starting the workers that are waiting")
                for child in self.workers:
                    if child.next_start is not None:
                        child.next_start = now
            redis_was_up = redis_up
            for child in self.workers:
                if redis_up and not child.ready and child.alive():
                    child.ready = self.registered(child.name)
                if child.proc is not None and not child.alive():
                    self.worker_exited(child, now)
                if child.next_start is not None and now >= child.next_start and redis_up:
                    log.warning("starting worker %s (start %d)", f"{child.slot}-{child.starts + 1}", child.starts + 1)
                    child.start()
            if self.thread is not None and not self.thread.is_alive():
                log.error("the web server stopped; stopping the lab")
                return

    def worker_exited(self, child: Child, now: float) -> None:
        code, pid = child.proc.returncode, child.proc.pid
        child.proc = None
        delay = child.exited(now)
        log.warning("worker %s exited with %s; restarting it in %.1f s, once Redis answers (see %s)", child.name,
                    code, delay, child.log_path)
        try:  # health counts it gone at once, not when its presence expires
            registration.forget(self.watch, child.name, pid)
        except redis.RedisError:
            pass

    def registered(self, name: str) -> bool:
        try:
            return bool(self.watch.exists(keys.worker(name)))
        except redis.RedisError:
            return False

    def redis_answers(self) -> bool:
        try:
            return bool(self.watch.ping())
        except redis.RedisError:
            return False

    def restart_redis(self, now: float) -> None:
        assert self.redis is not None
        log.warning("Redis server exited (%s); restarting it", self.redis.log_tail(2))
        try:
            self.redis.start()
            self.redis_failures = 0
        except RedisServerError as exc:
            self.redis_failures += 1
            delay = backoff(self.redis_failures)
            self.redis_next_start = now + delay
            log.error("Redis server did not start (%s); trying again in %.1f s", exc, delay)

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
        if self.watch is not None:
            self.watch.close()


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

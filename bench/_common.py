"""What the lab benchmarks share: a lab of child processes, the API read mix, and percentiles."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lab.redis_server import RedisServer, free_port
from labsettings import Settings
from workers.proc import die_with_parent, stop_process


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` (nearest rank)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def ms(x: float) -> str:
    return f"{1000 * x:7.1f} ms"


class Lab:
    """A Redis server and ``noether up`` (``workers`` workers and the web server) as child processes.

    With ``workers=0`` the benchmark plays the worker itself (``workers.task.Attempt`` on ``settings``).
    """

    def __init__(self, root: Path, workers: int = 1):
        self.root, self.port, self.workers = root, free_port(), workers
        self.redis = RedisServer(root / "redis")
        self.redis_url = self.redis.start() + "/0"
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOETHER_") and k != "REDIS_URL"}
        env.update(NOETHER_DATA_DIR=str(root), NOETHER_PORT=str(self.port), NOETHER_HOST="127.0.0.1",
                   NOETHER_REDIS_URL=self.redis_url, NOETHER_WORKERS=str(workers),
                   NOETHER_MAX_QUEUED_PER_CLIENT="1000", PYTHONUNBUFFERED="1")
        self.settings = Settings(_env_file=None, redis_url=self.redis_url, data_dir=root, stream_ttl_seconds=3600)
        self.log = root / "up.log"
        out = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "lab.cli", "up"], env=env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)
        out.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/api"

    def wait(self, timeout: float = 180) -> None:
        """Until the API answers and reports its workers alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"noether up exited: {self.log.read_text()[-2000:]}")
            try:
                resp = httpx.get(f"{self.api}/health", timeout=2)
                if resp.json().get("workers", 0) >= self.workers and resp.json().get("redis"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError("noether up did not come up in time")

    def memory(self) -> dict[str, int]:
        """The web process's resident memory now and at its peak (kB, from /proc)."""
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
        return out

    def reset_peak(self) -> bool:
        """Start VmHWM again from the current resident memory (Linux: clear_refs 5)."""
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.proc, signals=(signal.SIGINT,), grace=30)
        self.redis.stop()


async def latency_under_load(api: str, run_id: str, clients: int, per_client: int) -> list[float]:
    """Seconds per request of a mix of reads (a run, the run list, a series page, health) from ``clients``
    concurrent clients, ``per_client`` requests each."""
    paths = [f"/runs/{run_id}", "/runs?limit=20", f"/runs/{run_id}/series?limit=200", "/health"]
    out: list[float] = []
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    async with httpx.AsyncClient(base_url=api, timeout=60, limits=limits) as http:

        async def one(c: int) -> None:
            for i in range(per_client):
                t = time.perf_counter()
                resp = await http.get(paths[(c + i) % len(paths)])
                out.append(time.perf_counter() - t)
                resp.raise_for_status()

        await asyncio.gather(*(one(c) for c in range(clients)))
    return out

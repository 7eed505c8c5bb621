"""``python -m bench load``: a lecture hall on one live run, API reads under load, envelopes of a long run.

Starts its own lab (``noether up`` with no worker: an embedded Redis and the web server) in a
temporary directory and plays the worker itself with the worker's code (``workers.task.Attempt``),
so that runs are as long and as fast as the benchmark needs. Measures:

1. followers of one live run: the run publishes ``--batches`` batches of ``--batch`` records every
   ``--interval`` s (a worker publishes every 0.1 s); every follower must get every point once, in
   order. Publish-to-client latency (the batch's wall-clock stamp in the stream to its arrival at each
   follower), p50/p95, with ``--followers`` followers against 1 follower (the baseline);
2. API reads (a run, the run list, a series page, health) at ``--clients`` concurrent clients against
   1 client, p50/p99 (the same mix as ``python -m bench api``);
3. ``--envelopes`` concurrent ``GET /series?points=100`` of a ``--records``-record run: wall time,
   per-request p50/max against one request alone, and the web process's peak memory (VmHWM) and
   resident memory before and after, read from /proc.

Keep it to one run on a quiet machine; the numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets

from bench._common import Lab, latency_under_load, ms, pct
from workers import keys, records
from workers.job import Status
from workers.task import Attempt

COMPRESSION = os.environ.get("BENCH_WS_COMPRESSION", "deflate") or None
SPEC = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.0001},
        "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}, "steps": 10}


def record(i: int) -> dict[str, Any]:
    """A record shaped like a sphere run's (the toy of Fig. 1): 9 curves and 4 views."""
    t = 0.01 * i
    c, s = math.cos(t), math.sin(t)
    return {"step": i, "t": t, "loss": 0.5 * (1 + 0.1 * s) ** 2, "angular_momentum": 0.51 + 1e-7 * s,
            "angular_momentum:pred": 0.51, "rotation_residual": 4e-9 * c, "rotation_residual:pred": 0.0,
            "orbit_plane": 2.7e-9 * s, "orbit_plane:pred": 0.0, "energy": 0.1316 + 1e-6 * c, "energy:pred": 0.1316,
            "angular_momentum:vector": [0.02, -0.1, 0.5], "position": [c, s, 0.005], "velocity": [-s, c, 0.1]}


class Player:
    """The worker's side of one run: start it, publish batches with ``Attempt.flush``, finish it."""

    def __init__(self, lab: Lab, run_id: str):
        self.r = redis.Redis.from_url(lab.redis_url)
        rec = httpx.post(f"{lab.api}/runs", json={"id": run_id, "spec": SPEC}, timeout=30)
        rec.raise_for_status()
        if not records.start(self.r, run_id, 1, worker="bench", device="cpu", lease_ms=3_600_000,
                             client_key=keys.client_queued(rec.json().get("client") or "")):
            raise RuntimeError(f"run {run_id} did not start")
        self.attempt = Attempt(self.r, lab.settings, run_id, 1)
        self.n = 0

    def publish(self, count: int) -> None:
        self.attempt.flush([record(i) for i in range(self.n, self.n + count)])
        self.n += count

    def finish(self) -> None:
        records.finish(self.r, self.attempt.run_id, 1, Status.SUCCEEDED, step=self.n, progress=1.0)
        self.r.close()


# --- 1. a lecture hall ----------------------------------------------------------------------------


def lecture_hall(lab: Lab, run_id: str, followers: int, batches: int, batch: int, interval: float) -> dict[str, Any]:
    """Publish-to-client latencies of ``followers`` followers of one run, and whether each got every point."""
    url = lab.api.replace("http://", "ws://") + f"/runs/{run_id}/stream"
    player = Player(lab, run_id)
    ready = threading.Event()
    results: list[tuple[list[int], list[tuple[int, float]]] | str] = []

    async def one(opened: list[int]) -> None:
        steps: list[int] = []
        arrivals: list[tuple[int, float]] = []
        try:
            async with websockets.connect(url, open_timeout=120, max_size=2**26, compression=COMPRESSION) as ws:
                opened.append(1)
                if len(opened) == followers:
                    ready.set()
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 300))
                    now = time.time()
                    if "records" in msg:
                        steps += [r["step"] for r in msg["records"]]
                        arrivals.append((msg["cursor"], now))
                    elif msg.get("done"):
                        break
                    else:
                        results.append(f"unexpected message {msg}")
                        return
        except Exception as exc:  # noqa: BLE001 - counted as a follower that did not get every point
            results.append(repr(exc))
            ready.set()
            return
        results.append((steps, arrivals))

    async def hall() -> None:
        opened: list[int] = []
        await asyncio.gather(*(one(opened) for _ in range(followers)))

    thread = threading.Thread(target=lambda: asyncio.run(hall()))
    thread.start()
    ready.wait(300)
    for _ in range(batches):
        player.publish(batch)
        time.sleep(interval)
    player.finish()
    thread.join(600)
    r = redis.Redis.from_url(lab.redis_url)
    published = {}
    for entry_id, fields in r.xrange(keys.series(run_id)):
        index, kind = keys.entry_index(entry_id)
        if kind == 1:
            published[index + int(fields[b"n"])] = int(fields[b"w"]) / 1000
    r.close()
    expected = list(range(batches * batch))
    complete = sum(1 for x in results if not isinstance(x, str) and x[0] == expected)
    lat = [at - published[c] for x in results if not isinstance(x, str) for c, at in x[1] if c in published]
    errors = [x for x in results if isinstance(x, str)]
    return {"complete": complete, "followers": followers, "lat": lat, "errors": errors}


# --- 3. envelopes of a long run -------------------------------------------------------------------


async def envelope_reads(api: str, run_id: str, n: int) -> tuple[float, list[float], list[int]]:
    """``n`` concurrent ``?points=100`` reads: (wall time, per-request times, status codes)."""
    limits = httpx.Limits(max_connections=n + 5)
    async with httpx.AsyncClient(base_url=api, timeout=300, limits=limits) as http:

        async def one() -> tuple[float, int]:
            t = time.perf_counter()
            res = await http.get(f"/runs/{run_id}/series", params={"points": 100})
            return time.perf_counter() - t, res.status_code

        t0 = time.perf_counter()
        got = await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - t0, [g[0] for g in got], [g[1] for g in got]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench load", description=__doc__.splitlines()[0])
    ap.add_argument("--followers", type=int, default=200)
    ap.add_argument("--batches", type=int, default=100, help="batches the followed run publishes")
    ap.add_argument("--batch", type=int, default=10, help="records per batch")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between batches (a worker: 0.1)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="requests per client")
    ap.add_argument("--records", type=int, default=200_000, help="records of the long run")
    ap.add_argument("--envelopes", type=int, default=12, help="concurrent envelope reads")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="noether-bench-load-"))
    lab = Lab(root, workers=0)
    try:
        lab.wait()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"lab at {lab.url} (web pid {lab.proc.pid}); {os.cpu_count()} CPUs, load average {load}", flush=True)

        # 1. followers of one live run, against one follower
        base = lecture_hall(lab, f"bench-hall-1-{os.getpid()}", 1, args.batches, args.batch, args.interval)
        hall = lecture_hall(lab, f"bench-hall-n-{os.getpid()}", args.followers, args.batches, args.batch,
                            args.interval)
        points = args.batches * args.batch
        for name, res in (("1 follower", base), (f"{args.followers} followers", hall)):
            lat = res["lat"] or [math.nan]
            print(f"live run, {name}: {res['complete']}/{res['followers']} got all {points} points; publish -> "
                  f"client p50 {ms(pct(lat, .5))}  p95 {ms(pct(lat, .95))}  ({len(res['lat'])} deliveries)"
                  + (f"; errors: {res['errors'][:3]}" if res["errors"] else ""), flush=True)
        if base["lat"] and hall["lat"]:
            print(f"  p95 ratio {args.followers} followers / 1: {pct(hall['lat'], .95) / pct(base['lat'], .95):.1f}x")

        # 2. API reads at 50 clients, against 1
        seed = Player(lab, f"bench-seed-{os.getpid()}")
        seed.publish(200)
        seed.finish()
        one = asyncio.run(latency_under_load(lab.api, seed.attempt.run_id, 1, args.requests * 4))
        many = asyncio.run(latency_under_load(lab.api, seed.attempt.run_id, args.clients, args.requests))
        print(f"API reads, 1 client ({len(one)} requests):   p50 {ms(pct(one, .5))}  p99 {ms(pct(one, .99))}")
        print(f"API reads, {args.clients} clients ({len(many)} requests): p50 {ms(pct(many, .5))}  "
              f"p99 {ms(pct(many, .99))}  (p99 ratio to 1 client: {pct(many, .99) / pct(one, .99):.1f}x)", flush=True)

        # 3. envelopes of a long run
        long_run = Player(lab, f"bench-long-{os.getpid()}")
        t = time.perf_counter()
        while long_run.n < args.records:
            long_run.publish(min(2000, args.records - long_run.n))
        long_run.finish()
        print(f"published a {args.records}-record run in {time.perf_counter() - t:.1f} s", flush=True)
        run_id = long_run.attempt.run_id
        fresh = lab.reset_peak()
        mem0 = lab.memory()
        alone, times1, codes1 = asyncio.run(envelope_reads(lab.api, run_id, 1))
        wall, times, codes = asyncio.run(envelope_reads(lab.api, run_id, args.envelopes))
        mem1 = lab.memory()
        print(f"envelope (?points=100) of {args.records} records, 1 read: {ms(alone)}; {args.envelopes} at once: "
              f"{ms(wall)} in all, p50 {ms(pct(times, .5))}  max {ms(max(times))}  (statuses {sorted(set(codes))}; "
              f"p50 ratio to 1 read: {pct(times, .5) / alone:.1f}x)")
        print(f"web process memory: {mem0.get('VmRSS', 0) / 1024:.0f} MB before the envelope reads, "
              f"{mem1.get('VmRSS', 0) / 1024:.0f} MB after, peak {mem1.get('VmHWM', 0) / 1024:.0f} MB "
              f"{'during them' if fresh else 'since the lab started'}", flush=True)
        ok = hall["complete"] == args.followers and base["complete"] == 1 and set(codes) == {200}
        return 0 if ok else 1
    finally:
        lab.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

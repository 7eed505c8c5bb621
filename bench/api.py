"""``python -m bench api``: API latency under 50 concurrent clients, submit-to-first-point, and record-to-browser.

Starts its own lab (``noether up``: an embedded Redis, one worker, the web server) in a temporary
directory, then measures:

1. API latency (p50/p99) of a mix of reads (a run, the run list, a series page, health) under
   ``--clients`` concurrent clients, against the same mix from one client (the baseline: the ratio
   says what concurrency costs on this machine);
2. submit to first point: POST /api/runs, then the first record on the run's WebSocket (p50/max),
   split into queue + start (created_at -> started_at, from the job record) and the rest;
3. worker publish to WebSocket client: for every batch a worker publishes (stamped with the wall
   clock when it is written to the run's stream) the time until a WebSocket client receives it
   (p50/p99). Records wait up to ``publish_interval`` (0.1 s) in the worker before they are published
   in a batch: that batching delay comes on top, by design.

Keep runs short on a shared machine; final numbers belong on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import redis
import websockets

from bench._common import Lab, latency_under_load, ms, pct
from workers import keys

SPHERE = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.0001},
          "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}}


def submit_and_wait(api: str, spec: dict, run_id: str | None = None, timeout: float = 120) -> dict:
    body = {"spec": spec}
    if run_id:
        body["id"] = run_id
    rec = httpx.post(f"{api}/runs", json=body, timeout=30).json()
    deadline = time.monotonic() + timeout
    while rec["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {rec['id']} did not finish")
        time.sleep(0.05)
        rec = httpx.get(f"{api}/runs/{rec['id']}", timeout=30).json()
    return rec


# --- 2 and 3. streams ----------------------------------------------------------------------------


async def submit_to_first_point(api: str, n: int) -> tuple[list[float], list[float]]:
    """(submit -> first record on the WebSocket, created_at -> started_at) for ``n`` runs, one at a time."""
    firsts, starts = [], []
    ws_base = api.replace("http://", "ws://")
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        for i in range(n):
            run_id = f"bench-first-{os.getpid()}-{i}"
            t = time.perf_counter()
            resp = await http.post("/runs", json={"id": run_id, "spec": {**SPHERE, "steps": 20}})
            resp.raise_for_status()
            async with websockets.connect(f"{ws_base}/runs/{run_id}/stream") as ws:
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("records"):
                        firsts.append(time.perf_counter() - t)
                        break
                    if msg.get("done") or msg.get("error"):
                        raise RuntimeError(f"run {run_id} ended without records: {msg}")
            rec = (await http.get(f"/runs/{run_id}")).json()
            starts.append(_seconds(rec["created_at"], rec["started_at"]))
    return firsts, starts


def _seconds(a: str, b: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return (datetime.strptime(b, fmt) - datetime.strptime(a, fmt)).total_seconds()


async def publish_to_client(api: str, redis_url: str, steps: int, followers: int) -> list[float]:
    """Latency from a batch's publish (its wall-clock stamp in the stream) to its arrival at each follower."""
    run_id = f"bench-stream-{os.getpid()}"
    ws_url = api.replace("http://", "ws://") + f"/runs/{run_id}/stream"
    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(followers)]

    async def follow(k: int) -> None:
        async with websockets.connect(ws_url, max_size=2**26) as ws:
            while True:
                msg = json.loads(await ws.recv())
                now = time.time()
                if msg.get("done") or msg.get("error"):
                    return
                if "records" in msg:
                    arrivals[k].append((msg["cursor"], now))

    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        (await http.post("/runs", json={"id": run_id, "spec": {**SPHERE, "steps": steps}})).raise_for_status()
    await asyncio.gather(*(follow(k) for k in range(followers)))
    r = redis.Redis.from_url(redis_url)
    published = {}  # cursor after the batch -> publish wall clock (s)
    for entry_id, fields in r.xrange(keys.series(run_id)):
        index, kind = keys.entry_index(entry_id)
        if kind == 1:
            published[index + int(fields[b"n"])] = int(fields[b"w"]) / 1000
    r.close()
    lat = []
    for per in arrivals:
        for cursor, at in per:
            if cursor in published:  # a message made of exactly one live batch
                lat.append(at - published[cursor])
    return lat


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="requests per client")
    ap.add_argument("--firsts", type=int, default=10, help="runs for submit-to-first-point")
    ap.add_argument("--steps", type=int, default=3000, help="steps of the streamed run (record every step)")
    ap.add_argument("--followers", type=int, default=5, help="WebSocket clients following the streamed run")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="noether-bench-api-"))
    lab = Lab(root)
    try:
        t = time.perf_counter()
        lab.wait()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"lab up in {time.perf_counter() - t:.1f} s at {lab.url}; {os.cpu_count()} CPUs, load average {load}")
        seed = submit_and_wait(lab.api, {**SPHERE, "steps": 200}, f"bench-seed-{os.getpid()}")
        base = asyncio.run(latency_under_load(lab.api, seed["id"], 1, args.requests * 4))
        loaded = asyncio.run(latency_under_load(lab.api, seed["id"], args.clients, args.requests))
        print(f"API reads, 1 client ({len(base)} requests):   p50 {ms(pct(base, .5))}  p99 {ms(pct(base, .99))}")
        print(f"API reads, {args.clients} clients ({len(loaded)} requests): p50 {ms(pct(loaded, .5))}  "
              f"p99 {ms(pct(loaded, .99))}  (p50 ratio to 1 client: {pct(loaded, .5) / pct(base, .5):.1f}x)")

        firsts, starts = asyncio.run(submit_to_first_point(lab.api, args.firsts))
        print(f"submit -> first point ({len(firsts)} runs): p50 {ms(statistics.median(firsts))}  "
              f"max {ms(max(firsts))}  (of which queue+start p50 {ms(statistics.median(starts))})")

        lat = asyncio.run(publish_to_client(lab.api, lab.redis_url, args.steps, args.followers))
        if lat:
            print(f"worker publish -> WebSocket client ({len(lat)} batches x clients, {args.followers} clients): "
                  f"p50 {ms(pct(lat, .5))}  p99 {ms(pct(lat, .99))}  (+ up to 100 ms batching in the worker)")
        else:
            print("worker publish -> WebSocket client: no live batches observed (the run was too short)")
        return 0
    finally:
        lab.stop()

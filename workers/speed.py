"""How long a preset takes here: estimated from the speed its recent runs measured on this lab's workers.

A card's promise ("about 45 s") was a guess from another machine; under load it took 2 min 10 s. The
estimate comes from the run index instead: the last ``RECENT`` runs of the same preset that succeeded,
each run's wall time scaled to the preset's step count (the worker's own steps per second for that model
and dynamics, with its start-up cost), and their median. With no such run yet it falls back to the
preset's ``runtime``, a conservative figure for 2 busy CPU cores, and says so.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import redis

from workers import keys

RECENT = 5  # runs of a preset whose speed counts


def format_duration(seconds: float) -> str:
    """'40 s', '2 min 10 s', '1 h 05 min'."""
    s = int(round(seconds))
    if s < 60:
        return f"{max(s, 1)} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def estimate(steps: int, fallback: str, summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The runtime of ``steps`` steps from finished runs' summaries (newest first), or the fallback text."""
    scaled = []
    rates = []
    for s in summaries[:RECENT]:
        done, wall = s.get("steps_done") or 0, s.get("wall_time_s") or 0.0
        if done > 0 and wall > 0:
            scaled.append(wall * steps / done)
            rates.append(done / wall)
    if not scaled:
        return {"seconds": None, "basis": "default",
                "text": f"{fallback} (a conservative estimate for 2 busy CPU cores: no run of it measured here yet)"}
    seconds = statistics.median(scaled)
    n = len(scaled)
    return {"seconds": seconds, "basis": "measured", "runs": n, "steps_per_s": statistics.median(rates),
            "text": f"about {format_duration(seconds)} (measured here: {'median of ' if n > 1 else ''}{n} recent "
                    f"run{'s' if n > 1 else ''} at {statistics.median(rates):,.0f} steps/s)"}


def recent_summaries(r: redis.Redis) -> dict[str, list[dict[str, Any]]]:
    """Per preset name, the summaries of its newest ``RECENT`` runs that succeeded (newest first).

    Two round trips for every preset together: the index's status, preset and group fields, then the
    chosen runs' summaries. Runs of a sweep (a group) and runs without a preset do not count.
    """
    ids = [i.decode() for i in r.zrevrange(keys.RUNS, 0, -1)]
    with r.pipeline(transaction=False) as pipe:
        for run_id in ids:
            pipe.hmget(keys.run(run_id), "status", "preset", "group")
        rows = pipe.execute()
    chosen: dict[str, list[str]] = {}
    for run_id, (status, preset, group) in zip(ids, rows, strict=True):
        if status != b"succeeded" or not preset or group:
            continue
        picked = chosen.setdefault(preset.decode(), [])
        if len(picked) < RECENT:
            picked.append(run_id)
    flat = [(name, run_id) for name, run_ids in chosen.items() for run_id in run_ids]
    with r.pipeline(transaction=False) as pipe:
        for _, run_id in flat:
            pipe.hget(keys.run(run_id), "summary")
        raws = pipe.execute()
    out: dict[str, list[dict[str, Any]]] = {}
    for (name, _), raw in zip(flat, raws, strict=True):
        try:
            summary = json.loads(raw) if raw else None
        except ValueError:
            summary = None
        if isinstance(summary, dict):
            out.setdefault(name, []).append(summary)
    return out

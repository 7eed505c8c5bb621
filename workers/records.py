"""The job record: one Redis hash per run, the source of truth for the UI, and its state transitions.

Status moves ``queued -> running -> succeeded | failed | cancelled | diverged``; a run whose worker
is lost goes back to ``queued`` (attempt + 1) or ends ``failed`` ("worker lost"). Every transition is
one atomic compare-and-set (a Lua script, or WATCH/MULTI where the queue library's enqueue must join
the same transaction), fenced by the attempt number: an attempt that has been superseded can
neither publish records nor finish the run.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from redis.commands.core import Script

from workers import keys

QUEUED, RUNNING = "queued", "running"
SUCCEEDED, FAILED, CANCELLED, DIVERGED = "succeeded", "failed", "cancelled", "diverged"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED, DIVERGED)
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, DIVERGED})

_INT = {"step", "steps", "attempt"}
_FLOAT = {"progress"}
_JSON = {"tags", "spec", "summary"}
_BOOL = {"cancel_requested", "archived"}
_NULLABLE = {"started_at", "finished_at", "worker", "reason", "preset", "group", "summary", "device"}

# The fields of the public record, in the order the API shows them.
PUBLIC_FIELDS = (
    "id", "kind", "status", "reason", "created_at", "started_at", "finished_at", "worker", "device",
    "progress", "step", "steps", "attempt", "preset", "name", "dynamics", "tags", "note", "group",
    "spec", "summary", "archived",
)


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-27T10:00:00.123Z."""
    return (t or now()).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_ms() -> int:
    return int(now().timestamp() * 1000)


def server_now(r: Any) -> datetime:
    """Redis's clock (TIME): the timestamps that workers on several hosts write agree with each other and
    with the lease (a TTL that Redis counts), whatever each host's own clock says."""
    sec, usec = r.time()
    return datetime.fromtimestamp(int(sec) + int(usec) / 1e6, UTC)


def server_ms(r: Any) -> int:
    return int(server_now(r).timestamp() * 1000)


def finite(obj: Any) -> Any:
    """The same structure with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Compact JSON of ``obj`` with non-finite numbers as null."""
    return json.dumps(finite(obj), separators=(",", ":"), allow_nan=False)


def encode(fields: dict[str, Any]) -> dict[str, str]:
    """Hash field values (strings) from Python values."""
    out = {}
    for name, value in fields.items():
        if name in _JSON:
            out[name] = "" if value is None else dumps(value)
        elif name in _BOOL:
            out[name] = "1" if value else "0"
        elif value is None:
            out[name] = ""
        else:
            out[name] = str(value)
    return out


def decode(raw: dict[bytes, bytes] | dict[str, str]) -> dict[str, Any]:
    """Python values from a hash as Redis returns it."""
    rec: dict[str, Any] = {}
    for k, v in raw.items():
        name = k.decode() if isinstance(k, bytes) else k
        text = v.decode() if isinstance(v, bytes) else v
        if name in _JSON:
            rec[name] = json.loads(text) if text else None
        elif name in _INT:
            rec[name] = int(text) if text else 0
        elif name in _FLOAT:
            rec[name] = float(text) if text else 0.0
        elif name in _BOOL:
            rec[name] = text == "1"
        elif name in _NULLABLE and text == "":
            rec[name] = None
        else:
            rec[name] = text
    if rec.get("tags") is None and "tags" in rec:
        rec["tags"] = []
    return rec


def public(rec: dict[str, Any], *, with_spec: bool = True) -> dict[str, Any]:
    """The record as the API shows it (internal bookkeeping fields left out)."""
    out = {name: rec.get(name) for name in PUBLIC_FIELDS}
    out["tags"] = out["tags"] or []
    out["note"] = out["note"] or ""
    out["name"] = out["name"] or ""
    out["progress"] = out["progress"] or 0.0
    out["step"] = out["step"] or 0
    out["steps"] = out["steps"] or 0
    out["attempt"] = out["attempt"] or 0
    out["archived"] = bool(out["archived"])  # false until the run store holds the finished run
    if not with_spec:
        out.pop("spec")
    return out


def get(r: Any, run_id: str) -> dict[str, Any] | None:
    """The decoded record, or None if Redis does not know the run."""
    raw = r.hgetall(keys.run(run_id))
    return decode(raw) if raw else None


# --- transitions ---------------------------------------------------------------------------------

_START = Script(None, b"""
local r = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if r[1] ~= 'queued' or tonumber(r[2] or '0') + 1 ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'status', 'running', 'attempt', ARGV[1], 'started_at', ARGV[2],
           'worker', ARGV[3], 'device', ARGV[6], 'reason', '', 'step', '0', 'progress', '0')
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('SREM', KEYS[4], ARGV[5])
return 1
""")

_HEARTBEAT = Script(None, b"""
local r = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'cancel_requested')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
if r[3] == '1' then return 1 end
return 0
""")

_PUBLISH = Script(None, b"""
local r = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
if ARGV[2] == '0-1' then redis.call('DEL', KEYS[3]) end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], ARGV[2], 'b', ARGV[3], 'n', ARGV[5], 'w', ARGV[6])
redis.call('HSET', KEYS[1], 'step', ARGV[7], 'progress', ARGV[8])
if #ARGV > 8 then redis.call('HSET', KEYS[3], unpack(ARGV, 9)) end
return 1
""")

# n, the number of records in the stream, is read here from its last batch so that the end marker
# always follows the last batch, whoever finishes the run (the worker, or the API forcing a cancel).
STREAM_LENGTH = """
local last = redis.call('XREVRANGE', {key}, '+', '-', 'COUNT', 1)
local n = 0
if #last > 0 then
  local i0 = tonumber(string.match(last[1][1], '^(%d+)-'))
  local f = last[1][2]
  local cnt = 0
  for k = 1, #f, 2 do if f[k] == 'n' then cnt = tonumber(f[k + 1]) end end
  n = i0 + cnt
end
"""  # Lua: n, the records in the stream at {key}, from its last batch (id <first record>-1, field n)
_END_MARKER = STREAM_LENGTH.format(key="KEYS[4]") + """redis.call('XADD', KEYS[4], n .. '-2', 'done', STATUS)
"""

_FINISH = Script(None, ("""
local r = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if r[1] ~= 'running' or r[2] ~= ARGV[1] then return 0 end
local STATUS = ARGV[2]
redis.call('HSET', KEYS[1], 'status', STATUS, 'reason', ARGV[3], 'finished_at', ARGV[4], 'cancel_requested', '0')
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'summary', ARGV[5]) end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'step', ARGV[8], 'progress', ARGV[9]) end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[7])
""" + _END_MARKER + """
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[7])
return 1
""").encode())

_CANCEL = Script(None, ("""
local r = redis.call('HMGET', KEYS[1], 'status', 'rq_job')
if r[1] == 'queued' then
  local STATUS = 'cancelled'
  redis.call('HSET', KEYS[1], 'status', STATUS, 'reason', ARGV[1], 'finished_at', ARGV[2])
  redis.call('SREM', KEYS[2], ARGV[4])
""" + _END_MARKER + """
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[4])
  if r[2] then
    redis.call('LREM', KEYS[3], 0, r[2])
    redis.call('DEL', ARGV[5] .. r[2])
  end
  return 1
elseif r[1] == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1')
  return 2
end
return 0
""").encode())


def start(r: Any, run_id: str, attempt: int, *, worker: str, device: str, lease_ms: int, client_key: str) -> bool:
    """queued -> running for ``attempt``; False if the run was cancelled, deleted or superseded meanwhile."""
    return bool(
        _START(
            keys=[keys.run(run_id), keys.lease(run_id), keys.RUNNING, client_key],
            args=[attempt, iso(server_now(r)), worker, lease_ms, run_id, device],
            client=r,
        )
    )


def heartbeat(r: Any, run_id: str, attempt: int, lease_ms: int) -> int:
    """Renew the lease: -1 if this attempt is superseded (stop, publish nothing), 1 if cancel was asked, else 0."""
    return int(_HEARTBEAT(keys=[keys.run(run_id), keys.lease(run_id)], args=[attempt, lease_ms], client=r))


def publish(
    r: Any, run_id: str, attempt: int, *, first_index: int, payload: bytes, count: int, maxlen: int,
    step: int, progress: float, wallclock_ms: int, envelope: dict[str, bytes] | None = None,
) -> bool:
    """Append one batch to the run's stream and update its progress, if ``attempt`` is still current.

    ``envelope``: fields of the run's envelope hash written in the same step (the blocks the batch
    completes and the new meta, see envelopes.py); the first batch of an attempt clears the hash.
    """
    extra = [x for kv in (envelope or {}).items() for x in kv]
    return bool(
        _PUBLISH(
            keys=[keys.run(run_id), keys.series(run_id), keys.envelope(run_id)],
            args=[attempt, keys.batch_id(first_index), payload, maxlen, count, wallclock_ms, step, f"{progress:.6g}",
                  *extra],
            client=r,
        )
    )


def finish(
    r: Any, run_id: str, attempt: int, status: str, *, reason: str = "", summary: Any = None,
    step: int | None = None, progress: float | None = None, at: datetime | None = None,
) -> bool:
    """running -> a terminal status for ``attempt``; writes the stream's end marker. False if fenced out.

    ``at``: the finish time, when ``r`` is a transaction that cannot ask Redis's clock (default: Redis TIME).
    """
    assert status in TERMINAL, status
    t = at or server_now(r)
    return bool(
        _FINISH(
            keys=[keys.run(run_id), keys.lease(run_id), keys.RUNNING, keys.series(run_id), keys.UNARCHIVED],
            args=[
                attempt, status, reason, iso(t), "" if summary is None else dumps(summary), int(t.timestamp() * 1000), run_id,
                "" if step is None else step, "" if progress is None else f"{progress:.6g}",
            ],
            client=r,
        )
    )


def request_cancel(r: Any, run_id: str, *, client_key: str, rq_queue_key: str, rq_job_prefix: str) -> int:
    """Cancel a queued run at once (1), flag a running one for its worker (2), or do nothing (0)."""
    t = server_now(r)
    return int(
        _CANCEL(
            keys=[keys.run(run_id), client_key, rq_queue_key, keys.series(run_id), keys.UNARCHIVED],
            args=["cancelled before it started", iso(t), int(t.timestamp() * 1000), run_id, rq_job_prefix],
            client=r,
        )
    )

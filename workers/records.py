"""The job record's transitions: one Redis hash per run (``job.Job``), changed only by atomic compare-and-sets.

Status moves ``queued -> running -> succeeded | failed | cancelled | diverged``; a run whose worker
is lost goes back to ``queued`` (attempt + 1) or ends ``failed`` ("worker lost"). Every transition is
one atomic compare-and-set (a Lua script, or WATCH/MULTI where the queue library's enqueue must join
the same transaction), fenced by the attempt number: an attempt that has been superseded can
neither publish records nor finish the run. The record's fields and their encoding are in job.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.commands.core import Script

from workers import keys
from workers.job import TERMINAL, CancelOutcome, Job, Lease, Status, dumps


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


def get(r: Any, run_id: str) -> Job | None:
    """The record, or None if Redis does not know the run."""
    raw = r.hgetall(keys.run(run_id))
    return Job.from_hash(raw) if raw else None


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


def heartbeat(r: Any, run_id: str, attempt: int, lease_ms: int) -> Lease:
    """Renew the lease: SUPERSEDED (stop, publish nothing), CANCEL_ASKED, or HELD."""
    return Lease(int(_HEARTBEAT(keys=[keys.run(run_id), keys.lease(run_id)], args=[attempt, lease_ms], client=r)))


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
    r: Any, run_id: str, attempt: int, status: Status, *, reason: str = "", summary: Any = None,
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


def request_cancel(r: Any, run_id: str, *, client_key: str, rq_queue_key: str, rq_job_prefix: str) -> CancelOutcome:
    """Cancel a queued run at once (CANCELLED), flag a running one for its worker (FLAGGED), or do nothing."""
    t = server_now(r)
    return CancelOutcome(
        _CANCEL(
            keys=[keys.run(run_id), client_key, rq_queue_key, keys.series(run_id), keys.UNARCHIVED],
            args=["cancelled before it started", iso(t), int(t.timestamp() * 1000), run_id, rq_job_prefix],
            client=r,
        )
    )

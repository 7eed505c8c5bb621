"""The Redis key schema: every key Noether Lab writes, in one place.

==========================================  =======  ===================================================
key                                         type     what it holds
==========================================  =======  ===================================================
``noether:run:<id>``                        hash     the job record (source of truth; see records.py)
``noether:runs``                            zset     every run id, scored by creation time (ms)
``noether:running``                         set      ids whose record says running (the reaper scans it)
``noether:unarchived``                      zset     finished ids not yet in the run store, by finish ms
``noether:lease:<id>``                      string   the running attempt's number, with a TTL it renews
``noether:series:<id>``                     stream   the run's records in msgpack batches (series.py)
``noether:envelope:<id>``                   hash     its min/max envelopes at several resolutions (envelopes.py)
``noether:client:<hash>:queued``            set      queued ids of one client (the per-client limit)
``noether:workers:<name>``                  hash     a worker's device and start time (TTL, renewed)
``noether:hold:<id>``                       string   while it exists the run pauses at its next publish (tests)
``noether:store-indexed``                   string   set once the run store has been indexed into Redis
``rq:*``                                    (RQ)     the queue library's own keys: a delivery mechanism
==========================================  =======  ===================================================

Stream entry ids encode the series position: a batch whose first record is the ``i``-th of the run
(0-based) has id ``<i>-1``; the end marker of a run with ``n`` records has id ``<n>-2``. So
``XREVRANGE series <i>-1 - COUNT 1`` finds the batch holding record ``i`` without scanning.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "noether"

RUNS = f"{PREFIX}:runs"
RUNNING = f"{PREFIX}:running"
UNARCHIVED = f"{PREFIX}:unarchived"
STORE_INDEXED = f"{PREFIX}:store-indexed"
WORKERS_PATTERN = f"{PREFIX}:workers:*"

RUN_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def run(run_id: str) -> str:
    """The job record hash."""
    return f"{PREFIX}:run:{run_id}"


def series(run_id: str) -> str:
    """The run's record stream."""
    return f"{PREFIX}:series:{run_id}"


def envelope(run_id: str) -> str:
    """The run's envelope levels (hash: ``meta`` and ``<level>:<index>`` blocks, see envelopes.py)."""
    return f"{PREFIX}:envelope:{run_id}"


def lease(run_id: str) -> str:
    """The running attempt's lease (string with TTL)."""
    return f"{PREFIX}:lease:{run_id}"


def client_queued(client: str) -> str:
    """Queued run ids of one client; the client string is hashed so any header value makes a safe key."""
    digest = hashlib.sha256(client.encode("utf-8", "replace")).hexdigest()[:16]
    return f"{PREFIX}:client:{digest}:queued"


def worker(name: str) -> str:
    """A worker's presence hash (expires unless renewed)."""
    return f"{PREFIX}:workers:{name}"


def hold(run_id: str) -> str:
    """While this key exists, the run's work horse pauses at its next publish (a hook that lets tests pace a run)."""
    return f"{PREFIX}:hold:{run_id}"


def rq_job_id(run_id: str, attempt: int) -> str:
    """The RQ job id of one attempt of a run (an RQ job is one delivery, the run is the record)."""
    return f"{run_id}_a{attempt}"


def batch_id(first_index: int) -> str:
    """Stream entry id of a batch whose first record is the ``first_index``-th of the run."""
    return f"{first_index}-1"


def end_id(n_records: int) -> str:
    """Stream entry id of the end marker of a run with ``n_records`` records."""
    return f"{n_records}-2"


def entry_index(entry_id: bytes | str) -> tuple[int, int]:
    """(record index, kind) of a stream entry id: kind 1 is a batch, 2 the end marker."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, seq = text.split("-")
    return int(ms), int(seq)

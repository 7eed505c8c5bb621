"""Worker names and registrations: a new process never collides with the registration of a dead one.

RQ refuses to start a worker whose name is still registered (``rq:worker:<name>`` without a death
mark). A SIGKILLed worker never marks its death, and its registration survives for the worker TTL
(7 minutes), also through a Redis restart from the append-only file. So:

- default names are unique per process start (host, pid and a random suffix: in a container the
  host name and the pid are the same after every restart);
- a worker started with an explicit name first clears that name's registration if it provably
  belongs to a dead process (same host, pid not running);
- a supervisor clears the registrations of a child it saw die (``forget``), so that ``/api/health``
  counts it as gone at once instead of when its presence expires.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from typing import Any

import redis
from rq import Worker
from rq import worker_registration as rq_registration

from workers import keys
from workers.proc import pid_alive

log = logging.getLogger(__name__)


def unique_name(base: str | None = None) -> str:
    """``<base>-<6 hex>`` (base defaults to ``<host>-<pid>``): unique for this process start."""
    return f"{base or f'{socket.gethostname()}-{os.getpid()}'}-{secrets.token_hex(3)}"


def rq_key(name: str) -> str:
    """RQ's registration hash of a worker."""
    return Worker.redis_worker_namespace_prefix + name


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def _unregister(r: redis.Redis, name: str, queues: str) -> None:
    key = rq_key(name)
    with r.pipeline() as pipe:
        pipe.srem(rq_registration.REDIS_WORKER_KEYS, key)
        for queue in filter(None, queues.split(",")):
            pipe.srem(rq_registration.WORKERS_BY_QUEUE_KEY % queue, key)
        pipe.delete(key, keys.worker(name))
        pipe.execute()


def clear_if_dead(r: redis.Redis, name: str) -> bool:
    """Remove ``name``'s registration if it is held by a process of this host that no longer runs.

    Returns True if a stale registration was removed. A registration of another host, or of a
    running process, is left alone (RQ then refuses the name, as it should).
    """
    fields = r.hmget(rq_key(name), "hostname", "pid", "death", "queues")
    hostname, pid, death, queues = (_text(f) for f in fields)
    if not hostname or death:
        return False
    if hostname != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid() or pid_alive(int(pid)):
        return False
    _unregister(r, name, queues)
    log.warning("cleared the registration of worker %s (pid %s is no longer running)", name, pid)
    return True


def forget(r: redis.Redis, name: str, pid: int) -> None:
    """A supervisor saw worker ``name`` (process ``pid``) die: drop its registration and its presence."""
    registered_pid = _text(r.hget(rq_key(name), "pid"))
    queues = _text(r.hget(rq_key(name), "queues"))
    if registered_pid in ("", str(pid)):
        _unregister(r, name, queues)
    else:  # the name was reused by another process meanwhile: leave it
        return

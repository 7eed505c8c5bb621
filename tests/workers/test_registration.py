"""Worker names never collide with the registration a SIGKILLed worker left in Redis."""

from __future__ import annotations

import os
import socket
import subprocess

from workers import keys, registration


def registered(r, name: str, *, pid: int, host: str | None = None) -> None:
    """A registration as RQ writes it for a live worker (no death mark), and our presence key."""
    r.hset(registration.rq_key(name), mapping={"hostname": host or socket.gethostname(), "pid": pid,
                                                "queues": "noether"})
    r.sadd("rq:workers", registration.rq_key(name))
    r.hset(keys.worker(name), mapping={"name": name, "pid": pid})


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_default_names_are_unique_per_start():
    assert len({registration.unique_name() for _ in range(100)}) == 100
    assert registration.unique_name().startswith(f"{socket.gethostname()}-{os.getpid()}-")


def test_a_registration_left_by_a_dead_process_of_this_host_is_cleared(clean_redis):
    registered(clean_redis, "w-stale", pid=dead_pid())
    assert registration.clear_if_dead(clean_redis, "w-stale")
    assert not clean_redis.exists(registration.rq_key("w-stale"), keys.worker("w-stale"))
    assert not clean_redis.sismember("rq:workers", registration.rq_key("w-stale"))


def test_a_live_or_foreign_registration_is_left_alone(clean_redis):
    registered(clean_redis, "w-live", pid=os.getppid())
    registered(clean_redis, "w-remote", pid=dead_pid(), host="another-host")
    assert not registration.clear_if_dead(clean_redis, "w-live")
    assert not registration.clear_if_dead(clean_redis, "w-remote")
    assert clean_redis.exists(registration.rq_key("w-live"), registration.rq_key("w-remote")) == 2


def test_a_supervisor_forgets_the_child_it_saw_die_but_not_a_reused_name(clean_redis):
    pid = dead_pid()
    registered(clean_redis, "w-gone", pid=pid)
    registration.forget(clean_redis, "w-gone", pid)
    assert not clean_redis.exists(registration.rq_key("w-gone"), keys.worker("w-gone"))
    registered(clean_redis, "w-reused", pid=os.getppid())
    registration.forget(clean_redis, "w-reused", pid)  # another process holds the name now
    assert clean_redis.exists(registration.rq_key("w-reused"))

"""``noether worker``: an RQ worker that forks one work horse per run, plus the reaper and a presence beat.

The parent process imports torch (so that each fork starts warm) but never initialises CUDA: every
torch computation happens in a work horse (``workers.task``). The device option reaches the horses
through the environment (``NOETHER_WORKER_DEVICE``), e.g. one worker per GPU with ``--device cuda:N``.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import redis
from rq import Queue, Worker

from labsettings import Settings
from workers import keys, records, registration
from workers.reaper import Reaper, recover

log = logging.getLogger(__name__)

PRESENCE_TTL = 15  # seconds a worker stays listed in /api/health after its last beat


class NoetherWorker(Worker):
    """RQ's forking worker, reporting a dead work horse at once instead of waiting for the run's lease."""

    settings: Settings
    interrupted: tuple[str, int] | None = None  # the run whose horse a cold shutdown took down

    def execute_job(self, job: Any, queue: Any) -> None:
        try:
            super().execute_job(job, queue)
        except BaseException:  # a cold shutdown (SIGTERM twice) raises SystemExit here, the horse killed
            try:
                self.interrupted = (job.args[0], int(job.args[1]))
            except (AttributeError, IndexError, TypeError, ValueError):
                pass
            raise

    def handle_work_horse_killed(self, job: Any, retpid: Any, ret_val: Any, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        try:
            run_id, attempt = job.args[0], int(job.args[1])
        except (AttributeError, IndexError, TypeError, ValueError):
            return
        try:
            recover(self.connection, self.settings, run_id, attempt=attempt, force=True)
        except redis.RedisError:
            log.exception("could not recover run %s after its work horse died", run_id)


def default_name() -> str:
    """``<host>-<pid>-<random>``: unique per process start (see ``workers.registration``)."""
    return registration.unique_name()


def preload() -> None:
    """Import the science core before forking (a fork then starts in milliseconds, not seconds).

    Importing torch does not initialise CUDA; this asserts it, since a CUDA context does not survive
    a fork.
    """
    try:
        import pyarrow as pa
        import torch

        import noether.io
        import noether.simulate  # noqa: F401

        pa.array([0.0]).to_pylist()  # pyarrow's lazy pandas import, done once here rather than per run
    except ImportError as exc:  # the core is incomplete: each horse imports what it needs
        log.warning("preload skipped: %s", exc)
        return
    if torch.cuda.is_initialized():  # pragma: no cover - a bug in an import
        raise RuntimeError("CUDA was initialised in the worker process; it must only be used in work horses")


def run_worker(settings: Settings, *, device: str | None = None, name: str | None = None, burst: bool = False) -> None:
    """Serve the queue until SIGTERM/SIGINT (a second one stops the running job at once)."""
    if not settings.redis_url:
        raise SystemExit("noether worker needs NOETHER_REDIS_URL (noether up sets it for the workers it starts)")
    device = device or settings.worker_device
    name = name or settings.worker_name or default_name()
    os.environ["NOETHER_WORKER_DEVICE"] = device
    os.environ["NOETHER_WORKER_NAME"] = name
    os.environ["NOETHER_REDIS_URL"] = settings.redis_url
    os.environ["NOETHER_WORKER_PID"] = str(os.getpid())
    preload()
    conn = redis.Redis.from_url(settings.redis_url)
    registration.clear_if_dead(conn, name)  # an explicit name a SIGKILLed process of this host left registered
    queue = Queue(settings.queue, connection=conn)
    worker = NoetherWorker([queue], connection=conn, name=name, job_monitoring_interval=5)
    worker.settings = settings
    started = records.iso()

    def presence(r: redis.Redis) -> None:
        with r.pipeline() as pipe:
            pipe.hset(keys.worker(name), mapping={"name": name, "device": device, "pid": str(os.getpid()),
                                                  "host": socket.gethostname(), "started_at": started})
            pipe.expire(keys.worker(name), PRESENCE_TTL)
            pipe.execute()

    reaper = Reaper(settings, on_tick=presence, fork_safe=True)
    reaper.start()
    log.info("worker %s on %s listening on queue '%s' at %s", name, device, settings.queue, settings.redis_url)
    try:
        worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
    finally:
        reaper.stop()
        if worker.interrupted is not None:  # not a lost worker: put its run back without counting an attempt
            run_id, attempt = worker.interrupted
            try:
                recover(conn, settings, run_id, attempt=attempt, force=True, shutdown=True)
            except redis.RedisError:
                log.exception("could not re-queue run %s after a shutdown", run_id)
        try:
            conn.delete(keys.worker(name))
        except redis.RedisError:
            pass

"""What a work horse does with one attempt of a run: simulate, publish batches, honour cancel, finish, archive.

RQ forks one work horse per job, so everything here (torch, CUDA) lives and dies with the job; the
worker process that forks never initialises CUDA. The horse dies with its worker (PR_SET_PDEATHSIG),
so a SIGKILLed worker leaves no orphan publishing into a run that has been handed to another worker.

A heartbeat thread renews the attempt's lease ten times a second and reads the cancel flag in the
same round trip; on cancel it calls ``Simulation.stop()`` (the run ends at its next step and keeps
its records); if the attempt has been superseded (the run was re-queued after its lease expired) it
stops too, and the fenced publish/finish scripts refuse anything this attempt still sends.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import redis

from labsettings import get_settings
from workers import archive, envelopes, keys, records, series
from workers.job import Job, Lease, Status
from workers.proc import die_with_parent

log = logging.getLogger(__name__)

MAX_BATCH = 2000  # records per stream entry, whatever the publish interval
HEARTBEAT = 0.1  # seconds between lease renewals (and cancel checks)

# Job kinds other than "run": kind -> "module:function", called as function(attempt, record, device) and returning
# (status, reason, summary); it publishes with attempt.flush(records) and stops when attempt.cancel_asked or
# attempt.fenced becomes true.
KINDS: dict[str, str] = {"discovery": "workers.discovery:run_discovery"}


def run(run_id: str, attempt: int) -> str:
    """RQ entry point: run one attempt of a run; never raises (a bad job must not look like a dead worker)."""
    die_with_parent()
    if os.environ.get("NOETHER_WORKER_PID") not in (None, str(os.getppid())):
        os._exit(1)  # the worker died before the line above: an orphan must not run the job
    settings = get_settings()
    r = redis.Redis.from_url(settings.redis_url, socket_timeout=30, health_check_interval=30)
    try:
        return Attempt(r, settings, run_id, attempt).execute()
    finally:
        r.close()


def run_device(spec_device: str, worker_device: str) -> str:
    """The device a run uses: the spec's unless 'auto', else the worker's, else cuda if available, else cpu."""
    for choice in (spec_device, worker_device):
        if choice and choice != "auto":
            return choice
    import torch  # only in the work horse

    return "cuda" if torch.cuda.is_available() else "cpu"


class Attempt:
    """One attempt of one run inside a work horse."""

    def __init__(self, r: redis.Redis, settings: Any, run_id: str, attempt: int):
        self.r, self.settings, self.run_id, self.attempt = r, settings, run_id, attempt
        self.lease_ms = int(settings.lease_seconds * 1000)
        self.fenced = False
        self.cancel_asked = False
        self.sim: Any = None
        self._stop_beat = threading.Event()
        self.n_published = 0
        self.pyramid = envelopes.Pyramid()
        self.last_step = 0
        self.steps = 0

    # -- lifecycle ------------------------------------------------------------------------
    def execute(self) -> str:
        rec = records.get(self.r, self.run_id)
        if rec is None or rec.status != Status.QUEUED:
            return "skipped"
        worker = os.environ.get("NOETHER_WORKER_NAME") or os.environ.get("RQ_WORKER_ID") or f"pid-{os.getppid()}"
        spec_device = (rec.spec or {}).get("device", "auto")
        try:
            device = run_device(spec_device, os.environ.get("NOETHER_WORKER_DEVICE", "auto"))
        except Exception as exc:  # torch missing or broken: report, do not die
            device = f"unknown ({exc})"
        if not records.start(
            self.r, self.run_id, self.attempt, worker=worker, device=device, lease_ms=self.lease_ms,
            client_key=keys.client_queued(rec.client),
        ):
            return "skipped"
        self.steps = rec.steps
        beat = threading.Thread(target=self._heartbeat, name="noether-lease", daemon=True)
        beat.start()
        try:
            status, reason, summary = self._work(rec, device)
        except BaseException as exc:  # noqa: BLE001 - whatever happens, the record must end
            log.error("run %s failed:\n%s", self.run_id, traceback.format_exc())
            status, reason, summary = Status.FAILED, _one_line(exc, hide=self.settings.data_dir), None
        finally:
            self._stop_beat.set()
            beat.join(timeout=2)
        if self.fenced:
            return "superseded"
        if records.finish(
            self.r, self.run_id, self.attempt, status, reason=reason, summary=summary,
            step=self.last_step, progress=self._progress(),
        ):
            try:
                archive.archive(self.r, self.settings.run_store, self.run_id, stream_ttl=self.settings.stream_ttl_seconds)
            except Exception:  # the reaper retries unarchived runs
                log.exception("archiving run %s failed", self.run_id)
        return status

    def _work(self, rec: Job, device: str) -> tuple[Status, str, Any]:
        kind = rec.kind
        if kind != "run":
            target = KINDS.get(kind)
            if target is None:
                return Status.FAILED, f"unknown job kind '{kind}'", None
            module, _, name = target.partition(":")
            return getattr(importlib.import_module(module), name)(self, rec, device)
        return self._simulate(rec, device)

    def _simulate(self, rec: Job, device: str) -> tuple[Status, str, Any]:
        import noether
        from noether.spec import parse_spec

        spec = parse_spec(rec.spec)
        spec = spec.model_copy(update={"device": device})
        self.sim = sim = noether.simulate(spec, data_root=self.settings.datasets_dir)
        if self.cancel_asked or self.fenced:
            sim.stop()
        self.steps = sim.steps
        buffer: list[dict[str, Any]] = []
        last_flush = time.monotonic()
        interval = self.settings.publish_interval
        for record in sim:
            buffer.append(series.clean(record))
            self.last_step = record.get("step", self.last_step)
            if len(buffer) >= MAX_BATCH or time.monotonic() - last_flush >= interval:
                self.flush(buffer)
                buffer = []
                self._wait_while_held()
                last_flush = time.monotonic()
            if self.fenced:
                sim.stop()
        self.flush(buffer)
        summary = sim.summary.model_dump(mode="json")
        if sim.status == Status.DIVERGED:
            reason = f"diverged at step {sim.diverged_at}"
            last = (summary.get("last_finite") or {}).get("loss")
            if last is not None:
                reason += f" (last finite loss {last:.6g})"
        elif sim.status == Status.CANCELLED:
            reason = "cancelled by user" if self.cancel_asked else "stopped (its attempt was superseded)"
        elif sim.status == Status.SUCCEEDED:
            reason = ""
        else:
            return Status.FAILED, f"simulation ended with status {sim.status}", summary
        return Status(sim.status), reason, summary

    # -- publishing -----------------------------------------------------------------------
    def flush(self, batch: list[dict[str, Any]]) -> None:
        """Publish ``batch`` as one stream entry (fenced: a superseded attempt publishes nothing)."""
        if not batch or self.fenced:
            return
        envelope = self.pyramid.fields(self.pyramid.add(batch))
        ok = records.publish(
            self.r, self.run_id, self.attempt, first_index=self.n_published, payload=series.pack(batch),
            count=len(batch), maxlen=self.settings.stream_maxlen, step=self.last_step, progress=self._progress(),
            wallclock_ms=int(time.time() * 1000), envelope=envelope,
        )
        if ok:
            self.n_published += len(batch)
        else:
            status = self.r.hget(keys.run(self.run_id), "status")
            if status != b"running" or self.r.hget(keys.run(self.run_id), "attempt") != str(self.attempt).encode():
                self._fence()

    def _wait_while_held(self) -> None:
        """Pause while ``keys.hold(run_id)`` exists (one EXISTS per publish): tests pace a run in flight with it.

        The lease stays renewed meanwhile, and a cancel or a superseded attempt ends the pause.
        """
        key = keys.hold(self.run_id)
        while not (self.cancel_asked or self.fenced):
            try:
                if not self.r.exists(key):
                    return
            except redis.RedisError:  # Redis is away: nothing can be published anyway; look again
                pass
            time.sleep(0.05)

    def _progress(self) -> float:
        return min(1.0, self.last_step / self.steps) if self.steps else 0.0

    def _fence(self) -> None:
        self.fenced = True
        if self.sim is not None:
            self.sim.stop()

    def _heartbeat(self) -> None:
        # self.r is thread-safe: each command takes a connection of the client's pool
        while not self._stop_beat.is_set():
            try:
                state = records.heartbeat(self.r, self.run_id, self.attempt, self.lease_ms)
            except redis.RedisError as exc:
                log.warning("run %s: lease renewal failed: %s", self.run_id, exc)
                state = Lease.HELD
            if state == Lease.SUPERSEDED:
                self._fence()
                return
            if state == Lease.CANCEL_ASKED and not self.cancel_asked:
                self.cancel_asked = True
                if self.sim is not None:
                    self.sim.stop()
            self._stop_beat.wait(HEARTBEAT)


def _one_line(exc: BaseException, hide: Path | None = None) -> str:
    """'Type: first line' of an error, with the data directory's absolute path said as NOETHER_DATA_DIR."""
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    if hide is not None:
        for path in sorted({str(Path(hide).resolve()), str(Path(hide).absolute())}, key=len, reverse=True):
            msg = msg.replace(path, "NOETHER_DATA_DIR")
    return f"{type(exc).__name__}: {msg}"[:500] if msg else type(exc).__name__

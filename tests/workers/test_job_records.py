"""The job record on a real Redis: idempotent submission, the per-client limit, cancel, lost workers.

Leases here are long (60 s), and a test that needs one to run out makes Redis expire it now
(``expire_lease``) instead of sleeping past it: no step races the clock.
"""

from __future__ import annotations

import pytest
from conftest import wait_for
from pydantic import ValidationError
from rq import Queue

from labsettings import Settings
from workers import client as jobs
from workers import keys, reaper, records
from workers.job import CancelOutcome, Job, Lease, Status

SPEC = {"potential": {"kind": "sphere", "dim": 3}, "steps": 10}


@pytest.fixture
def s(redis_url, tmp_path) -> Settings:
    return Settings(_env_file=None, redis_url=redis_url, data_dir=tmp_path, lease_seconds=60, max_attempts=2,
                    max_queued_per_client=3)


def expire_lease(r, run_id):
    """The running attempt's lease runs out now (Redis expires the key), as when its worker stops renewing it."""
    r.pexpire(keys.lease(run_id), 1)
    wait_for(lambda: not r.exists(keys.lease(run_id)), 10, 0.01, "the lease to expire")


def submit(r, s, run_id, client="alice", body="a"):
    return jobs.submit(r, s, [jobs.Submission(spec=SPEC, run_id=run_id, steps=10, request_hash=body)], client=client)[0]


def test_submission_creates_a_queued_record_and_one_rq_job(clean_redis, s):
    rec, created = submit(clean_redis, s, "run-aaaa-1")
    assert created and rec.status == "queued" and rec.attempt == 0
    q = Queue(s.queue, connection=clean_redis)
    assert q.job_ids == [keys.rq_job_id("run-aaaa-1", 1)]
    assert q.fetch_job(q.job_ids[0]).args == ("run-aaaa-1", 1)


def test_resubmitting_the_same_request_is_idempotent_and_another_request_conflicts(clean_redis, s):
    submit(clean_redis, s, "run-aaaa-1")
    rec, created = submit(clean_redis, s, "run-aaaa-1")
    assert not created and rec.id == "run-aaaa-1"
    assert Queue(s.queue, connection=clean_redis).count == 1
    with pytest.raises(jobs.Conflict):
        submit(clean_redis, s, "run-aaaa-1", body="b")


def test_per_client_limit_counts_queued_runs_only(clean_redis, s):
    for i in range(3):
        submit(clean_redis, s, f"run-limit-{i}")
    with pytest.raises(jobs.TooManyQueued, match="3 queued"):
        submit(clean_redis, s, "run-limit-3")
    submit(clean_redis, s, "run-limit-b", client="bob")  # another client is not affected
    assert records.start(clean_redis, "run-limit-0", 1, worker="w", device="cpu", lease_ms=60_000,
                         client_key=keys.client_queued("alice"))
    submit(clean_redis, s, "run-limit-3")  # a started run no longer counts


def test_cancel_of_a_queued_run_removes_its_job_and_ends_its_series(clean_redis, s):
    submit(clean_redis, s, "run-cancel-1")
    rec = jobs.cancel(clean_redis, s, "run-cancel-1")
    assert rec.status == "cancelled" and rec.finished_at
    assert Queue(s.queue, connection=clean_redis).count == 0
    assert not records.start(clean_redis, "run-cancel-1", 1, worker="w", device="cpu", lease_ms=60_000,
                             client_key=keys.client_queued("alice"))
    page = jobs.series_page(clean_redis, s, "run-cancel-1")
    assert page.done and page.records == []


def test_start_is_fenced_by_attempt(clean_redis, s):
    submit(clean_redis, s, "run-fence-1")
    kw = dict(worker="w", device="cpu", lease_ms=60_000, client_key=keys.client_queued("alice"))
    assert not records.start(clean_redis, "run-fence-1", 2, **kw)  # not its turn
    assert records.start(clean_redis, "run-fence-1", 1, **kw)
    assert not records.start(clean_redis, "run-fence-1", 1, **kw)  # already running


def test_a_run_whose_lease_expires_is_requeued_then_failed_as_worker_lost(clean_redis, s):
    r = clean_redis
    submit(r, s, "run-lost-01")
    kw = dict(worker="w", device="cpu", lease_ms=int(s.lease_seconds * 1000), client_key=keys.client_queued("alice"))
    assert records.start(r, "run-lost-01", 1, **kw)
    assert reaper.reap_once(r, s)["recovered"] == 0  # the lease is still held
    expire_lease(r, "run-lost-01")
    assert reaper.reap_once(r, s)["recovered"] == 1
    rec = records.get(r, "run-lost-01")
    assert rec.status == "queued" and rec.attempt == 1 and "worker lost" in rec.reason
    assert keys.rq_job_id("run-lost-01", 2) in Queue(s.queue, connection=r).job_ids
    assert records.start(r, "run-lost-01", 2, **kw)  # the second attempt runs
    assert reaper.reap_once(r, s)["recovered"] == 0
    expire_lease(r, "run-lost-01")
    assert reaper.reap_once(r, s)["recovered"] == 1
    rec = records.get(r, "run-lost-01")
    assert rec.status == "failed" and rec.reason == "worker lost" and rec.attempt == 2
    assert not r.sismember(keys.RUNNING, "run-lost-01")


def test_a_lost_run_whose_cancel_was_asked_ends_cancelled(clean_redis, s):
    r = clean_redis
    submit(r, s, "run-lost-02")
    assert records.start(r, "run-lost-02", 1, worker="w", device="cpu", lease_ms=60_000,
                         client_key=keys.client_queued("alice"))
    records.request_cancel(r, "run-lost-02", client_key=keys.client_queued("alice"),
                           rq_queue_key=Queue(s.queue, connection=r).key, rq_job_prefix="rq:job:")
    expire_lease(r, "run-lost-02")
    reaper.reap_once(r, s)
    assert records.get(r, "run-lost-02").status == "cancelled"


# --- the typed record: one encoding, named outcomes -------------------------------------------------

FULL = Job(
    id="run-full-01", kind="discovery", status=Status.RUNNING, reason=None, created_at="2026-11-27T10:00:00.123Z",
    started_at="2026-11-27T10:00:01.000Z", finished_at=None, worker="host-1-abc", device="cuda:1", progress=0.25,
    step=50, steps=200, attempt=2, preset="toy-nd", name="toy [seed=1]", dynamics="nd", tags=("mine", "fig1"),
    note="a note", group="0123456789abcdef", summary={"laws": [{"id": "energy", "drift": 1e-9}]}, archived=False,
    spec={"potential": {"kind": "sphere", "dim": 3}, "steps": 200}, client="alice", request_hash="ab12",
    rq_job="run-full-01_a2", cancel_requested=True,
)


@pytest.mark.parametrize("job", [FULL, Job(id="run-bare-01", status=Status.QUEUED)], ids=["every field", "defaults"])
def test_a_record_reads_back_from_redis_field_for_field(clean_redis, job):
    clean_redis.hset(keys.run(job.id), mapping=job.to_hash())
    assert records.get(clean_redis, job.id) == job


def test_the_public_record_shows_what_the_api_shows_and_hides_the_bookkeeping():
    public = FULL.public()
    assert public["status"] == "running" and public["tags"] == ["mine", "fig1"] and public["spec"]["steps"] == 200
    assert not {"client", "request_hash", "rq_job", "cancel_requested"} & set(public)
    assert "spec" not in FULL.public(with_spec=False)


def test_a_record_cannot_be_changed_in_place_only_copied():
    with pytest.raises(ValidationError, match="frozen"):
        FULL.status = Status.FAILED
    assert FULL.model_copy(update={"status": Status.FAILED}).status == "failed" and FULL.status == "running"


def test_cancel_and_lease_renewal_answer_with_named_outcomes(clean_redis, s):
    r = clean_redis
    cancel_kw = dict(client_key=keys.client_queued("alice"), rq_queue_key=Queue(s.queue, connection=r).key,
                     rq_job_prefix="rq:job:")
    submit(r, s, "run-named-1")
    assert records.request_cancel(r, "run-named-1", **cancel_kw) is CancelOutcome.CANCELLED
    assert records.request_cancel(r, "run-named-1", **cancel_kw) is CancelOutcome.NOTHING  # already ended
    submit(r, s, "run-named-2")
    assert records.start(r, "run-named-2", 1, worker="w", device="cpu", lease_ms=60_000,
                         client_key=keys.client_queued("alice"))
    assert records.heartbeat(r, "run-named-2", 1, 60_000) is Lease.HELD
    assert records.request_cancel(r, "run-named-2", **cancel_kw) is CancelOutcome.FLAGGED
    assert records.heartbeat(r, "run-named-2", 1, 60_000) is Lease.CANCEL_ASKED
    assert records.heartbeat(r, "run-named-2", 2, 60_000) is Lease.SUPERSEDED  # not the current attempt

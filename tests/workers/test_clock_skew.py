"""A worker host whose clock is wrong by minutes: the lease and every timestamp it writes use Redis's clock.

The lease is a key with a TTL that Redis counts (SET PX), so a skewed host cannot make it last longer or
expire sooner. The timestamps a worker writes (started_at, finished_at, and the score that tells the
API's reaper when a finished run is overdue for archiving) come from Redis TIME, not from the host.
scripts/multihost-test.sh shows the same with a worker under faketime on its own network namespace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labsettings import Settings
from workers import client as jobs
from workers import keys, records
from workers.job import Status

SPEC = {"potential": {"kind": "sphere", "dim": 3}, "steps": 10}


def parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@pytest.mark.parametrize("skew_minutes", [-7, 7])
def test_a_skewed_worker_leases_and_stamps_in_redis_time(clean_redis, tmp_path, monkeypatch, skew_minutes):
    r = clean_redis
    s = Settings(_env_file=None, redis_url="", data_dir=tmp_path)
    run_id = f"skew-run-{skew_minutes + 10}"
    jobs.submit(r, s, [jobs.Submission(spec=SPEC, run_id=run_id, steps=10)], client="t")
    real_now = records.now
    monkeypatch.setattr(records, "now", lambda: real_now() + timedelta(minutes=skew_minutes))

    assert records.start(r, run_id, 1, worker="skewed", device="cpu", lease_ms=4000,
                         client_key=keys.client_queued("t"))
    ttl = r.pttl(keys.lease(run_id))
    assert 0 < ttl <= 4000  # the lease lasts what was asked, in Redis's time
    assert records.heartbeat(r, run_id, 1, 4000) == 0
    assert records.finish(r, run_id, 1, Status.SUCCEEDED)

    sec, usec = r.time()
    server = datetime.fromtimestamp(int(sec) + int(usec) / 1e6, UTC)
    rec = records.get(r, run_id)
    for field in ("started_at", "finished_at"):
        assert abs((parse(getattr(rec, field)) - server).total_seconds()) < 30, (field, getattr(rec, field), server)
    score = r.zscore(keys.UNARCHIVED, run_id)
    assert abs(score / 1000 - server.timestamp()) < 30  # not minutes ahead or behind

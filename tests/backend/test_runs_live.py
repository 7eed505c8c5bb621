"""Runs end to end through the API against a real Redis and real worker processes.

Given a stack (the API server and two ``noether worker`` processes on a fresh Redis database), a user
submits presets and specs, follows their series, cancels, kills workers, and reads the archives.

A test that needs a run in flight paces it: it sets the run's hold key (``keys.hold``) before
submitting, so the work horse pauses at its first publish (running, with records) until the test
releases it; no test races a run it does not control.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow.parquet as pq
import pytest
from conftest import wait_for
from websockets.sync.client import connect

from workers import keys
from workers.client import TERMINAL

pytestmark = pytest.mark.slow

SPHERE = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.0001},
          "initial": {"position": [1.0, 0.2, 0.0], "velocity": [0.0, 0.5, 0.1]}}


def sphere(steps: int, record_every: int = 1, **extra) -> dict:
    return {**SPHERE, "steps": steps, "record_every": record_every, **extra}


@pytest.fixture(scope="module")
def stack(stack_factory):
    return stack_factory(workers=2)


@pytest.fixture(scope="module")
def api(stack):
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        yield client


def finished(api: httpx.Client, run_id: str, timeout: float = 60) -> dict:
    def check():
        rec = api.get(f"/runs/{run_id}").json()
        return rec if rec["status"] in TERMINAL else None

    return wait_for(check, timeout, 0.05, f"run {run_id} to finish")


_held: list = []


@pytest.fixture(autouse=True)
def _release_holds_after_each_test():
    """A test that fails while a run is paused must not leave that run holding a worker for the next tests."""
    yield
    while _held:
        release(*_held.pop())


def hold(stack, run_id: str) -> None:
    """The run (once started) pauses at its first publish until ``release``."""
    _held.append((stack, run_id))
    r = stack.redis()
    try:
        r.set(keys.hold(run_id), 1)
    finally:
        r.close()


def release(stack, run_id: str) -> None:
    r = stack.redis()
    try:
        r.delete(keys.hold(run_id))
    finally:
        r.close()


def running_with_records(api: httpx.Client, run_id: str, timeout: float = 60) -> dict:
    def check():
        rec = api.get(f"/runs/{run_id}").json()
        assert rec["status"] not in TERMINAL, rec
        return rec if rec["status"] == "running" and has_records(api, run_id) else None

    return wait_for(check, timeout, 0.05, f"run {run_id} to publish records")


def has_records(api: httpx.Client, run_id: str) -> bool:
    """The run has published at least one record (its first batch may hold only step 0 on a slow machine)."""
    return bool(api.get(f"/runs/{run_id}/series", params={"limit": 1}).json()["records"])


def all_records(api: httpx.Client, run_id: str, limit: int = 37) -> list[dict]:
    out, cursor = [], 0
    while True:
        page = api.get(f"/runs/{run_id}/series", params={"after": cursor, "limit": limit}).json()
        out += page["records"]
        cursor = page["cursor"]
        if page["done"]:
            return out
        assert page["records"], "a finished run's series must make progress"


def test_preset_run_lifecycle(api, stack):
    body = {"id": "lifecycle-toy-nd", "preset": "toy-nd", "overrides": {"steps": 120, "record_every": 1},
            "tags": ["lifecycle"], "note": "first"}
    hold(stack, "lifecycle-toy-nd")
    created = api.post("/runs", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["status"] in ("queued", "running") and created.json()["preset"] == "toy-nd"
    assert api.post("/runs", json=body).status_code == 200  # a retry of the same submission
    assert api.post("/runs", json={**body, "note": "other"}).status_code == 409
    release(stack, "lifecycle-toy-nd")

    rec = finished(api, "lifecycle-toy-nd")
    assert rec["status"] == "succeeded", rec
    assert rec["attempt"] == 1 and rec["progress"] == 1.0 and rec["step"] == 120
    assert rec["started_at"] and rec["finished_at"] and rec["worker"] in stack.workers
    assert rec["summary"]["status"] == "succeeded" and rec["summary"]["laws"]
    assert rec["spec"]["steps"] == 120 and rec["dynamics"] == "nd"

    rows = all_records(api, "lifecycle-toy-nd")
    assert [r["step"] for r in rows] == list(range(121))
    assert {"loss", "t", "position"} <= set(rows[0])

    env = api.get("/runs/lifecycle-toy-nd/series", params={"points": 10, "columns": "loss"}).json()
    assert env["total"] == 121 and env["downsampled"] and list(env["columns"]) == ["loss"]
    assert len(env["columns"]["loss"]["max"]) == 10

    listed = api.get("/runs", params={"preset": "toy-nd", "tag": "lifecycle"}).json()
    assert [i["id"] for i in listed["items"]] == ["lifecycle-toy-nd"] and "spec" not in listed["items"][0]

    patched = api.patch("/runs/lifecycle-toy-nd", json={"tags": ["kept"], "note": "second"}).json()
    assert patched["tags"] == ["kept"] and patched["note"] == "second"

    store = stack.data_dir / "runs" / "lifecycle-toy-nd"
    wait_for(lambda: (store / "job.json").exists(), 10, what="the archive")
    assert {"series.parquet", "series.csv", "summary.json", "spec.json", "job.json"} <= {p.name for p in store.iterdir()}
    assert json.loads((store / "job.json").read_text())["note"] == "second"

    table_csv = list(csv.reader(io.StringIO(api.get("/runs/lifecycle-toy-nd/export", params={"format": "csv"}).text)))
    assert table_csv[0][0] == "step" and "loss" in table_csv[0] and len(table_csv) == 122
    table = pq.read_table(io.BytesIO(api.get("/runs/lifecycle-toy-nd/export", params={"format": "parquet"}).content))
    assert table.num_rows == 121
    assert len(api.get("/runs/lifecycle-toy-nd/export", params={"format": "json"}).json()) == 121
    respec = api.get("/runs/lifecycle-toy-nd/export", params={"format": "spec"})
    assert respec.json()["steps"] == 120 and "attachment" in respec.headers["content-disposition"]

    assert api.delete("/runs/lifecycle-toy-nd").status_code == 204
    assert api.get("/runs/lifecycle-toy-nd").status_code == 404
    assert not store.exists()


def test_cancel_of_a_running_run_stops_it_and_keeps_its_partial_series(api, stack):
    run_id = "cancel-running-1"
    hold(stack, run_id)  # a cancel ends the pause
    assert api.post("/runs", json={"id": run_id, "spec": sphere(1_000_000, 10)}).status_code == 201
    running_with_records(api, run_id)
    rec = api.post(f"/runs/{run_id}/cancel").json()  # returns once the run has stopped (within 1 s)
    assert rec["status"] == "cancelled" and rec["reason"] == "cancelled by user", rec
    rows = all_records(api, run_id, limit=5000)
    assert rows and [r["step"] for r in rows] == list(range(0, 10 * len(rows), 10))
    assert rows[-1]["step"] < 1_000_000
    assert rec["summary"]["status"] == "cancelled"
    wait_for(lambda: (stack.data_dir / "runs" / run_id / "series.parquet").exists(), 10, what="the archive")
    archived = pq.read_table(stack.data_dir / "runs" / run_id / "series.parquet")
    assert archived.num_rows == len(rows)


def test_a_diverging_run_ends_diverged_naming_the_step(api):
    run_id = "diverging-run-1"
    spec = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "gd", "lr": 5.0}, "steps": 100,
            "initial": {"position": [1.0, 0.2, 0.0]}}
    assert api.post("/runs", json={"id": run_id, "spec": spec}).status_code == 201
    rec = finished(api, run_id)
    assert rec["status"] == "diverged", rec
    step = rec["summary"]["diverged_at"]
    assert step is not None and f"diverged at step {step}" in rec["reason"]
    rows = all_records(api, run_id)
    assert rows and all(r["step"] < step for r in rows)  # the last finite values are kept


def test_a_bad_job_fails_without_killing_the_worker(api, stack):
    # a data set that is there (a missing one is refused at submit) but that no worker can read
    (stack.data_dir / "datasets").mkdir(parents=True, exist_ok=True)
    (stack.data_dir / "datasets" / "broken-dataset.npz").write_bytes(b"not an npz file")
    spec = {"model": {"widths": [784, 8, 10]}, "data": {"kind": "file", "name": "broken-dataset.npz"}, "steps": 5}
    assert api.post("/runs", json={"id": "bad-job-0001", "spec": spec}).status_code == 201
    rec = finished(api, "bad-job-0001")
    assert rec["status"] == "failed" and "broken-dataset.npz" in rec["reason"], rec
    assert all(p.poll() is None for p in stack.workers.values())
    assert api.post("/runs", json={"id": "after-bad-01", "spec": sphere(5)}).status_code == 201
    assert finished(api, "after-bad-01")["status"] == "succeeded"


def test_a_late_stream_subscriber_gets_every_point_exactly_once(api, stack):
    run_id = "late-subscriber-1"
    steps, every = 6000, 10
    hold(stack, run_id)
    assert api.post("/runs", json={"id": run_id, "spec": sphere(steps, every)}).status_code == 201
    paused = running_with_records(api, run_id)  # paused at its first publish: the followers join a live run
    published = paused["step"] // every + 1  # how many records the first batch holds (fewer on a slow machine)
    later = min(7, published - 1)  # the second follower starts from a cursor inside what exists
    ws_url = stack.api.replace("http://", "ws://") + f"/runs/{run_id}/stream"
    got: dict[str, list[int]] = {}
    following = {"late": threading.Event(), "cursor": threading.Event()}

    def follow(name: str, after: int) -> None:
        seen, cursor = [], after
        with connect(f"{ws_url}?after={after}", open_timeout=10, close_timeout=2) as ws:
            while True:
                msg = json.loads(ws.recv(timeout=60))
                if msg.get("done"):
                    assert msg["status"] == "succeeded" and msg["summary"]["status"] == "succeeded"
                    break
                assert "error" not in msg and "reset" not in msg, msg
                seen += [r["step"] for r in msg["records"]]
                assert msg["cursor"] == cursor + len(msg["records"])
                cursor = msg["cursor"]
                if name in following:
                    following[name].set()
        got[name] = seen

    mid = api.get(f"/runs/{run_id}/series", params={"limit": 1}).json()
    assert mid["cursor"] == 1 and not mid["done"]
    threads = [threading.Thread(target=follow, args=("late", 0)), threading.Thread(target=follow, args=("cursor", later))]
    for t in threads:
        t.start()
    for event in following.values():  # both have replayed what exists while the run is still paused
        assert event.wait(60), "a follower got nothing"
    assert api.get(f"/runs/{run_id}").json()["status"] == "running"
    release(stack, run_id)
    for t in threads:
        t.join(90)
    assert finished(api, run_id)["status"] == "succeeded"
    expected = list(range(0, steps + 1, every))
    assert got["late"] == expected
    assert got["cursor"] == expected[later:]
    # a subscriber arriving after the end replays the whole series and is told it is done
    follow("after-end", 0)
    assert got["after-end"] == expected


@pytest.fixture(scope="module")
def solo_stack(stack_factory):
    """One worker, and leases (300 s) far longer than any wait here: only the worker itself can recover a run."""
    return stack_factory(workers=1, lease_seconds=300)


def test_a_work_horse_killed_alone_is_rerun_without_waiting_for_its_lease(solo_stack):
    stack, run_id = solo_stack, "killed-horse-01"
    with httpx.Client(base_url=stack.api, timeout=30) as api:
        hold(stack, run_id)
        assert api.post("/runs", json={"id": run_id, "spec": sphere(3000, 10)}).status_code == 201
        rec = running_with_records(api, run_id)
        worker = stack.workers[rec["worker"]]
        horses = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == worker.pid]
        assert horses, "the worker should have a work horse while a run is going"
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        # the lease (300 s) is still held: the worker saw its horse die and re-queued the run itself
        rerun = wait_for(lambda: (r := api.get(f"/runs/{run_id}").json())["attempt"] == 2 and r, 120, 0.1,
                         "the run to be started again")
        assert rerun["status"] in ("queued", "running"), rerun
        release(stack, run_id)
        rec = finished(api, run_id)
        assert rec["status"] == "succeeded" and rec["attempt"] == 2, rec
        assert [r["step"] for r in all_records(api, run_id, 500)] == list(range(0, 3001, 10))
        assert worker.poll() is None  # the worker itself survived


def test_a_run_whose_archive_is_pending_says_archived_false_until_it_is(solo_stack):
    stack, run_id = solo_stack, "pending-archive-1"
    store = stack.data_dir / "runs"
    if store.exists():
        store.rename(stack.data_dir / "runs-before")
    store.write_text("not a directory: the run store cannot be written")  # e.g. a read-only or full disk
    try:
        with httpx.Client(base_url=stack.api, timeout=30) as api:
            assert api.post("/runs", json={"id": run_id, "spec": sphere(30)}).status_code == 201
            rec = finished(api, run_id)
            assert rec["status"] == "succeeded" and rec["archived"] is False, rec
            assert [x["step"] for x in all_records(api, run_id)] == list(range(31))  # readable from Redis meanwhile
            store.unlink()  # the store is writable again: the reaper archives the run
            wait_for(lambda: api.get(f"/runs/{run_id}").json()["archived"], 120, 0.2, "the pending archive")
            assert (store / run_id / "series.parquet").exists()
            assert json.loads((store / run_id / "job.json").read_text())["archived"] is True
    finally:
        if store.is_file():
            store.unlink()
        before = stack.data_dir / "runs-before"
        if before.exists():  # put the runs archived before this test back
            store.mkdir(exist_ok=True)
            for folder in before.iterdir():
                folder.rename(store / folder.name)
            before.rmdir()


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def test_two_hundred_concurrent_submissions_each_finish_exactly_once(api, stack):
    clients, per_client = 4, 50
    spec = sphere(4, 1)

    def submit(c: int) -> list[str]:
        ids = []
        with httpx.Client(base_url=stack.api, timeout=60, headers=stack.browser_cookie()) as http:
            for i in range(per_client):
                run_id = f"burst-{c}-{i:03d}"
                body = {"id": run_id, "spec": spec, "tags": ["burst"]}
                assert http.post("/runs", json=body).status_code == 201
                if i % 10 == 0:  # a client retrying after a lost response gets the same run back
                    assert http.post("/runs", json=body).status_code == 200
                ids.append(run_id)
        return ids

    with ThreadPoolExecutor(clients) as pool:
        ids = [i for batch in pool.map(submit, range(clients)) for i in batch]
    assert len(set(ids)) == clients * per_client

    def all_done():
        page = api.get("/runs", params={"tag": "burst", "limit": 500}).json()
        return page if all(i["status"] in TERMINAL for i in page["items"]) else None

    page = wait_for(all_done, 180, 0.5, "200 runs to finish")
    assert page["total"] == 200
    assert {i["status"] for i in page["items"]} == {"succeeded"}
    assert {i["attempt"] for i in page["items"]} == {1}
    r = stack.redis()
    try:
        for run_id in ids:
            entries = r.xrange(f"noether:series:{run_id}")
            ends = [e for e, _ in entries if e.endswith(b"-2")]
            assert ends == [b"5-2"], (run_id, entries)  # one end marker, after the 5 records
    finally:
        r.close()


def test_sweep_fans_out_runs_sharing_a_group(api):
    body = {"spec": sphere(3), "grid": {"seed": [0, 1, 2], "dynamics.lr": [0.001, 0.002]}, "tags": ["sweep"]}
    out = api.post("/sweeps", json=body)
    assert out.status_code == 201, out.text
    group = out.json()["group"]
    assert len(out.json()["runs"]) == 6
    listed = api.get("/runs", params={"group": group}).json()
    assert listed["total"] == 6
    lrs = sorted((r["id"], api.get(f"/runs/{r['id']}").json()["spec"]["dynamics"]["lr"]) for r in listed["items"])
    assert sorted(lr for _, lr in lrs) == [0.001] * 3 + [0.002] * 3
    for item in listed["items"]:
        assert finished(api, item["id"])["status"] == "succeeded"


def test_a_finished_run_survives_a_redis_flush(api, stack):
    run_id = "survives-flush-1"
    assert api.post("/runs", json={"id": run_id, "spec": sphere(30)}).status_code == 201
    assert finished(api, run_id)["status"] == "succeeded"
    wait_for(lambda: api.get(f"/runs/{run_id}").json()["archived"], 30, 0.05, "the archive")
    assert (stack.data_dir / "runs" / run_id / "series.parquet").exists()
    r = stack.redis()
    try:
        r.flushdb()
    finally:
        r.close()
    rec = api.get(f"/runs/{run_id}").json()
    assert rec["status"] == "succeeded" and rec["summary"]["status"] == "succeeded"
    assert [x["step"] for x in all_records(api, run_id)] == list(range(31))
    assert run_id in [i["id"] for i in api.get("/runs").json()["items"]]  # re-indexed from the store


def test_sigkill_of_a_worker_mid_run_reruns_the_job_on_another_worker(api, stack):
    run_id = "killed-worker-1"
    steps, every = 4000, 10
    hold(stack, run_id)
    assert api.post("/runs", json={"id": run_id, "spec": sphere(steps, every)}).status_code == 201
    rec = running_with_records(api, run_id)
    victim = rec["worker"]
    stack.kill_worker(victim)  # SIGKILL: no cleanup runs in the worker (its work horse dies with it)
    # bound: lease (2 s here) + reaper period, then the re-run on the other worker (paused again)
    rerun = running_with_records_of_attempt(api, run_id, 2, timeout=120)
    assert rerun["worker"] != victim
    release(stack, run_id)
    rec = finished(api, run_id, timeout=60)
    assert rec["status"] == "succeeded", rec
    assert rec["attempt"] == 2 and rec["worker"] != victim
    assert [r["step"] for r in all_records(api, run_id, 500)] == list(range(0, steps + 1, every))


def running_with_records_of_attempt(api: httpx.Client, run_id: str, attempt: int, timeout: float) -> dict:
    def check():
        rec = api.get(f"/runs/{run_id}").json()
        assert rec["status"] not in TERMINAL, rec
        return rec if rec["attempt"] == attempt and rec["status"] == "running" and has_records(api, run_id) else None

    return wait_for(check, timeout, 0.1, f"attempt {attempt} of run {run_id} to publish records")

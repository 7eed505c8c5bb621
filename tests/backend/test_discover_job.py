"""POST /api/discover end to end: a real Redis, the API server and one real worker process.

Given the rotation toy, a user asks for its symmetries; the job (kind 'discovery') runs in the worker,
streams the verification run's records, and ends with the DiscoveryResult in ``summary.discovery``.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import wait_for

from workers.client import TERMINAL

pytestmark = pytest.mark.slow

SPHERE = {"potential": {"kind": "sphere", "dim": 3}, "dynamics": {"kind": "nd", "lr": 0.001},
          "initial": {"position": [0.5, 0.5, 0.5], "velocity": [-2.0, 1.0, 1.0]}, "steps": 1000}


@pytest.fixture(scope="module")
def api(stack_factory):
    stack = stack_factory(workers=1)
    with httpx.Client(base_url=stack.api, timeout=30) as client:
        yield client


def test_discovery_job_finds_so3_and_streams_its_verification(api):
    r = api.post("/discover", json={"spec": SPHERE, "verify_steps": 150, "id": "disc-sphere-1"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["kind"] == "discovery" and job["steps"] == 150 and job["spec"]["steps"] == 150

    def done():
        rec = api.get(f"/runs/{job['id']}").json()
        return rec if rec["status"] in TERMINAL else None

    rec = wait_for(done, 180, 0.2, "the discovery job to finish")
    assert rec["status"] == "succeeded", rec.get("reason")
    found = rec["summary"]["discovery"]
    assert (found["generators"], found["antisymmetric"]) == (3, 3)
    charge = next(law for law in found["laws"] if law["kind"] == "charge")
    assert charge["matches"] == ["angular_momentum"]
    verdicts = {s["id"]: s["verdict"] for s in rec["summary"]["laws"]}
    assert verdicts["discovered/potential/charge"] == "holds"
    assert verdicts["angular_momentum"] == "holds"  # the catalogue's law in the same run
    page = api.get(f"/runs/{job['id']}/series", params={"after": 0, "limit": 1000}).json()
    assert page["records"] and "discovered/potential/charge" in page["records"][-1]
    assert api.get("/runs", params={"kind": "discovery"}).json()["total"] >= 1
    # the same id and body again: the existing job (idempotent)
    again = api.post("/discover", json={"spec": SPHERE, "verify_steps": 150, "id": "disc-sphere-1"})
    assert again.status_code == 200 and again.json()["id"] == job["id"]


def test_bad_discovery_request_is_a_422_naming_the_field(api):
    r = api.post("/discover", json={"spec": SPHERE, "verify_steps": 0})
    assert r.status_code == 422
    assert any("verify_steps" in [str(x) for x in e["loc"]] for e in r.json()["detail"])
    r = api.post("/discover", json={"preset": "no-such-preset"})
    assert r.status_code == 422 and "preset" in r.text

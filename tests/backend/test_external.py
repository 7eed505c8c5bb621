"""External runs: a training loop watched with noether.watch(lab=URL) appears in Runs and streams like a run."""

from __future__ import annotations

import subprocess
import sys
import warnings

import httpx
import pytest
import torch
from torch import nn

import noether
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stack(stack_factory):
    return stack_factory(workers=0)


def train(mon_kwargs, steps=60, momentum=0.9):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    with noether.watch(model, opt, loss_fn, **mon_kwargs) as mon:
        for _ in range(steps):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return mon


def test_a_watched_loop_appears_in_runs_with_its_series_and_verdicts(stack):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a lab that works: no warning at all
        mon = train(dict(lab=stack.url, every=5, name="mlp-watch", batch=4))
    runs = httpx.get(f"{stack.api}/runs", params={"kind": "external"}).json()["items"]
    (run,) = [r for r in runs if r["name"] == "mlp-watch"]
    assert run["kind"] == "external" and "external" in run["tags"]
    rec = httpx.get(f"{stack.api}/runs/{run['id']}").json()
    assert rec["status"] == "succeeded" and rec["step"] == 60
    verdicts = {law["id"]: law["verdict"] for law in rec["summary"]["laws"]}
    assert verdicts == {"rescale/0-2": "holds", "translation/2": "holds"}
    assert [law["id"] for law in rec["spec"]["laws"]] == ["rescale/0-2", "translation/2"]
    page = httpx.get(f"{stack.api}/runs/{run['id']}/series").json()
    got = page["records"]
    assert [r["step"] for r in got] == [r["step"] for r in mon.records] == list(range(0, 61, 5))
    assert got[-1]["rescale/0-2:pred_discrete"] == pytest.approx(mon.records[-1]["rescale/0-2:pred_discrete"])


def test_records_are_validated(stack):
    run = httpx.post(f"{stack.api}/external", json={"name": "bad", "script": "x.py"}).json()
    res = httpx.post(f"{stack.api}/external/{run['id']}/records", json={"records": [{"step": "one"}]})
    assert res.status_code == 422 and "records[0].step" in res.text
    res = httpx.post(f"{stack.api}/external/{run['id']}/finish", json={"summary": {"status": "succeeded"}})
    assert res.status_code == 422
    ok = httpx.post(f"{stack.api}/external/{run['id']}/records", json={"records": [{"step": 0, "loss": 1.0}]})
    assert ok.json() == {"records": 1}
    res = httpx.post(f"{stack.api}/external/{run['id']}/finish", json={"summary": {
        "status": "succeeded", "steps_done": 0, "steps": 0, "t_final": 0.0}})
    assert res.status_code == 200 and res.json()["status"] == "succeeded"
    late = httpx.post(f"{stack.api}/external/{run['id']}/records", json={"records": [{"step": 1}]})
    assert late.status_code == 409


def test_a_folder_written_without_a_lab_imports_into_one(stack, tmp_path):
    mon = train(dict(lab=None, out=tmp_path / "run", every=10, name="offline"))
    assert (tmp_path / "run" / "series.parquet").exists()
    out = subprocess.run([sys.executable, "-m", "lab.cli", "import", str(tmp_path / "run"), "--lab", stack.url],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.split(" as run ")[1].split(":")[0]
    rec = httpx.get(f"{stack.api}/runs/{run_id}").json()
    assert rec["kind"] == "external" and rec["status"] == "succeeded" and "imported" in rec["tags"]
    assert {law["id"] for law in rec["summary"]["laws"]} == {law.id for law in mon.laws}
    got = httpx.get(f"{stack.api}/runs/{run_id}/series").json()["records"]
    assert [r["step"] for r in got] == [r["step"] for r in mon.records]
    bad = subprocess.run([sys.executable, "-m", "lab.cli", "import", str(tmp_path), "--lab", stack.url],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not a run folder" in bad.stderr

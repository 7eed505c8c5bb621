"""``LabSink``: a watched run streamed to a lab over its API, without ever slowing the training loop.

``write`` only puts a batch on a bounded queue (no I/O in the training thread); one background thread
creates the run (``POST /api/external``), appends batches (``POST /api/external/{id}/records``) and
finishes it (``POST /api/external/{id}/finish``). A lab that is down, slow or refusing makes the sink drop
batches, with one ``LabUnavailableWarning`` in the training thread, and the loop goes on. ``close``
waits at most ``close_timeout`` seconds for the queue to drain.
"""

from __future__ import annotations

import queue
import threading
import warnings
from pathlib import Path
from typing import Any

import httpx

STOP = object()


class LabUnavailableWarning(UserWarning):
    """The lab could not take the monitor's records: they are being dropped (training goes on)."""


class LabSink:
    """Stream records to a lab; drop with one warning when it cannot keep up."""

    def __init__(self, url: str, *, token: str | None = None, buffer: int = 1000, timeout: float = 5.0,
                 close_timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.buffer = max(1, buffer)
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.queue: queue.Queue = queue.Queue()
        self.pending = 0  # records queued, not yet sent
        self.lock = threading.Lock()
        self.run_id: str | None = None
        self.problem: str | None = None  # set by the thread (or write) once records are being dropped
        self.warned = False
        self.dropped = 0
        self.thread: threading.Thread | None = None

    # --- the training thread ------------------------------------------------------------------------------

    def open(self, meta: dict[str, Any]) -> None:
        self.meta = dict(meta)
        self.thread = threading.Thread(target=self._run, name="noether-lab-sink", daemon=True)
        self.thread.start()

    def write(self, records: list[dict[str, Any]]) -> None:
        self._warn()
        if self.problem is not None:
            self.dropped += len(records)
            return
        with self.lock:
            if self.pending + len(records) > self.buffer:
                self.dropped += len(records)
                self.problem = self.problem or (
                    f"the lab at {self.url} is not keeping up: more than {self.buffer} records waiting")
                full = True
            else:
                self.pending += len(records)
                full = False
        if full:
            self._warn()
            return
        self.queue.put(("records", records))

    def close(self, summary: Any) -> None:
        self.queue.put(("finish", summary))
        self.queue.put((STOP, None))
        if self.thread is not None:
            self.thread.join(self.close_timeout)
        self._warn()

    def _warn(self) -> None:
        if self.problem is not None and not self.warned:
            self.warned = True
            warnings.warn(f"noether.watch: {self.problem}; dropping its records, training goes on",
                          LabUnavailableWarning, stacklevel=4)

    # --- the background thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, headers=self.headers, timeout=self.timeout) as http:
            meta = self.meta
            body = {"name": meta.get("name") or "external", "script": meta.get("script") or "python",
                    "tags": [t for t in meta.get("tags", []) if t not in ("external", meta.get("script"))][:8],
                    "device": str(meta.get("device", ""))[:64],
                    "description": {k: v for k, v in meta.items() if k not in ("name", "tags")}}
            try:
                resp = http.post("/api/external", json=body)
                resp.raise_for_status()
                self.run_id = resp.json()["id"]
            except Exception as exc:  # down, refusing, or not a lab
                self.problem = f"could not create a run in the lab at {self.url} ({_why(exc)})"
            while True:
                kind, payload = self.queue.get()
                if kind is STOP:
                    return
                if kind == "records":
                    with self.lock:
                        self.pending -= len(payload)
                if self.problem is not None or self.run_id is None:
                    continue
                try:
                    if kind == "records":
                        http.post(f"/api/external/{self.run_id}/records", json={"records": _finite(payload)}
                                  ).raise_for_status()
                    else:
                        summary = payload.model_dump(mode="json") if hasattr(payload, "model_dump") else payload
                        http.post(f"/api/external/{self.run_id}/finish",
                                  json={"status": summary.get("status", "succeeded") if summary.get("status") in
                                        ("succeeded", "failed", "cancelled") else "succeeded",
                                        "summary": _finite(summary)}).raise_for_status()
                except Exception as exc:
                    self.problem = f"the lab at {self.url} failed to take records ({_why(exc)})"


def _why(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}: {exc.response.text[:200]}"
    return f"{type(exc).__name__}: {exc}"


def _finite(obj: Any) -> Any:
    """NaN and infinities as None (strict JSON)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def import_folder(folder: str | Path, url: str, *, token: str | None = None, batch: int = 2000) -> str:
    """Send a run folder written by ``noether.watch(lab=None)`` to a lab; returns the new run's id.

    Unlike the live sink this one waits for each answer and raises on the first error (``httpx.HTTPError``).
    """
    import json

    from noether.io import SPEC_JSON, read_series, read_summary

    path = Path(folder)
    description = json.loads((path / SPEC_JSON).read_text())
    if description.get("kind") != "external":
        raise ValueError(f"{path} is not a watched run's folder (its spec.json has no kind 'external')")
    summary = read_summary(path)
    records = read_series(path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as http:
        body = {"name": description.get("name") or summary.name or path.name,
                "script": description.get("script") or "python",
                "tags": ["imported"], "description": {k: v for k, v in description.items() if k not in ("name", "tags")}}
        resp = http.post("/api/external", json=body)
        resp.raise_for_status()
        run_id = resp.json()["id"]
        for i in range(0, len(records), batch):
            http.post(f"/api/external/{run_id}/records", json={"records": _finite(records[i:i + batch])}
                      ).raise_for_status()
        status = summary.status if summary.status in ("succeeded", "failed", "cancelled") else "succeeded"
        http.post(f"/api/external/{run_id}/finish",
                  json={"status": status, "summary": _finite(summary.model_dump(mode="json"))}).raise_for_status()
    return run_id

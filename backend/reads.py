"""The cap on heavy reads: what bounds the web process's memory under any read load (docs/operations.md)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from fastapi import HTTPException


class HeavyReads:
    """At most ``slots`` heavy reads at once in this process; the next waits ``wait`` s, then gets 503.

    A heavy read holds many records in memory (a long page, an envelope computed from the records, an
    export): capping them bounds the web process's memory under any read load (docs/operations.md).
    """

    RECORDS = 5_000  # a read of more records than this is heavy

    def __init__(self, slots: int, wait: float):
        self.slots, self.wait = slots, wait
        self._sem = threading.BoundedSemaphore(slots)

    def __call__(self, records: int) -> contextlib.AbstractContextManager:
        """A context manager holding a slot when ``records`` is over ``RECORDS`` (else nothing)."""
        if records <= self.RECORDS:
            return contextlib.nullcontext()
        got = self._sem.acquire(timeout=self.wait) if self.wait > 0 else self._sem.acquire(blocking=False)
        if not got:
            raise HTTPException(
                status_code=503, headers={"Retry-After": "1"},
                detail=f"busy: {self.slots} heavy reads (over {self.RECORDS} records each) are being served; retry "
                "in a second, or read fewer records (?limit=, ?points=)",
            )
        return self._held()

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._sem.release()

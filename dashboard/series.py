"""Pure helpers on run series: law and norm columns, min/max envelopes, ETA, durations, list parsing.

A *record* is one flat dict of the run (``step``, ``t``, ``loss``, one column per law, list-valued
views such as ``position`` or ``<law id>:neurons``; see ``noether/summary.py``). The dashboard keeps
series as *columns*: ``{"step": [...], "loss": [...], ...}`` in step order, one entry per step.
The browser's live loop keeps the records itself (``assets/live-2-store.js``: each step once, a batch
delivered twice dropped) and their min/max envelope incrementally (``live-1-envelope.js``: 256-511 buckets of
2^k records, so that a live curve costs the same to draw at any length); a long run's whole history comes
from the API's envelope levels (``?points=``), as does every series on Compare. ``minmax_envelope`` serves
the pure figure builders given long in-memory columns (``noether_remote``'s plots of a training loop
outside the lab).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

MAX_POINTS = 2000  # beyond this many points a trace is drawn as a min/max envelope
ENVELOPE_BUCKETS = 500  # buckets of an envelope: 2 points (min and max) each


def is_finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def scalar_columns(columns: dict[str, list[Any]]) -> list[str]:
    """Names of the columns holding numbers (not views), in their order."""
    out = []
    for name, values in columns.items():
        sample = next((v for v in values if v is not None), None)
        if isinstance(sample, int | float) and not isinstance(sample, bool):
            out.append(name)
    return out


NORM_PREFIX = "sq_norm/"  # the driver's squared norm of each parameter tensor: a diagnostic, not a law


def law_ids(columns: Iterable[str]) -> list[str]:
    """Law columns: every scalar column that is not step, t, loss, a squared norm or a ':'-suffixed companion."""
    return [c for c in columns if c not in ("step", "t", "loss") and ":" not in c and not c.startswith(NORM_PREFIX)]


def norm_columns(columns: Iterable[str]) -> list[str]:
    """The squared norms of the parameter tensors (``sq_norm/W1``, ``sq_norm/b1``, ...)."""
    return [c for c in columns if c.startswith(NORM_PREFIX) and ":" not in c]


def minmax_envelope(
    x: Sequence[float], y: Sequence[float | None], buckets: int = ENVELOPE_BUCKETS
) -> tuple[list[float], list[float | None]]:
    """Downsample (x, y) to at most 2 * buckets points: each bucket's minimum and maximum, in x order.

    Unlike taking every n-th point, a spike inside a bucket stays visible: the envelope's line
    reaches every extreme of the original curve. Series no longer than 2 * buckets come back as is.
    """
    n = len(x)
    if n <= 2 * buckets:
        return list(x), list(y)
    xs: list[float] = []
    ys: list[float | None] = []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        i_min = i_max = None
        for i in range(lo, hi):
            v = y[i]
            if not is_finite(v):
                continue
            if i_min is None or v < y[i_min]:
                i_min = i
            if i_max is None or v > y[i_max]:
                i_max = i
        if i_min is None:
            xs.append(x[lo])
            ys.append(None)
            continue
        for i in sorted({i_min, i_max}):
            xs.append(x[i])
            ys.append(y[i])
    return xs, ys


def stride_indices(n: int, limit: int) -> list[int]:
    """At most ``limit`` indices spread evenly over range(n), always keeping the first and the last."""
    if n <= limit:
        return list(range(n))
    if limit < 2:
        return [n - 1]
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def eta_seconds(progress: float | None, started_at: str | None, now: datetime | None = None) -> float | None:
    """Seconds left if the run keeps its average pace so far: elapsed * (1 - p) / p; None before any progress."""
    start = parse_time(started_at)
    if start is None or not progress or progress <= 0:
        return None
    now = now or datetime.now(UTC)
    elapsed = (now - start).total_seconds()
    if progress >= 1:
        return 0.0
    return max(0.0, elapsed * (1 - progress) / progress)


def duration_seconds(started_at: str | None, finished_at: str | None, now: datetime | None = None) -> float | None:
    """Wall time of a run: finished - started, or now - started while it runs."""
    start = parse_time(started_at)
    if start is None:
        return None
    end = parse_time(finished_at) or now or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def format_seconds(seconds: float | None) -> str:
    """'1h 02m', '3m 05s', '12.3 s' or '-'."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


def parse_list(text: str | None, cast: type = float) -> list[Any]:
    """'0.01, 0.02 0.05' -> [0.01, 0.02, 0.05]; raises ValueError naming the bad item."""
    out = []
    for item in (text or "").replace(";", ",").replace(" ", ",").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            out.append(cast(item))
        except ValueError:
            raise ValueError(f"'{item}' is not a valid {cast.__name__}") from None
    return out


def parse_widths(text: str | None) -> list[int]:
    """'64-16-10' or '64, 16, 10' -> [64, 16, 10]."""
    return parse_list((text or "").replace("-", ","), int)


def parse_widths_list(text: str | None) -> list[list[int]]:
    """'64-16-10; 64-32-10' -> [[64, 16, 10], [64, 32, 10]] (a sweep over widths)."""
    return [parse_widths(part) for part in (text or "").split(";") if part.strip()]

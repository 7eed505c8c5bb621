"""Envelope levels: built batch by batch, they give the min/max/mean of every bucket of the records."""

from __future__ import annotations

import math
import random

import pytest

from workers import envelopes, series


def make_records(n: int, seed: int = 1) -> list[dict]:
    """Records with gaps (None), a column that appears only now and then, a spike, and a view."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rec = {"step": 3 * i, "t": 0.1 * i, "loss": rng.random(), "position": [1.0, 2.0]}
        if i % 7 == 0:
            rec["loss"] = None
        if i % 5 == 0:
            rec["x"] = rng.gauss(0, 1)
        out.append(rec)
    out[n // 3]["loss"] = 50.0  # one spike
    return out


def brute_force(recs: list[dict], width: int, column: str) -> tuple[list, list, list]:
    lo, hi, mean = [], [], []
    for start in range(0, len(recs), width):
        vals = [r[column] for r in recs[start : start + width] if isinstance(r.get(column), float)]
        lo.append(min(vals) if vals else None)
        hi.append(max(vals) if vals else None)
        mean.append(sum(vals) / len(vals) if vals else None)
    return lo, hi, mean


@pytest.mark.parametrize("points", [1, 3, 100, 500, 1000])
def test_levels_built_in_uneven_batches_give_each_buckets_extremes_and_mean(points):
    recs = make_records(20_000)
    pyramid = envelopes.Pyramid(keep=True)
    rng, i = random.Random(2), 0
    while i < len(recs):
        k = rng.randint(1, 700)
        pyramid.add(recs[i : i + k])
        i += k
    view = envelopes.pyramid_view(pyramid, points)
    width = view["bucket_records"]
    assert points / 2 < len(view["step"]) <= points or points == 1
    assert view["step"] == [r["step"] for r in recs[::width]]
    assert list(view["columns"]) == ["t", "x", "loss"] and view["views"] == ["position"]
    for column in ("t", "x", "loss"):
        lo, hi, mean = brute_force(recs, width, column)
        assert view["columns"][column]["min"] == lo and view["columns"][column]["max"] == hi
        assert view["columns"][column]["mean"] == pytest.approx(mean, rel=1e-12)
    assert max(view["columns"]["loss"]["max"]) == 50.0  # the spike stays visible at every resolution


def test_a_short_series_is_bucketed_from_its_records():
    assert envelopes.level_for(1600, 100) is None  # 16 records a point or fewer: exact buckets
    assert envelopes.level_for(1601, 100) == 0
    recs = make_records(50)
    assert not series.downsample(recs, 100)["downsampled"]


def test_levels_read_back_from_the_archive_files_equal_the_ones_in_memory(tmp_path):
    recs = make_records(5_000)
    envelopes.write(recs, tmp_path)
    pyramid = envelopes.Pyramid(keep=True)
    pyramid.add(recs)
    for points in (7, 64, 300):
        assert envelopes.store_view(tmp_path, points, None) == envelopes.pyramid_view(pyramid, points)


def test_non_finite_values_are_skipped_and_an_empty_bucket_gives_none():
    recs = [{"step": i, "a": math.inf if i < 64 else float(i)} for i in range(6_400)]
    view = envelopes.pyramid_view(envelopes.Pyramid(keep=True), 10) or None
    assert view is None  # nothing recorded: no levels
    pyramid = envelopes.Pyramid(keep=True)
    pyramid.add(recs)
    view = envelopes.pyramid_view(pyramid, 100)
    assert view["bucket_records"] == 64
    assert view["columns"]["a"]["min"][0] is None and view["columns"]["a"]["min"][1] == 64.0

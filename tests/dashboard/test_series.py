"""Pure series helpers: min/max envelopes keep spikes, ETA, list parsing. (A batch delivered twice is drawn
once: the browser's store, tests/js/store.test.js.)"""

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.series import (
    eta_seconds,
    format_seconds,
    law_ids,
    minmax_envelope,
    norm_columns,
    parse_list,
    parse_widths_list,
    stride_indices,
)


def test_envelope_keeps_a_single_spike_and_bounds_the_size():
    n = 100_000
    x = list(range(n))
    y = [0.0] * n
    y[54_321] = 1e6
    y[77_777] = -5.0
    xs, ys = minmax_envelope(x, y, buckets=500)
    assert len(xs) <= 1000
    assert max(ys) == 1e6 and min(ys) == -5.0
    assert xs == sorted(xs)
    assert 54_321 in xs


def test_short_series_are_left_alone():
    assert minmax_envelope([0, 1, 2], [3.0, 1.0, 2.0], buckets=10) == ([0, 1, 2], [3.0, 1.0, 2.0])


def test_stride_keeps_first_and_last():
    idx = stride_indices(10_001, 100)
    assert idx[0] == 0 and idx[-1] == 10_000 and len(idx) <= 100


def test_eta_from_average_pace():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(seconds=30)
    assert eta_seconds(0.25, start.isoformat(), now) == pytest.approx(90.0)
    assert eta_seconds(0.0, start.isoformat(), now) is None
    assert format_seconds(90.0) == "1m 30s" and format_seconds(None) == "-"


def test_law_columns_are_not_companions():
    assert law_ids(["step", "t", "loss", "balance/h2", "balance/h2:pred", "energy"]) == ["balance/h2", "energy"]


def test_squared_norms_are_diagnostics_not_laws():
    cols = ["step", "loss", "balance/h1", "sq_norm/W1", "sq_norm/b1", "balance/h1:|W_1|^2"]
    assert law_ids(cols) == ["balance/h1"]  # the norms move by design: no law chart, no drift line
    assert norm_columns(cols) == ["sq_norm/W1", "sq_norm/b1"]


def test_sweep_lists_name_the_bad_item():
    assert parse_list("0.01, 0.02 0.05") == [0.01, 0.02, 0.05]
    assert parse_widths_list("64-16-10; 64-32-10") == [[64, 16, 10], [64, 32, 10]]
    with pytest.raises(ValueError, match="'x'"):
        parse_list("1, x", int)

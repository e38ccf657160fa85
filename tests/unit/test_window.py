"""The detection window: overlap, catch-up after failures, and the catch-up cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sgrevert.window import MAX_CATCH_UP, detection_window

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=20)


def test_first_run_looks_back_the_lookback() -> None:
    window = detection_window(NOW, None, LOOKBACK)
    assert (window.start, window.end, window.capped) == (NOW - LOOKBACK, NOW, False)


def test_a_recent_watermark_still_overlaps_by_the_lookback() -> None:
    window = detection_window(NOW, NOW - timedelta(minutes=10), LOOKBACK)
    assert window.start == NOW - LOOKBACK


def test_an_old_watermark_stretches_the_window_back_over_failed_runs() -> None:
    window = detection_window(NOW, NOW - timedelta(hours=6), LOOKBACK)
    assert (window.start, window.capped) == (NOW - timedelta(hours=6), False)


def test_catch_up_after_a_long_outage_is_capped_and_says_from_where() -> None:
    watermark = NOW - timedelta(days=10)
    window = detection_window(NOW, watermark, LOOKBACK)
    assert window.start == NOW - MAX_CATCH_UP
    assert window.capped_from == watermark

"""How long to wait before trying again, and when to stop (outeai_cli.http.retry), measured
directly: the waits are random and bounded in total time, which a run against a server shows
only in part (test_client.py and test_faults.py hold the retries themselves)."""

from __future__ import annotations

import random
import time

import pytest

from outeai_cli.errors import APIError
from outeai_cli.http.retry import RetryPolicy, parse_retry_after


def test_retry_after_is_read_in_seconds_and_anything_else_is_ignored() -> None:
    assert parse_retry_after("0") == 0.0  # "now" is an answer, not a missing header
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-1") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None  # the date form
    assert parse_retry_after("") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]
)
def test_backoff_waits_between_half_and_all_of_a_ceiling_that_doubles(
    attempt: int, ceiling: float
) -> None:
    """Full jitter: uniform in [ceiling/2, ceiling], the ceiling doubling from 0.5 s to 8 s."""
    random.seed(attempt)
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    waits = [policy.delay(attempt) for _ in range(300)]
    assert ceiling / 2 <= min(waits) < ceiling * 0.55
    assert ceiling * 0.95 < max(waits) <= ceiling


def test_a_retry_after_of_zero_is_no_wait_and_a_long_one_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(1, retry_after=0.0) == 0.0
    assert policy.delay(1, retry_after=3600.0) == 30.0


def test_no_retry_whose_wait_would_pass_the_total_time() -> None:
    policy = RetryPolicy(retries=5, total_time=10.0)
    busy = APIError("busy", status=503, retry_after=4.0)
    now = time.monotonic()
    assert policy.delay_after(busy, 1, now - 5.0, 0) == 4.0  # 5 s spent + 4 s: within 10 s
    assert policy.delay_after(busy, 1, now - 7.0, 0) is None  # 7 + 4 would pass 10 s
    assert policy.delay_after(busy, 6, now, 0) is None  # the sixth retry of five

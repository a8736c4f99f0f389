"""Each vendor's rate headers, read by one mechanism configured per profile."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from sync_pipeline.transport import GHL_PROFILE, HUBSPOT_PROFILE, PDL_PROFILE
from sync_pipeline.transport.profiles import GENERIC_RATE_HEADERS
from sync_pipeline.transport.rate_headers import Observation, read_observations, retry_after_s


def test_ghl_burst_and_daily_windows() -> None:
    headers = httpx.Headers(
        {
            "X-RateLimit-Max": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Interval-Milliseconds": "10000",
            "X-RateLimit-Limit-Daily": "200000",
            "X-RateLimit-Daily-Remaining": "199000",
        }
    )
    burst, daily = read_observations(headers, GHL_PROFILE.rate_headers)
    assert burst == Observation("burst", 100, 0, 10.0, None) and burst.exhausted
    assert daily == Observation("daily", 200_000, 199_000, 86_400.0, None) and not daily.exhausted


def test_hubspot_headers_including_the_secondly_window() -> None:
    headers = httpx.Headers(
        {
            "X-HubSpot-RateLimit-Max": "150",
            "X-HubSpot-RateLimit-Remaining": "149",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Secondly": "15",
            "X-HubSpot-RateLimit-Secondly-Remaining": "14",
        }
    )
    assert read_observations(headers, HUBSPOT_PROFILE.rate_headers) == [
        Observation("burst", 150, 149, 10.0, None),
        Observation("secondly", 15, 14, 1.0, None),
    ]


def test_pdl_dict_shaped_values() -> None:
    headers = httpx.Headers(
        {
            "x-ratelimit-limit": "{'minute': 100}",
            "x-ratelimit-remaining": "{'minute': 99}",
            "x-ratelimit-reset": "42",
        }
    )
    [minute] = read_observations(headers, PDL_PROFILE.rate_headers)
    assert (minute.window, minute.limit, minute.remaining, minute.period_s) == ("minute", 100, 99, 60.0)
    assert minute.reset_s == pytest.approx(42)


def test_generic_reset_as_epoch_time() -> None:
    reset_at = int(time.time()) + 30
    headers = httpx.Headers(
        {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset_at)}
    )
    [advertised] = read_observations(headers, GENERIC_RATE_HEADERS)
    assert advertised.exhausted and advertised.period_s is None
    assert advertised.reset_s == pytest.approx(30, abs=1.5)


def test_absent_or_garbled_headers_say_nothing() -> None:
    assert read_observations(httpx.Headers({"X-RateLimit-Max": "many"}), GHL_PROFILE.rate_headers) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("http-date in 20 s", 20.0), ("soon", None)],
)
def test_retry_after_in_seconds_or_as_an_http_date(value: str, expected: float | None) -> None:
    if value.startswith("http-date"):
        value = formatdate(time.time() + 20, usegmt=True)
    seconds = retry_after_s(httpx.Headers({"Retry-After": value}))
    assert seconds == (pytest.approx(expected, abs=1.5) if expected is not None else None)

"""The sandbox core seen from an HTTP client: rate limits, every fault type, latency, admin endpoints
and the blocking launcher behind ``sync-pipeline sandbox``. GHL serves as the vendor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sync_pipeline.sandbox import FaultConfig, LatencyConfig, ManualClock, RateWindow, SandboxConfig
from sync_pipeline.sandbox.ghl.config import GhlConfig
from sync_pipeline_tests.sandbox_fixtures import GhlSandboxFactory, GhlSandboxHandle

RATE_HEADERS = (
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
)
COMPRESSED = (RateWindow("burst", 5, 1.0), RateWindow("daily", 8, 86_400.0, rolling=False))


def search(client: httpx.Client, handle: GhlSandboxHandle, **body: object) -> httpx.Response:
    return client.post("/contacts/search", json={"locationId": handle.location_id, "pageLimit": 1, **body})


def test_compressed_rate_limit_on_the_sandbox_clock(ghl_sandbox_factory: GhlSandboxFactory) -> None:
    clock = ManualClock()
    handle = ghl_sandbox_factory(clock=clock, vendor_configs={"ghl": GhlConfig(rate_windows=COMPRESSED)})
    with handle.client() as client:
        remaining = [int(search(client, handle).headers["X-RateLimit-Remaining"]) for _ in range(5)]
        assert remaining == [4, 3, 2, 1, 0]
        refused = search(client, handle)
        assert refused.status_code == 429
        assert refused.json()["statusCode"] == 429 and refused.json()["message"] == "Too Many Requests"
        assert refused.json()["error"] == "Too Many Requests"
        assert "Retry-After" not in refused.headers  # UNCONFIRMED for GHL: off by default
        assert refused.headers["X-RateLimit-Max"] == "5"
        assert refused.headers["X-RateLimit-Interval-Milliseconds"] == "1000"

        clock.advance(1.01)
        assert search(client, handle).status_code == 200
        handle.admin("config", {"retry_after_on_429": True})
        assert [search(client, handle).status_code for _ in range(2)] == [200, 200]
        daily = search(client, handle)  # a 9th request in the day: the daily window (8) is full
        assert daily.status_code == 429
        assert daily.headers["X-RateLimit-Daily-Remaining"] == "0"
        assert int(daily.headers["Retry-After"]) > 3600  # the fixed daily window resets at UTC midnight
    stats = handle.admin("stats")
    assert stats["rate_limited"] == 2
    assert stats["requests"]["POST /contacts/search"] == {"200": 8, "429": 2}
    # The pace the vendor saw, on its clock: the first request before the advance, the last after.
    assert stats["last_request_at"] - stats["first_request_at"] == pytest.approx(1.01)
    assert stats["last_request_at"] == clock.now()


def test_every_response_carries_the_rate_headers(ghl_sandbox: GhlSandboxHandle) -> None:
    with ghl_sandbox.client() as client:
        answers = [
            search(client, ghl_sandbox),
            client.get("/contacts/unknownid"),
            client.get("/no/such/path"),
            httpx.get(f"{ghl_sandbox.url}/contacts/x", headers={"Authorization": "Bearer wrong"}),
        ]
    assert [a.status_code for a in answers] == [200, 400, 404, 401]
    for answer in answers:
        assert all(h in answer.headers for h in RATE_HEADERS), answer.headers
    assert httpx.get(f"{ghl_sandbox.url}/_sandbox/stats").headers.get("X-RateLimit-Max") is None


def test_injected_errors_and_429_bursts(ghl_sandbox_factory: GhlSandboxFactory) -> None:
    handle = ghl_sandbox_factory(config=SandboxConfig(faults=FaultConfig(error_next=1, error_status=503)))
    with handle.client() as client:
        error = search(client, handle)
        assert error.status_code == 503 and error.json()["message"] == "Internal server error"
        handle.admin("faults", {"burst_429": 2, "burst_retry_after_s": 3})
        bursts = [search(client, handle) for _ in range(3)]
        assert [b.status_code for b in bursts] == [429, 429, 200]
        assert bursts[0].headers["Retry-After"] == "3"
        handle.admin("faults", {"error_rate": 1.0, "error_status": 500})
        assert {search(client, handle).status_code for _ in range(3)} == {500}
    assert handle.admin("stats")["faults"] == {"error": 4, "burst_429": 2}


def test_dropped_connection_is_a_protocol_error(ghl_sandbox: GhlSandboxHandle) -> None:
    ghl_sandbox.admin("faults", {"drop_next": 1})
    with ghl_sandbox.client() as client:
        # the client sees the closed socket as a protocol error or, if the close races its read,
        # as a connection reset: either way no response
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            search(client, ghl_sandbox)
        assert search(client, ghl_sandbox).status_code == 200
    stats = ghl_sandbox.admin("stats")
    assert stats["requests"]["POST /contacts/search"] == {"dropped": 1, "200": 1}
    assert stats["faults"] == {"drop": 1}


def test_timeout_hangs_past_the_client_timeout(ghl_sandbox: GhlSandboxHandle) -> None:
    ghl_sandbox.admin("faults", {"timeout_next": 1, "timeout_s": 2.0})
    with ghl_sandbox.client(timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            search(client, ghl_sandbox)
        assert time.monotonic() - started < 1.5
        assert search(client, ghl_sandbox).status_code == 200


def test_lost_response_handles_the_request_then_drops(ghl_sandbox: GhlSandboxHandle) -> None:
    contact_id = ghl_sandbox.state.book.seeded.id_of(3)
    send = {"type": "Email", "contactId": contact_id, "subject": "Hello", "html": "<p>Hi</p>"}
    ghl_sandbox.admin("faults", {"lost_response_next": 1})
    with ghl_sandbox.client(headers={"X-Idempotency-Key": "outbox-1"}) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/conversations/messages", json=send)
        assert client.post("/conversations/messages", json=send).status_code == 200  # the retry
    stats = ghl_sandbox.admin("stats")
    assert stats["emails_accepted"] == 2
    assert stats["duplicate_sends_by_reason"] == {"idempotency_key": 1, "same_content": 0}
    assert stats["faults"] == {"lost_response": 1}


def test_latency_is_added_to_vendor_requests_only(ghl_sandbox_factory: GhlSandboxFactory) -> None:
    handle = ghl_sandbox_factory(config=SandboxConfig(latency=LatencyConfig(min_ms=150, max_ms=200)))
    with handle.client() as client:
        started = time.monotonic()
        search(client, handle)
        assert time.monotonic() - started >= 0.15
        started = time.monotonic()
        handle.admin("stats")
        assert time.monotonic() - started < 0.15
    assert handle.admin("latency", {"min_ms": 0, "max_ms": 0}) == {"min_ms": 0.0, "max_ms": 0.0}


def test_admin_endpoints_read_change_and_reset(ghl_sandbox: GhlSandboxHandle) -> None:
    admin = ghl_sandbox.admin
    assert admin("faults")["error_rate"] == 0.0
    assert admin("faults", {"drop_rate": 0.25})["drop_rate"] == 0.25
    windows = admin("rate-limits", {"windows": [{"name": "burst", "limit": 3, "seconds": 2}]})["windows"]
    assert windows == [{"name": "burst", "limit": 3, "seconds": 2.0, "rolling": True}]
    assert admin("webhooks", {"url": "http://127.0.0.1:9/hook"})["url"] == "http://127.0.0.1:9/hook"
    assert admin("config", {"search_index_lag_s": 2})["search_index_lag_s"] == 2.0
    creds = admin("credentials")
    assert creds["credentials"]["location_id"] == ghl_sandbox.location_id
    assert creds["env"]["GHL_BASE_URL"] == ghl_sandbox.url

    bad = httpx.post(f"{ghl_sandbox.url}/_sandbox/faults", json={"eror_rate": 1})
    assert bad.status_code == 400 and "eror_rate" in bad.json()["error"]
    assert httpx.post(f"{ghl_sandbox.url}/_sandbox/config", json={"api_key": "x"}).status_code == 400

    admin("reset", {})
    assert admin("faults")["drop_rate"] == 0.0
    assert admin("rate-limits")["windows"][0]["limit"] == 100
    assert admin("config")["search_index_lag_s"] == 0.0
    assert admin("stats")["requests_total"] == 0
    assert admin("stats")["first_request_at"] is None


def test_serve_sandbox_writes_urls_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    urls_file = tmp_path / "sandbox.json"
    code = (
        "from pathlib import Path; from sync_pipeline.sandbox import serve_sandbox; "
        f"serve_sandbox(urls_file=Path({str(urls_file)!r}), contacts=500, seed=3)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        deadline = time.monotonic() + 20
        while not urls_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, "sandbox process did not start"
            time.sleep(0.05)
        described = json.loads(urls_file.read_text())
        ghl = described["credentials"]["ghl"]
        answer = httpx.post(
            f"{described['urls']['ghl']}/contacts/search",
            json={"locationId": ghl["location_id"], "pageLimit": 1},
            headers={"Authorization": f"Bearer {ghl['api_key']}", "Version": ghl["version"]},
        )
        assert answer.json()["total"] == 500
        assert described["env"]["GHL_LOCATION_ID"] == ghl["location_id"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out.startswith("ghl: http://127.0.0.1:")

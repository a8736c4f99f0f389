"""Retries ride out what may succeed later and never repeat a write that may have been applied;
failures arrive as the provider error classes with the vendor's message."""

from __future__ import annotations

import logging

import pytest

from sync_pipeline.errors import AuthError, NotFound, PermanentVendorError, TransientVendorError
from sync_pipeline.settings import Secret

from .conftest import ClientFactory
from .fake_vendor import DROP, HANG, FakeVendor, Fault
from .ghl_client import get_contact


def test_a_503_burst_is_ridden_out(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    fake.script.extend([Fault.answer(503)] * 3)
    client = make_client()

    response = client.request("GET", "/contacts/{contactId}", path_params={"contactId": "c1"})

    assert response.json() == {"contact": {"id": "c1"}}
    assert [a.status for a in fake.arrivals] == [503, 503, 503, 200]
    call = response.extensions["sync_pipeline.call"]
    assert (call.attempts, call.retries) == (4, 3)


def test_a_503_burst_longer_than_the_attempts_raises_transient(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.extend([Fault.answer(503, {"statusCode": 503, "message": "Service Unavailable"})] * 10)

    with pytest.raises(TransientVendorError, match=r"GET /contacts/\{contactId\} answered 503 after 5 attempt"):
        get_contact(make_client(), "c1")
    assert len(fake.arrivals) == 5


def test_a_dropped_connection_on_a_get_is_retried(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    fake.script.append(DROP)
    assert get_contact(make_client(), "c1") == 200
    assert len(fake.arrivals) == 2


def test_a_post_without_idempotency_guard_is_not_retried_after_a_timeout(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.append(HANG)
    client = make_client(timeout=0.25)

    with pytest.raises(TransientVendorError, match=r"timed out.*not retried.*idempotency_key") as caught:
        client.request("POST", "/conversations/messages", json={"type": "Email", "html": "<p>hi</p>"})
    assert len(fake.arrivals) == 1
    assert "/conversations/messages" in str(caught.value)


@pytest.mark.parametrize("guard", [{"idempotency_key": "outbox-42"}, {"idempotent": True}])
def test_a_guarded_post_is_retried_after_a_timeout_or_drop(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory, guard: dict
) -> None:
    fake, _ = vendor
    fake.script.extend([HANG, DROP])
    client = make_client(timeout=0.25)

    response = client.request("POST", "/conversations/messages", json={"type": "Email"}, **guard)

    assert response.status_code == 200
    assert len(fake.arrivals) == 3


def test_a_post_is_not_retried_after_a_503_without_guard(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.append(Fault.answer(503))
    with pytest.raises(TransientVendorError, match="not retried"):
        make_client().request("POST", "/contacts/search", json={"pageLimit": 10})
    assert len(fake.arrivals) == 1


def test_a_429_is_retried_even_for_an_unguarded_post(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.append(Fault.answer(429, **{"Retry-After": "0.2"}))
    response = make_client().request("POST", "/contacts/search", json={"pageLimit": 10})
    assert response.status_code == 200
    assert [a.status for a in fake.arrivals] == [429, 200]


def test_a_connect_error_is_retried_even_for_an_unguarded_post(make_client: ClientFactory) -> None:
    client = make_client(base_url="http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(TransientVendorError, match=r"lost the connection.*gave up after 5 attempts"):
        client.request("POST", "/contacts/search", json={})
    assert client.stats().attempts == 5


def test_a_401_fails_fast_naming_the_setting(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    client = make_client(credentials=Secret("pit-wrong-0000-1111-2222"))

    with pytest.raises(AuthError, match=r"GoHighLevel rejected the credentials.*Check GHL_API_KEY") as caught:
        get_contact(client, "c1")
    assert caught.value.status == 401
    assert len(fake.arrivals) == 1


def test_a_missing_key_fails_before_any_request(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    with pytest.raises(AuthError, match="GHL_API_KEY is not set"):
        get_contact(make_client(credentials=Secret("")), "c1")
    assert vendor[0].arrivals == []


def test_vendor_error_bodies_become_specific_errors(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    fake.script.extend(
        [
            Fault.answer(
                422,
                {
                    "statusCode": 422,
                    "message": ["property additionalEmails should not exist", "email must be an email"],
                    "error": "Unprocessable Entity",
                },
            ),
            Fault.answer(404, {"statusCode": 404, "message": "Contact not found"}),
            Fault.answer(400, {"statusCode": 400, "message": "This location does not allow duplicated contacts."}),
        ]
    )
    client = make_client()

    with pytest.raises(PermanentVendorError) as unprocessable:
        client.request("POST", "/contacts/", json={"additionalEmails": []}, idempotent=True)
    assert unprocessable.value.status == 422
    assert "property additionalEmails should not exist; email must be an email" in str(unprocessable.value)
    with pytest.raises(NotFound, match="Contact not found"):
        get_contact(client, "gone")
    with pytest.raises(PermanentVendorError, match="does not allow duplicated contacts"):
        client.request("POST", "/contacts/", json={})
    assert len(fake.arrivals) == 3  # none of them retried


def test_ghl_400_not_found_is_a_missing_record_logged_quietly(
    vendor: tuple[FakeVendor, str], make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake, _ = vendor
    fake.script.extend(
        [
            Fault.answer(400, {"statusCode": 400, "message": "Contact with id abc123 not found"}),
            Fault.answer(400, {"statusCode": 400, "message": "Bad Request"}),
        ]
    )
    client = make_client()

    with caplog.at_level(logging.INFO, logger="sync_pipeline.transport"):
        with pytest.raises(NotFound, match="with id abc123 not found") as missing:
            get_contact(client, "abc123")
        with pytest.raises(PermanentVendorError) as bad:
            get_contact(client, "abc124")
    assert missing.value.status == 400 and not isinstance(bad.value, NotFound)
    levels = {r.levelno for r in caplog.records if "answered 400" in r.getMessage()}
    assert levels == {logging.INFO, logging.WARNING}  # the miss at INFO, the real error at WARNING


def test_path_params_are_escaped_and_required(vendor: tuple[FakeVendor, str], make_client: ClientFactory) -> None:
    fake, _ = vendor
    client = make_client()
    client.request("GET", "/contacts/{contactId}", path_params={"contactId": "a/../b?x=1"})
    assert fake.arrivals[-1].path == "/contacts/a%2F..%2Fb%3Fx%3D1"
    with pytest.raises(ValueError, match="needs path_params\\['contactId'\\]"):
        client.request("GET", "/contacts/{contactId}")
    with pytest.raises(ValueError, match="query string"):
        client.request("GET", "/contacts/?email=a@b.c")

"""The api_calls ledger (one row per attempt, templated, batched) and keeping secrets out of
errors, logs, reprs and the ledger."""

from __future__ import annotations

import logging
import time

import pytest

from sync_pipeline.errors import AuthError, PermanentVendorError, TransientVendorError
from sync_pipeline.settings import Secret
from sync_pipeline.store import Store, connect, migrate
from sync_pipeline.transport import CallLedger, Redactor

from .conftest import ClientFactory
from .fake_vendor import HANG, FakeVendor, Fault
from .ghl_client import get_contact

LEAKY_TOKEN = "pit-7e57c0de-dead-beef-0000-5ecre7511111"


def _ledger(store: Store) -> list[dict]:
    with store.transaction() as tx:
        return tx.fetchall('SELECT * FROM api_calls ORDER BY "at", id')


def test_every_attempt_is_one_templated_row_written_in_a_batch(
    store: Store, vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    fake, _ = vendor
    fake.script.extend([Fault.answer(503), Fault.answer(429, **{"Retry-After": "0.1"})])
    client = make_client()
    get_contact(client, "contact-id-123")  # 503, then 429, then 200
    client.request("POST", "/contacts/search", json={"query": "ann@example.com"}, cost_usd=0.25)

    assert _ledger(store) == [], "rows are buffered, not written one by one"
    client.flush()
    rows = _ledger(store)

    assert [(r["method"], r["endpoint"], r["status_code"], r["rate_limited"]) for r in rows] == [
        ("GET", "/contacts/{contactId}", 503, False),
        ("GET", "/contacts/{contactId}", 429, True),
        ("GET", "/contacts/{contactId}", 200, False),
        ("POST", "/contacts/search", 200, False),
    ]
    assert {r["provider"] for r in rows} == {"ghl"} and {r["account"] for r in rows} == {"loc-test"}
    assert [r["cost_usd"] for r in rows] == [0, 0, 0, 0.25]
    assert [r["error"] for r in rows] == [
        "HTTP 503 Service Unavailable",
        "HTTP 429 Too Many Requests",
        None,
        None,
    ]
    assert all(r["latency_ms"] > 0 for r in rows)
    assert not any("contact-id-123" in str(r.values()) for r in rows)


def test_a_timed_out_attempt_is_a_row_without_status(
    store: Store, vendor: tuple[FakeVendor, str], make_client: ClientFactory
) -> None:
    vendor[0].script.append(HANG)
    client = make_client(timeout=0.25)
    with pytest.raises(TransientVendorError):
        client.request("POST", "/conversations/messages", json={})
    client.flush()
    [row] = _ledger(store)
    assert (row["endpoint"], row["status_code"], row["error"]) == (
        "/conversations/messages",
        None,
        "ReadTimeout",
    )


def test_the_ledger_flushes_by_size_and_by_age(store: Store, make_client: ClientFactory) -> None:
    by_size = make_client(ledger=CallLedger(store, batch_size=3, max_age_s=60))
    for i in range(4):
        get_contact(by_size, f"c{i}")
    assert len(_ledger(store)) == 3

    by_age = make_client(ledger=CallLedger(store, batch_size=100, max_age_s=0.2))
    get_contact(by_age, "c9")
    time.sleep(0.5)
    assert len(_ledger(store)) == 4
    by_size.close()
    assert len(_ledger(store)) == 5


def test_closing_the_store_flushes_pending_ledger_rows_first(
    db_url: str, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A provider still holding unflushed rows when its store closes loses none of them."""
    store = connect(db_url)
    migrate(store)
    client = make_client(ledger=CallLedger(store, batch_size=100, max_age_s=60))
    for i in range(5):
        get_contact(client, f"c{i}")
    with caplog.at_level(logging.WARNING):
        store.close()
    assert "dropped" not in caplog.text
    reopened = connect(db_url)
    try:
        assert len(_ledger(reopened)) == 5
    finally:
        reopened.close()


def test_secrets_never_leak(
    store: Store, vendor: tuple[FakeVendor, str], make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, _ = vendor
    client = make_client(credentials=Secret(LEAKY_TOKEN))

    # The fake vendor echoes the rejected Authorization header in its 401 message.
    with pytest.raises(AuthError) as rejected:
        get_contact(client, "c1")
    # A vendor echoing some other token, and a key in a URL, in its error body.
    fake.script.append(
        Fault.answer(
            400,
            {"message": f"bad request for https://x.test/v1?api_key={LEAKY_TOKEN}&a=1 with Bearer sk_live_abcdefgh"},
        )
    )
    with pytest.raises(PermanentVendorError) as bad:
        client.request("GET", "/contacts/", params={"query": "x"})
    client.flush()

    assert "GHL_API_KEY" in str(rejected.value) and "Invalid token" in str(rejected.value)
    assert "sk_live_abcdefgh" not in str(bad.value) and "api_key=********" in str(bad.value)
    leaked_into = {
        "str(401 error)": str(rejected.value),
        "repr(401 error)": repr(rejected.value),
        "str(400 error)": str(bad.value),
        "repr(400 error)": repr(bad.value),
        "repr(client)": repr(client),
        "logs": caplog.text,
        "ledger": repr(_ledger(store)),
    }
    assert [where for where, text in leaked_into.items() if LEAKY_TOKEN in text] == []
    assert [where for where, text in leaked_into.items() if "7e57c0de" in text] == []


def test_redactor_masks_known_secrets_and_credential_shapes() -> None:
    redact = Redactor(["s3cr3t-value", "abc"])  # too-short values are not masked (they'd hit words)
    text = (
        "key s3cr3t-value; Authorization: Bearer eyJhbGciOi.J9; url ?token=t0k&x=1 "
        '{"api_key": "k-123"}; pit-0f3e9a1c-5b7d-4e2a; abc'
    )
    assert redact(text) == (
        'key ********; Authorization: ******** ********; url ?token=********&x=1 {"api_key": "********"}; ********; abc'
    )

"""Group commit: concurrent deliveries from every vendor share a transaction and are answered after
it commits; repeats are caught within a batch too; one bad delivery cannot fail the others; a store
that cannot take anything gets the answer that makes the vendor deliver again."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sync_pipeline.records import Contact
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import Store, StoreBusy, Transaction
from sync_pipeline.store import contacts as contacts_q
from sync_pipeline.store.contacts import Account
from sync_pipeline.webhooks.answer import Answer
from sync_pipeline.webhooks.app import ACCESS_LOG_REDACTION, build_app
from sync_pipeline.webhooks.delivery import Delivery
from sync_pipeline.webhooks.ghl import accept_ghl
from sync_pipeline.webhooks.ghl_signature import GhlVerifier
from sync_pipeline.webhooks.group_commit import GroupCommitter
from sync_pipeline.webhooks.rb2b import accept_rb2b, handle_rb2b

TOKEN = "rb2b-secret"
INSTANTLY_TOKEN = "instantly-secret"
KEY = ed25519.Ed25519PrivateKey.generate()
SPKI = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


class GatedStore(Store):
    """A store that counts its transactions and holds the first until ``gate`` opens, so that the
    deliveries arriving meanwhile queue up behind it."""

    def __init__(self, inner: Store) -> None:
        self.inner, self.dialect, self.url = inner, inner.dialect, inner.url
        self.gate, self.first_began = threading.Event(), threading.Event()
        self.transactions = 0

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        self.transactions += 1
        if self.transactions == 1:
            self.first_began.set()
            assert self.gate.wait(10), "the test never opened the gate"
        with self.inner.transaction() as tx:
            yield tx

    migration_lock = transaction


class DownStore(Store):
    """A store that cannot take anything: every transaction raises ``error``."""

    dialect, url = "duckdb", "duckdb:///nowhere"

    def __init__(self, error: Exception) -> None:
        self.error = error

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        raise self.error
        yield  # pragma: no cover

    migration_lock = transaction


@pytest.fixture
def settings() -> Settings:
    return replace(
        Settings.from_env({}),
        rb2b_webhook_token=Secret(TOKEN),
        instantly_webhook_token=Secret(INSTANTLY_TOKEN),
        ghl_webhook_public_key=SPKI,
    )


@pytest.fixture
def gated(store: Store, settings: Settings) -> Iterator[tuple[GatedStore, str]]:
    gated = GatedStore(store)
    server = ServerThread(build_app(gated, settings), name="webhooks")
    yield gated, server.start()
    gated.gate.set()
    server.stop()


def visit(n: int, **extra: object) -> bytes:
    return json.dumps(
        {"Business Email": f"person{n}@acme.example", "Captured URL": f"https://x.example/{n}", **extra}
    ).encode()


@dataclass(frozen=True)
class Post:
    """One delivery as its vendor sends it."""

    url: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(self.url, content=self.content, headers=self.headers)


def ghl_post(n: int) -> Post:
    event = {"type": "ContactUpdate", "id": f"c{n}", "webhookId": f"w{n}", "timestamp": datetime.now(UTC).isoformat()}
    body = json.dumps(event).encode()
    return Post("/webhooks/ghl", body, {"x-ghl-signature": base64.b64encode(KEY.sign(body)).decode()})


def rb2b_post(body: bytes) -> Post:
    return Post(f"/webhooks/rb2b?token={TOKEN}", body)


def instantly_post(n: int) -> Post:
    body = json.dumps({"event_type": "email_opened", "lead_email": f"lead{n}@acme.example"}).encode()
    return Post("/webhooks/instantly", body, {"X-Webhook-Token": INSTANTLY_TOKEN})


def burst(base: str, gated: GatedStore, posts: Sequence[Post]) -> list[httpx.Response]:
    """One delivery holds the first transaction while ``posts`` arrive together; then all are answered."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            first = asyncio.create_task(rb2b_post(visit(-1)).send(client))
            await asyncio.to_thread(gated.first_began.wait, 10)
            rest = [asyncio.create_task(post.send(client)) for post in posts]
            await asyncio.sleep(1.0)  # every request is parsed and queued behind the first commit
            gated.gate.set()
            return [await first, *[await task for task in rest]]

    return asyncio.run(run())


def test_a_burst_from_three_vendors_shares_one_commit(gated: tuple[GatedStore, str], store: Store) -> None:
    gated_store, base = gated
    posts = [post for n in range(10) for post in (rb2b_post(visit(n)), ghl_post(n), instantly_post(n))]

    answers = burst(base, gated_store, posts)

    assert [a.status_code for a in answers] == [200] * 31
    assert {a.json()["detail"] for a in answers} == {
        "visitor landed",
        "ContactUpdate recorded",
        "email_opened -> opened for 0 job(s)",
    }
    assert gated_store.transactions == 2  # the first delivery's, then one for the 30 that queued behind it
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM visitor_events") == 11
        assert tx.scalar("SELECT count(*) FROM contact_events") == 10
        assert tx.scalar("SELECT count(*) FROM webhook_receipts WHERE source = 'instantly'") == 10


def test_repeats_within_one_batch_land_once(gated: tuple[GatedStore, str], store: Store) -> None:
    gated_store, base = gated
    same_visit, same_ghl, same_instantly = rb2b_post(visit(1)), ghl_post(1), instantly_post(1)

    answers = burst(base, gated_store, [same_visit, same_ghl, same_instantly] * 3)

    details = [a.json()["detail"] for a in answers[1:]]
    assert gated_store.transactions == 2
    assert details.count("visitor landed") == details.count("ContactUpdate recorded") == 1
    assert details.count("duplicate delivery ignored") == 6
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM visitor_events") == 2  # visit(-1) and visit(1)
        assert tx.scalar("SELECT count(*) FROM contact_events") == 1
        assert tx.scalar("SELECT count(*) FROM webhook_receipts WHERE source = 'instantly'") == 1


@dataclass(frozen=True)
class Exploding(Delivery):
    """A delivery whose landing fails (as a value the database refuses would)."""

    @classmethod
    def land(cls, tx: Transaction, deliveries: Sequence[Exploding]) -> list[Answer]:
        raise RuntimeError("value out of range for column")


def test_one_delivery_that_cannot_land_fails_only_itself_and_is_quarantined(store: Store) -> None:
    gated = GatedStore(store)
    committer = GroupCommitter(gated)
    account = Account("ghl")
    now = datetime.now(UTC)
    bad = Exploding("rb2b", '{"Business Email": "odd@acme.example"}', now)

    async def run() -> list[Answer]:
        first = asyncio.create_task(committer.answer(accept_rb2b(Secret(TOKEN), visit(0), TOKEN, account)))
        await asyncio.to_thread(gated.first_began.wait, 10)
        batch = [accept_rb2b(Secret(TOKEN), visit(n), TOKEN, account) for n in (1, 2)]
        rest = [asyncio.create_task(committer.answer(d)) for d in (batch[0], bad, batch[1])]
        await asyncio.sleep(0.2)
        gated.gate.set()
        return [await first, *[await task for task in rest]]

    answers = asyncio.run(run())
    committer.close()

    assert [a.detail for a in answers] == ["visitor landed", "visitor landed", "quarantined", "visitor landed"]
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM visitor_events") == 3
        quarantined = tx.fetchall("SELECT reason, body FROM webhook_quarantine")
    assert quarantined == [{"reason": "not landed: RuntimeError: value out of range for column", "body": bad.body}]


@pytest.mark.parametrize("error", [OSError("disk unplugged"), StoreBusy("the DuckDB file stayed busy")])
def test_when_nothing_can_be_stored_the_vendor_is_told_to_deliver_again(error: Exception) -> None:
    committer = GroupCommitter(DownStore(error))
    post = ghl_post(1)
    deliveries = [
        accept_rb2b(Secret(TOKEN), visit(1), TOKEN, Account("ghl")),
        accept_ghl(GhlVerifier.from_settings(SPKI), post.content, post.headers, max_age=timedelta(minutes=5)),
    ]

    async def run() -> list[Answer]:
        return list(await asyncio.gather(*(committer.answer(d) for d in deliveries)))

    rb2b, ghl = asyncio.run(run())
    committer.close()
    assert (rb2b.status, ghl.status) == (503, 429)  # GHL delivers again only after a 429
    assert "the store is unavailable" in rb2b.detail


def test_visitors_match_contacts_of_the_configured_account_only(store: Store) -> None:
    now = datetime.now(UTC)
    older, newer = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(
            tx,
            [
                Contact(id="ours", provider="ghl", location_id="loc-a", email="ann@acme.example", date_updated=older),
                Contact(
                    id="other-location",
                    provider="ghl",
                    location_id="loc-b",
                    email="ann@acme.example",
                    date_updated=newer,
                ),
                Contact(id="other-crm", provider="hubspot", email="bob@acme.example", date_updated=newer),
            ],
            now,
        )
    for body in (
        visit(0, **{"Business Email": "Ann@Acme.example"}),
        visit(0, **{"Business Email": "bob@acme.example"}),
    ):
        assert handle_rb2b(store, Secret(TOKEN), body, TOKEN, account=Account("ghl", "loc-a")).status == 200
    with store.transaction() as tx:
        rows = tx.fetchall("SELECT business_email, contact_id FROM visitor_events ORDER BY business_email")
    assert [(r["business_email"], r["contact_id"]) for r in rows] == [
        ("ann@acme.example", "ours"),
        ("bob@acme.example", None),
    ]


def test_the_access_log_never_shows_a_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/webhooks/rb2b?x=1&token={TOKEN}&y=2", "1.1", 200), None,
    )  # fmt: skip
    assert ACCESS_LOG_REDACTION.filter(record)
    assert TOKEN not in record.getMessage() and "token=***&y=2" in record.getMessage()

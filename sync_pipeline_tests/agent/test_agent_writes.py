from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline import agent
from sync_pipeline.records import Contact
from sync_pipeline.settings import Settings
from sync_pipeline.store import Store
from sync_pipeline.store import contacts as contacts_q

SETTINGS = Settings.from_env({})


@pytest.fixture
def synced(store: Store) -> Store:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        contacts_q.upsert_contacts(
            tx,
            [
                Contact(
                    id="c1",
                    provider="ghl",
                    email="ann@acme.com",
                    first_name="Ann",
                    tags=("lead",),
                    date_updated=now,
                ),
                Contact(id="c2", provider="ghl", email=None, first_name="NoMail", date_updated=now),
            ],
            now,
        )
    return store


def test_enqueue_email_returns_a_job_id_and_is_idempotent(synced: Store) -> None:
    kw = dict(store=synced, settings=SETTINGS)
    job = agent.enqueue_email("Bob@Example.com", "Hello", "<p>Hi</p>", idempotency_key="k1", **kw)
    again = agent.enqueue_email("bob@example.com", "Hello", "<p>Hi</p>", idempotency_key="k1", **kw)
    assert job == again
    status = agent.job_status(job, **kw)
    assert (status["status"], status["to_email"], status["provider"]) == ("queued", "bob@example.com", "ghl")
    by_contact = agent.enqueue_email(subject="Hi", html="<p>x</p>", contact_id="c1", **kw)
    assert agent.job_status(by_contact, **kw)["to_email"] == "ann@acme.com"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"to": "not-an-address", "subject": "s", "html": "h"}, "not a valid email address"),
        ({"to": "a@b.com", "subject": " ", "html": "h"}, "subject is empty"),
        ({"to": "a@b.com", "subject": "s" * 1000, "html": "h"}, "limit is 998"),
        ({"to": "a@b.com", "subject": "s", "html": "x" * 600_000}, "bytes; the limit"),
        ({"subject": "s", "html": "h"}, "pass to="),
        ({"contact_id": "nope", "subject": "s", "html": "h"}, "no live ghl contact with id 'nope'"),
        ({"contact_id": "c2", "subject": "s", "html": "h"}, "has no email address"),
        (
            {"to": "a@b.com", "subject": "s", "html": "h", "send_after": datetime(2030, 1, 1)},
            "timezone-aware",
        ),
        ({"to": "a@b.com", "subject": "s", "html": "h", "callback_url": "ftp://x"}, "callback_url must be"),
    ],
)
def test_invalid_email_requests_are_refused_and_queue_nothing(synced: Store, kwargs: dict, message: str) -> None:
    with pytest.raises(agent.InvalidRequest, match=message):
        agent.enqueue_email(**kwargs, store=synced, settings=SETTINGS)
    with synced.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM outbox") == 0


def test_crm_changes_are_visible_in_the_next_local_read(synced: Store) -> None:
    kw = dict(store=synced, settings=SETTINGS)
    agent.update_contact("c1", first_name="Annie", phone="+15550100", **kw)
    agent.add_tags("c1", ["vip", "lead"], **kw)
    contact = agent.get_contact("c1", **kw)
    assert contact is not None
    assert (contact["first_name"], contact["phone"], contact["pending"]) == ("Annie", "+15550100", True)
    assert contact["tags"] == ["lead", "vip"]
    agent.remove_tags("c1", ["lead"], **kw)
    assert agent.find_contacts(tag="vip", **kw)[0]["tags"] == ["vip"]
    agent.delete_contact("c1", **kw)
    assert agent.get_contact("c1", **kw) is None
    with synced.transaction() as tx:
        jobs = tx.fetchall("SELECT action, payload FROM outbox ORDER BY seq")
    assert [j["action"] for j in jobs] == ["update_contact", "add_tags", "remove_tags", "delete_contact"]
    assert jobs[0]["payload"]["before"] == {"first_name": "Ann", "phone": None}


def test_replayed_crm_change_is_not_applied_twice(synced: Store) -> None:
    kw = dict(store=synced, settings=SETTINGS)
    first = agent.add_tags("c1", ["x"], idempotency_key="tag-x", **kw)
    assert agent.add_tags("c1", ["x"], idempotency_key="tag-x", **kw) == first
    with synced.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM outbox") == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"nickname": "x"}, "unknown contact field"),
        ({}, "nothing to update"),
        ({"tags": ["a"]}, "add_tags"),
        ({"email": "bad"}, "not a valid email"),
    ],
)
def test_invalid_crm_changes_are_refused(synced: Store, fields: dict, message: str) -> None:
    with pytest.raises(agent.InvalidRequest, match=message):
        agent.update_contact("c1", store=synced, settings=SETTINGS, **fields)
    assert agent.get_contact("c1", store=synced, settings=SETTINGS)["pending"] is False


def test_enqueue_is_fast(synced: Store) -> None:
    """A smoke bound only; the p99 figure comes from bench/bench_outbox.py."""
    started = time.perf_counter()
    for i in range(50):
        agent.enqueue_email(
            f"p{i}@x.com",
            "s",
            "<p>h</p>",
            store=synced,
            settings=SETTINGS,
            send_after=datetime.now(UTC) + timedelta(hours=1),
        )
    assert (time.perf_counter() - started) / 50 < 0.05

"""Updates queued for one contact go out as one vendor call; a rejected call leaves none of its
changes behind locally."""

from __future__ import annotations

from sync_pipeline import agent
from sync_pipeline.outbox.run import drain_configured
from sync_pipeline_tests.ghl_deployment import Wired
from sync_pipeline_tests.outbox.conftest import FAST


def test_updates_queued_for_one_contact_are_coalesced_into_one_call(ready: Wired) -> None:
    kw = {"store": ready.store, "settings": ready.settings}
    target = sorted(r["id"] for r in agent.find_contacts(query="@", limit=1, **kw))[0]
    first = agent.update_contact(target, first_name="One", **kw)
    second = agent.update_contact(target, last_name="Two", **kw)
    third = agent.update_contact(target, phone="+15550003333", **kw)
    tags = agent.add_tags(target, ["after-updates"], **kw)
    drain_configured(ready.store, ready.settings, worker_options=FAST)
    assert {agent.job_status(j, **kw)["status"] for j in (first, second, third, tags)} == {"sent"}
    assert "coalesced" in agent.job_status(second, **kw)["last_error"]
    puts = ready.sandbox.admin("stats")["requests"].get("PUT /contacts/{contactId}", {})
    assert sum(puts.values()) == 1  # three updates, one vendor call
    with ready.sandbox.client() as client:
        remote = client.get(f"/contacts/{target}").json()["contact"]
    assert (remote["firstName"], remote["lastName"], remote["phone"]) == ("One", "Two", "+15550003333")
    assert "after-updates" in remote["tags"]
    assert agent.get_contact(target, **kw)["pending"] is False


def test_a_rejected_coalesced_call_leaves_each_update_its_own_outcome(ready: Wired) -> None:
    kw = {"store": ready.store, "settings": ready.settings}
    target = sorted(r["id"] for r in agent.find_contacts(query="@", limit=1, **kw))[0]
    jobs = [agent.update_contact(target, first_name=f"Try{i}", **kw) for i in range(3)]
    ready.sandbox.admin("contacts/mutate", {"deletes": [target], "emit_webhooks": False})
    drain_configured(ready.store, ready.settings, worker_options=FAST)
    statuses = [agent.job_status(j, **kw) for j in jobs]
    assert [s["status"] for s in statuses] == ["dead", "dead", "dead"]
    assert all("not found" in s["last_error"].lower() for s in statuses)
    with ready.store.transaction() as tx:
        row = tx.fetchone("SELECT first_name, pending_since, deleted_at FROM contacts WHERE id = :id", {"id": target})
    # the CRM no longer has the contact: none of the rejected values linger, and it reads as deleted
    assert not row["first_name"].startswith("Try") and row["pending_since"] is None
    assert row["deleted_at"] is not None

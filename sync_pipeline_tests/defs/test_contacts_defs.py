"""The contacts Dagster definitions executed for real: asset + checks, sensor ticks, reconcile job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs.contacts.assets import ghl_contacts
from sync_pipeline.defs.contacts.automation import ghl_contacts_sensor, ghl_reconcile_job
from sync_pipeline.defs.contacts.checks import CHECKS
from sync_pipeline.defs.contacts.freshness import ContactsFreshness
from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.store import webhooks as webhooks_q


def _resources(wired) -> dict:
    return {"store": StoreResource(db_url=wired.store.url), "providers": ProvidersResource()}


def test_asset_materializes_with_metadata_and_passing_checks(wire) -> None:
    wired = wire(contacts=700)
    with dg.instance_for_test() as instance:
        result = dg.materialize([ghl_contacts, *CHECKS], instance=instance, resources=_resources(wired))
        assert result.success
        meta = result.asset_materializations_for_node("ghl_contacts")[0].metadata
        assert meta["dagster/row_count"].value == 700
        assert meta["rows_inserted"].value == 700 and meta["mode"].value == "full"
        assert meta["api_calls"].value >= 7 and meta["api_rate_limited"].value == 0
        assert "cursor" in meta and "duration_s" in meta
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert len(checks) == len(CHECKS) and all(checks.values()), checks


def test_checks_fail_on_bad_rows(wire) -> None:
    wired = wire(contacts=50)
    with dg.instance_for_test() as instance:
        dg.materialize([ghl_contacts], instance=instance, resources=_resources(wired))
        with wired.store.transaction() as tx:
            tx.execute("UPDATE contacts SET email = upper(email) WHERE id IN (SELECT id FROM contacts LIMIT 3)")
        result = dg.materialize(
            [ghl_contacts, *CHECKS],
            instance=instance,
            resources=_resources(wired),
            selection=dg.AssetSelection.checks_for_assets(ghl_contacts),
        )
        evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert evaluations["contacts_emails_lowercase"].passed is False
        assert evaluations["contacts_emails_lowercase"].metadata["mixed_case_emails"].value == 3


def test_sensor_requests_a_sync_tick_by_tick(wire) -> None:
    wired = wire(contacts=100)
    resources = _resources(wired)
    with dg.instance_for_test() as instance:
        first = ghl_contacts_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        assert [r.run_key for r in first.run_requests] == ["fresh-never"]
        again = ghl_contacts_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
        )
        assert again.run_requests == [] and "already requested" in again.skip_message

        dg.materialize([ghl_contacts], instance=instance, resources=resources)
        fresh = ghl_contacts_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
        )
        assert fresh.run_requests == [] and "contacts fresh" in fresh.skip_message

        with wired.store.transaction() as tx:
            webhooks_q.record_contact_event(tx, "ghl", "abc", "ContactUpdate", datetime.now(UTC))
            _, newest = webhooks_q.unprocessed_contact_events(tx, "ghl")
        woken = ghl_contacts_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=fresh.cursor or first.cursor)
        )
        assert [r.run_key for r in woken.run_requests] == [f"events-{newest}"]
        assert "1 contact change" in woken.run_requests[0].tags["sync_pipeline/reason"]

        dg.materialize([ghl_contacts], instance=instance, resources=resources)  # covers the event
        settled = ghl_contacts_sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=woken.cursor)
        )
        assert settled.run_requests == []


def test_sync_due_rules() -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    sync_due = ContactsFreshness(timedelta(minutes=15)).sync_due
    assert sync_due(None, 0, now) == "contacts were never synced"
    assert sync_due(now - timedelta(minutes=3), 0, now) is None
    assert sync_due(now - timedelta(minutes=10), 0, now) == "last sync 10 min ago"
    assert sync_due(now - timedelta(minutes=1), 2, now) == "2 contact change(s) reported by webhook"


def test_reconcile_job_soft_deletes_contacts_gone_from_the_crm(wire) -> None:
    wired = wire(contacts=300)
    resources = _resources(wired)
    with dg.instance_for_test() as instance:
        dg.materialize([ghl_contacts], instance=instance, resources=resources)
        with wired.store.transaction() as tx:
            victims = [r["id"] for r in tx.fetchall("SELECT id FROM contacts ORDER BY id LIMIT 4")]
        wired.sandbox.admin("contacts/mutate", {"deletes": victims, "emit_webhooks": False})
        result = ghl_reconcile_job.execute_in_process(instance=instance, resources=resources)
        assert result.output_for_node("reconcile_contacts") == 4
    with wired.store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM contacts WHERE deleted_at IS NOT NULL") == 4

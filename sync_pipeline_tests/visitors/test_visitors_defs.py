"""The visitors Dagster definitions executed for real: asset metadata and checks, the sensor tick by
tick, the agent read, and the RB2B_CREATE_CONTACTS setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from sync_pipeline import agent
from sync_pipeline.defs.visitors.assets import rb2b_visitors
from sync_pipeline.defs.visitors.checks import CHECKS, QUARANTINE_WARN_PER_HOUR
from sync_pipeline.defs.visitors.sensor import rb2b_visitors_sensor
from sync_pipeline.settings import Settings, SettingsError
from sync_pipeline.store import Store
from sync_pipeline.store import visitor_days as days_q
from sync_pipeline_tests.visitors.conftest import add_contact, land, resources, visit

ADA = "https://www.linkedin.com/in/ada-lovelace"


def test_asset_reports_the_run_and_its_checks_pass(configured: Store) -> None:
    add_contact(configured, "c-ada", email="ada@analytical.example")
    land(configured, visit(ADA, "ada@analytical.example"))
    land(configured, visit(ADA, "ada@analytical.example", Captured_URL="https://vendor.example/demo"))
    land(configured, visit("https://www.linkedin.com/in/bob", "bob@analytical.example", First_Name="Bob"))
    land(configured, visit(None, None))
    land(configured, b"not json")
    with dg.instance_for_test() as instance:
        result = dg.materialize([rb2b_visitors, *CHECKS], instance=instance, resources=resources(configured))
        assert result.success
        meta = {k: v.value for k, v in result.asset_materializations_for_node("rb2b_visitors")[0].metadata.items()}
        assert meta["dagster/row_count"] == 3
        assert (meta["new_events"], meta["people"], meta["companies"]) == (4, 2, 1)
        assert (meta["matched"], meta["unmatched"], meta["quarantined_since_last_run"]) == (1, 1, 1)
        assert (meta["queued_to_crm"], meta["create_contacts"]) == (0, False)
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"rb2b_visitors_match_live_contacts": True, "rb2b_quarantine_growth": True}

        again = dg.materialize([rb2b_visitors], instance=instance, resources=resources(configured))
        meta = again.asset_materializations_for_node("rb2b_visitors")[0].metadata
        assert (meta["new_events"].value, meta["quarantined_since_last_run"].value) == (0, 0)


def test_checks_fail_on_a_match_to_a_missing_contact_and_a_quarantine_surge(configured: Store) -> None:
    land(configured, visit(ADA, "ada@analytical.example"))
    for n in range(QUARANTINE_WARN_PER_HOUR + 1):
        land(configured, f"[{n}]".encode())
    with dg.instance_for_test() as instance:
        dg.materialize([rb2b_visitors], instance=instance, resources=resources(configured))
        with configured.transaction() as tx:
            tx.execute("UPDATE visitor_days SET contact_id = 'gone'")
        result = dg.materialize(
            [rb2b_visitors, *CHECKS],
            instance=instance,
            resources=resources(configured),
            selection=dg.AssetSelection.checks_for_assets(rb2b_visitors),
        )
    evaluations = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert evaluations["rb2b_visitors_match_live_contacts"].passed is False
    assert evaluations["rb2b_visitors_match_live_contacts"].metadata["matched_to_missing_contact"].value == 1
    surge = evaluations["rb2b_quarantine_growth"]
    assert surge.passed is False and surge.severity == dg.AssetCheckSeverity.WARN
    assert surge.metadata["quarantined_last_hour"].value == QUARANTINE_WARN_PER_HOUR + 1


def test_sensor_requests_a_run_per_event_batch_tick_by_tick(configured: Store) -> None:
    res = resources(configured)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=instance, resources=res, cursor=cursor)
        return rb2b_visitors_sensor.evaluate_tick(context)

    with dg.instance_for_test() as instance:
        idle = tick(None)
        assert idle.run_requests == [] and "no new visitor events" in idle.skip_message

        land(configured, visit(ADA, "ada@analytical.example"))
        land(configured, visit(None, None))
        with configured.transaction() as tx:
            _, newest = days_q.uncounted(tx)
        woken = tick(None)
        assert [r.run_key for r in woken.run_requests] == [f"events-{newest}"]
        assert "2 visitor event(s)" in woken.run_requests[0].tags["sync_pipeline/reason"]
        assert tick(woken.cursor).run_requests == [] and "already requested" in tick(woken.cursor).skip_message

        dg.materialize([rb2b_visitors], instance=instance, resources=res)
        settled = tick(woken.cursor)
        assert settled.run_requests == [] and "no new visitor events" in settled.skip_message

        land(configured, visit(ADA, "ada@analytical.example", Captured_URL="https://vendor.example/demo"))
        with configured.transaction() as tx:
            _, newer = days_q.uncounted(tx)
        assert [r.run_key for r in tick(woken.cursor).run_requests] == [f"events-{newer}"]
        dg.materialize([rb2b_visitors], instance=instance, resources=res)

        # Ada is unmatched; her contact syncs later: one run re-matches her
        add_contact(configured, "c-ada", email="ada@analytical.example")
        contacts = tick(woken.cursor)
        assert next(r.run_key for r in contacts.run_requests).startswith("contacts-")
        dg.materialize([rb2b_visitors], instance=instance, resources=res)
        assert tick(contacts.cursor).run_requests == []
    assert [r["contact_id"] for r in agent.recent_visitors(matched=True, store=configured)] == ["c-ada"]


def test_recent_visitors_answers_locally_with_freshness(configured: Store) -> None:
    add_contact(configured, "c-ada", email="ada@analytical.example")
    land(configured, visit(ADA, "ada@analytical.example", Seen_At="2026-01-05T10:00:00Z"))
    land(configured, visit(None, None, Seen_At="2026-01-05T11:00:00Z"))
    with dg.instance_for_test() as instance:
        dg.materialize([rb2b_visitors], instance=instance, resources=resources(configured))
    land(configured, visit(None, "new@analytical.example"))  # landed after the run: not yet counted

    everyone = agent.recent_visitors(store=configured)
    assert [(v["kind"], v["contact_id"]) for v in everyone] == [("company", None), ("person", "c-ada")]
    ada = everyone[1]
    assert ada["last_seen_at"] == datetime(2026, 1, 5, 10, tzinfo=UTC) and ada["matched_by"] == "email"
    assert ada["as_of"] is not None and ada["uncounted_events"] == 1 and ada["pages"]
    assert [v["kind"] for v in agent.recent_visitors(matched=False, store=configured)] == ["company"]
    since = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    assert [v["kind"] for v in agent.recent_visitors(since=since, store=configured)] == ["company"]
    assert agent.recent_visitors(since=timedelta(minutes=5), store=configured) == []
    with pytest.raises(agent.InvalidRequest, match="limit"):
        agent.recent_visitors(limit=0, store=configured)
    with pytest.raises(agent.InvalidRequest, match="timezone"):
        agent.recent_visitors(since=datetime(2026, 1, 1), store=configured)


def test_rb2b_create_contacts_setting() -> None:
    assert Settings.from_env({}).rb2b_create_contacts is False
    assert Settings.from_env({"RB2B_CREATE_CONTACTS": "TRUE"}).rb2b_create_contacts is True
    assert Settings.from_env({"RB2B_CREATE_CONTACTS": "false"}).rb2b_create_contacts is False
    with pytest.raises(SettingsError, match="RB2B_CREATE_CONTACTS must be true or false; got 'yes'"):
        Settings.from_env({"RB2B_CREATE_CONTACTS": "yes"})

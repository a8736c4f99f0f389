"""`sync-pipeline status`: what the store holds, and an exit code a cron or health check can use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from sync_pipeline import cli
from sync_pipeline.defs.asset_status import asset_status
from sync_pipeline.settings import Settings, get_settings
from sync_pipeline.status import QUARANTINE_WARN_PER_HOUR, collect_status, format_status, needs_a_person
from sync_pipeline.store import Store
from sync_pipeline.store import api_calls as api_calls_q
from sync_pipeline.store import enrichment_ledger as ledger_q
from sync_pipeline.store import outbox as outbox_q
from sync_pipeline.store import webhooks as webhooks_q
from sync_pipeline.store.outbox import JobStatus

SETTINGS = Settings.from_env({})


def _call(provider: str, at: datetime, *, status: int = 200) -> dict:
    return {
        "provider": provider,
        "account": None,
        "method": "GET",
        "endpoint": "/contacts/{id}",
        "status_code": status,
        "latency_ms": 12.0,
        "cost_usd": 0.0,
        "rate_limited": status == 429,
        "error": None,
        "at": at,
    }


def test_vendor_calls_and_429s_per_vendor_by_window(store: Store) -> None:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        api_calls_q.record_calls(
            tx,
            [
                _call("ghl", now - timedelta(minutes=5)),
                _call("ghl", now - timedelta(minutes=6), status=429),
                _call("ghl", now - timedelta(hours=3), status=503),
                _call("clay", now - timedelta(days=2)),
            ],
        )
    status = collect_status(store, SETTINGS, now=now)
    assert status["vendor_calls"]["last_hour"] == {"ghl": {"calls": 2, "429s": 1, "errors": 0}}
    assert status["vendor_calls"]["last_day"] == {"ghl": {"calls": 3, "429s": 1, "errors": 1}}
    assert "ghl last hour: 2 calls, 1 429s, 0 errors" in format_status(status)


def test_dead_jobs_and_a_growing_quarantine_need_a_person(store: Store) -> None:
    now = datetime.now(UTC)
    assert needs_a_person(collect_status(store, SETTINGS, now=now)) == []
    with store.transaction() as tx:
        job, _ = outbox_q.enqueue(tx, outbox_q.NewJob("send_email", "ghl", {}, "k1", to_email="a@b.com"), now)
        outbox_q.mark_final(tx, job, JobStatus.DEAD, "rejected: invalid recipient", now)
        junk = webhooks_q.Quarantined("rb2b", "body is not JSON", "junk", now)
        webhooks_q.quarantine(tx, [junk] * (QUARANTINE_WARN_PER_HOUR + 1))
    problems = needs_a_person(collect_status(store, SETTINGS, now=now))
    assert len(problems) == 2
    assert problems[0].startswith("1 outbox job(s) dead")
    assert f"{QUARANTINE_WARN_PER_HOUR + 1} webhook deliveries quarantined in the last hour" in problems[1]


def test_cli_status_exits_1_when_something_needs_a_person(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    monkeypatch.setenv("SYNC_PIPELINE_DB", store.url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("")
    get_settings.cache_clear()
    try:
        assert cli.main(["status", "--json"]) == 1  # no asset with a freshness policy was ever materialized
        report = json.loads(capsys.readouterr().out)
        stale = [p for p in report["needs_a_person"] if p.startswith("asset ")]
        assert "asset ghl_contacts is stale: last materialized never, its policy allows 900 s" in stale
        assert "asset clay_enrichments is stale: last materialized never, its policy allows 2592000 s" in stale
        with dg.DagsterInstance.get() as instance:
            for asset in ("ghl_contacts", "clay_enrichments"):
                instance.report_runless_asset_event(dg.AssetMaterialization(asset))
        assert cli.main(["status"]) == 0
        assert "needs a person: nothing" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()


def test_asset_freshness_follows_each_assets_policy() -> None:
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization("ghl_contacts"))
        now = datetime.now(UTC)
        by_asset = {a["asset"]: a for a in asset_status(instance, now)}
        assert not by_asset["ghl_contacts"]["stale"] and by_asset["ghl_contacts"]["fail_window_s"] == 900
        assert not by_asset["rb2b_visitors"]["stale"]  # no policy: never stale
        later = {a["asset"]: a for a in asset_status(instance, now + timedelta(minutes=16))}
        assert later["ghl_contacts"]["stale"]


def test_enrichment_spend_and_savings_today_and_over_30_days(store: Store) -> None:
    now = datetime.now(UTC)

    def row(event: str, cost: float, avoided: float, at: datetime) -> dict:
        return {
            "recorded_at": at,
            "budget_day": at.date().isoformat(),
            "kind": "person",
            "key": "ann@acme.example",
            "provider": "clay",
            "event": event,
            "outcome": "hit",
            "credits": 4 if event == "paid" else 0,
            "cost_usd": cost,
            "avoided_usd": avoided,
            "entry_expires_at": at + timedelta(days=30),
            "caller": "test",
        }

    with store.transaction() as tx:
        ledger_q.record(
            tx,
            [
                row("paid", 0.20, 0.0, now - timedelta(days=3)),
                row("hit", 0.0, 0.20, now),
                row("hit", 0.0, 0.20, now),
            ],
        )
    status = collect_status(store, SETTINGS, now=now)
    assert status["enrichment"]["today"] == {
        "hits": 2,
        "paid_calls": 0,
        "hit_rate": 1.0,
        "spent_usd": 0.0,
        "avoided_usd": 0.4,
    }
    assert status["enrichment"]["last_30_days"]["paid_calls"] == 1
    assert status["enrichment"]["last_30_days"]["hit_rate"] == round(2 / 3, 4)
    assert "enrichment last 30 days: 1 paid, 2 from the cache (hit rate 67%), $0.20 spent, $0.40 avoided" in (
        format_status(status)
    )

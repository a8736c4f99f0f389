"""The enrichment Dagster definitions executed for real on both stores: ``clay_enrichments`` enriches
contacts and visitors once, refreshes what passed its TTL, reports its numbers; its checks;
``contact_profiles`` and the agent read of it; the automation that runs them after upstream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest

from sync_pipeline import agent
from sync_pipeline.defs.enrichment.assets import clay_enrichments, contact_profiles
from sync_pipeline.defs.enrichment.automation import enrichment_automation
from sync_pipeline.defs.enrichment.checks import CHECKS
from sync_pipeline.defs.enrichment.resources import EnrichmentResource
from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.enrichment import Enricher
from sync_pipeline.settings import get_settings
from sync_pipeline.store import Store
from sync_pipeline.store import enrichment_cache as cache_q
from sync_pipeline.store import enrichment_ledger as ledger_q
from sync_pipeline.sync.visitors import update_visitors
from sync_pipeline_tests.enrichment import flight_worker
from sync_pipeline_tests.enrichment.conftest import rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox
from sync_pipeline_tests.visitors.conftest import ACCOUNT, LOCATION, add_contact, land, visit
from sync_pipeline_tests.visitors.conftest import resources as visitors_resources

ADA = "ada.lovelace@northwind.com"


class SandboxEnrichment(EnrichmentResource):
    """The enrichment resource on the Clay sandbox (``spec``: its URL and credentials as JSON)."""

    spec: str

    def enricher(self, store: Store, *, caller: str) -> Enricher:
        return flight_worker.build(store, json.loads(self.spec), caller=caller)


@pytest.fixture
def configured(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    for key, value in {"SYNC_PIPELINE_DB": store.url, "GHL_LOCATION_ID": LOCATION, "CRM_PROVIDER": "ghl"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def resources(store: Store, clay: OutreachSandbox) -> dict[str, Any]:
    spec = json.dumps({"clay_url": clay.url, **clay.credentials})
    return {**visitors_resources(store), "enrichment": SandboxEnrichment(spec=spec)}


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def seed(store: Store) -> None:
    """Three contacts with email (one no match) and one without; an RB2B visit by a contact, one by
    an unknown person and one company-only profile; an email queued to a contact."""
    add_contact(store, "c-ada", email=ADA, first_name="Ada")
    add_contact(store, "c-bob", email="bob.page@northwind.com")
    add_contact(store, "c-nobody", email="nobody@northwind.com")
    add_contact(store, "c-noemail", first_name="Anon")
    now = datetime.now(UTC).isoformat()
    land(store, visit("https://www.linkedin.com/in/ada", ADA, Seen_At=now, Captured_URL="https://v.example/pricing"))
    land(store, visit("https://www.linkedin.com/in/grace", "grace.hopper@navy.example", Seen_At=now))
    land(store, visit(None, None, Seen_At=now, Website="https://www.analytical.example/"))
    update_visitors(store, ACCOUNT)
    agent.enqueue_email(contact_id="c-ada", subject="Hello Ada", html="<p>hi</p>", store=store)


def test_assets_enrich_once_refresh_past_ttl_and_build_profiles(configured: Store, clay: OutreachSandbox) -> None:
    clay.admin("config", {"miss_rate": 0.0})  # only nobody@ misses
    seed(configured)
    res = resources(configured, clay)
    with dg.instance_for_test() as instance:
        first = dg.materialize([clay_enrichments, contact_profiles, *CHECKS], instance=instance, resources=res)
        assert first.success
        meta = metadata(first, "clay_enrichments")
        # 4 people (3 contacts with email, 1 visitor) and 1 company-only visitor, all new
        assert (meta["candidates"], meta["hits"], meta["misses"], meta["paid_calls"]) == (5, 0, 5, 5)
        assert (meta["not_found"], meta["failed"], meta["over_budget"], meta["hit_rate"]) == (1, 0, 0, 0.0)
        assert meta["spent_usd"] > 0 and meta["dagster/row_count"] == 5
        assert {c.check_name: c.passed for c in first.get_asset_check_evaluations()} == {
            "enrichments_never_served_expired": True,
            "enrichment_backlog": True,
            "contact_profiles_cover_contacts": True,
        }

        second = dg.materialize([clay_enrichments], instance=instance, resources=res)
        meta = metadata(second, "clay_enrichments")
        assert (meta["hits"], meta["misses"], meta["paid_calls"], meta["hit_rate"]) == (5, 0, 0, 1.0)
        assert meta["avoided_usd"] == pytest.approx(first_spent := metadata(first, "clay_enrichments")["spent_usd"])
        assert first_spent > 0 and rows_processed(clay) == 5

        with configured.transaction() as tx:  # Ada's entry passes its TTL
            cache_q.expire(tx, "person", [ADA], datetime.now(UTC) - timedelta(seconds=1))
        third = dg.materialize([clay_enrichments], instance=instance, resources=res)
        assert (metadata(third, "clay_enrichments")["misses"], rows_processed(clay)) == (1, 6)

    profile = agent.contact_profile("c-ada", store=configured)
    assert profile["enrichment_status"] == "hit" and profile["enrichment"]["full_name"] == "Ada Lovelace"
    assert profile["enrichment_fresh"] is True and profile["as_of"] is not None
    assert (profile["visits_30d"], profile["last_page"]) == (1, "https://v.example/pricing")
    assert (profile["emails_pending"], profile["last_job_action"], profile["last_email_subject"]) == (
        1,
        "send_email",
        "Hello Ada",
    )
    assert agent.contact_profile("c-nobody", store=configured)["enrichment_status"] == "not_found"
    assert agent.contact_profile("c-noemail", store=configured)["enrichment_status"] is None
    assert agent.contact_profile("unknown", store=configured) is None


def test_check_fails_when_a_hit_served_an_expired_entry(configured: Store, clay: OutreachSandbox) -> None:
    now = datetime.now(UTC)
    row = {
        "recorded_at": now, "budget_day": now.date().isoformat(), "kind": "person", "key": ADA, "provider": "clay",
        "event": "hit", "outcome": "found", "credits": 0.0, "cost_usd": 0.0, "avoided_usd": 0.25,
        "entry_expires_at": now - timedelta(minutes=1), "caller": "agent",
    }  # fmt: skip
    with configured.transaction() as tx:
        ledger_q.record(tx, [row])
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [clay_enrichments, *CHECKS],
            instance=instance,
            resources=resources(configured, clay),
            selection=dg.AssetSelection.checks(CHECKS[0]),
        )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is False and evaluation.metadata["served_past_expiry"].value == 1


# -- definitions and automation (no store) ---------------------------------------------------------


@pytest.fixture
def upstream() -> list[dg.AssetsDefinition]:
    @dg.asset(name="ghl_contacts")
    def ghl_contacts() -> None: ...

    @dg.asset(name="rb2b_visitors")
    def rb2b_visitors() -> None: ...

    return [ghl_contacts, rb2b_visitors]


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")  # Dagster's own, copying the automation sensor
def test_definitions_declare_group_freshness_and_a_running_automation_sensor() -> None:
    from sync_pipeline.definitions import defs

    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey("clay_enrichments"))
    assert spec.group_name == "enrichment"
    assert spec.freshness_policy.fail_window.to_timedelta() == timedelta(days=30)
    assert {d.asset_key for d in spec.deps} == {dg.AssetKey("ghl_contacts"), dg.AssetKey("rb2b_visitors")}
    assert defs.resolve_sensor_def("enrichment_automation").default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_automation_runs_enrichments_after_upstream_and_daily_once_the_budget_resets(upstream) -> None:
    defs = dg.Definitions(
        assets=[*upstream, clay_enrichments, contact_profiles],
        sensors=[enrichment_automation],
        resources={"store": StoreResource(), "providers": ProvidersResource(), "enrichment": EnrichmentResource()},
    )
    requested = lambda result: sorted(  # noqa: E731
        key.to_user_string() for key in (dg.AssetKey(n) for n in ("clay_enrichments", "contact_profiles"))
        if result.get_num_requested(key)
    )  # fmt: skip
    t = datetime(2026, 3, 2, 10, 7, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        cursor = None

        def tick(at: datetime) -> list[str]:
            nonlocal cursor
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor, evaluation_time=at)
            cursor = result.cursor
            return requested(result)

        assert tick(t) == []
        dg.materialize(upstream[:1], instance=instance)  # contacts synced
        assert tick(t + timedelta(minutes=1)) == ["clay_enrichments", "contact_profiles"]
        assert tick(t + timedelta(minutes=2)) == []  # requested once, not again while nothing changed
        # the next day, just after the budget reset: enrichments run though nothing upstream changed
        assert tick(datetime(2026, 3, 3, 0, 6, tzinfo=UTC)) == ["clay_enrichments", "contact_profiles"]

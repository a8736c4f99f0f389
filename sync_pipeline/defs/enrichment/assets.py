"""``clay_enrichments`` (the enrichment cache kept current for contacts and visitors) and
``contact_profiles`` (the one table agents read about a contact).

``clay_enrichments`` keeps its contract name whichever enricher ``ENRICHMENT_PROVIDER`` names.
Its metadata are numbers, so the UI plots them run over run: hits, misses, paid calls, credits,
dollars spent and avoided, hit rate.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from ...enrichment.policy import TTL_DAYS
from ...enrichment.refresh import refresh_due
from ...providers.lifecycle import transport_metadata
from ...store import contact_profiles as profiles_q
from ...store import enrichment_cache as cache_q
from ..resources import ProvidersResource, StoreResource
from .automation import AFTER_UPSTREAM_OR_BUDGET_RESET, WITH_ENRICHMENTS_OR_HOURLY
from .resources import EnrichmentResource

# Built at load, which reads no setting: the default TTL (rows carry their own expires_at).
ENRICHMENTS_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(days=TTL_DAYS), warn_window=timedelta(days=TTL_DAYS - 5)
)
RECENT_VISITS = timedelta(days=30)


class EnrichmentRunConfig(dg.Config):
    batch_size: int = 100  # keys per routine run (Clay takes at most 100)
    parallel_runs: int = 2  # routine runs in flight at once


@dg.asset(
    name="clay_enrichments",
    group_name="enrichment",
    kinds={"http", "sql"},
    deps=[dg.AssetKey("ghl_contacts"), dg.AssetKey("rb2b_visitors")],
    description=(
        "Cache-first enrichment of every contact, visitor and requested key without a fresh entry in "
        "`enrichment_cache`, within ENRICHMENT_DAILY_BUDGET_USD; each paid call and hit in `enrichment_ledger`."
    ),
    freshness_policy=ENRICHMENTS_FRESHNESS,
    automation_condition=AFTER_UPSTREAM_OR_BUDGET_RESET,
    pool="enrichment_api",
)
def clay_enrichments(
    context: dg.AssetExecutionContext,
    config: EnrichmentRunConfig,
    store: StoreResource,
    providers: ProvidersResource,
    enrichment: EnrichmentResource,
) -> dg.MaterializeResult:
    """Look up what has no fresh entry (expired, "no match" past its TTL, never asked)."""
    db = store.get_store()
    enricher = enrichment.enricher(db, caller="clay_enrichments")
    try:
        report = refresh_due(
            enricher,
            providers.account(),
            batch_size=config.batch_size,
            parallel=config.parallel_runs,
            log=context.log.warning,
        )
    finally:
        api = {f"{p.name}_{k}": v for p in enricher.providers for k, v in transport_metadata(p).items()}
        enricher.close()
    now = enricher.now()
    with db.transaction() as tx:
        entries = cache_q.counts(tx, now)
        spent_today = enricher.budget.spent(tx, now)
        requests = cache_q.pending_requests(tx)
    stats = enricher.stats
    hits, misses = report.fresh + stats.hits, stats.misses
    context.log.info(
        f"{report.candidates} keys: {report.fresh} fresh, {report.enriched} enriched, {report.failed} failed, "
        f"{report.over_budget} over the budget; ${stats.spent_usd:.2f} spent"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": entries["fresh_hits"] + entries["fresh_not_found"],
            "hits": hits,
            "misses": misses,
            "paid_calls": stats.paid_calls,
            "credits": stats.credits,
            "spent_usd": round(stats.spent_usd, 4),
            "avoided_usd": round(report.fresh_avoided_usd + stats.avoided_usd, 4),
            "hit_rate": round(hits / (hits + misses), 4) if hits + misses else 1.0,
            "candidates": report.candidates,
            "enriched": report.enriched,
            "not_found": stats.not_found,
            "failed": report.failed,
            "over_budget": report.over_budget,
            "spent_today_usd": round(spent_today, 4),
            "budget_usd": enricher.budget.limit_usd if enricher.budget.limit_usd is not None else -1.0,
            "requests_waiting": sum(requests.values()),
            "entries_expired": entries["expired"],
            "enrichment_provider": ",".join(p.name for p in enricher.providers),
            **api,
        }
    )


@dg.asset(
    name="contact_profiles",
    group_name="enrichment",
    kinds={"sql"},
    deps=[clay_enrichments, dg.AssetKey("ghl_contacts"), dg.AssetKey("rb2b_visitors")],
    description=(
        "One row per live contact: the contact, its latest person enrichment, visits of the last 30 days "
        "and outbox history — the table agents read (`sync_pipeline.agent.contact_profile`)."
    ),
    automation_condition=WITH_ENRICHMENTS_OR_HOURLY,
)
def contact_profiles(store: StoreResource, providers: ProvidersResource) -> dg.MaterializeResult:
    """Rebuild the configured CRM account's profiles in one transaction."""
    account, now = providers.account(), datetime.now(UTC)
    with store.get_store().transaction() as tx:
        rows = profiles_q.rebuild(tx, account, now=now, visits_since=now - RECENT_VISITS)
        coverage = profiles_q.coverage(tx, account)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "enriched": coverage["enriched"],
            "enriched_share": round(coverage["enriched"] / rows, 4) if rows else 0.0,
            "crm_account": str(account),
        }
    )

"""When the enrichment assets run unattended: after their upstream assets update, and on a clock.

``clay_enrichments`` follows every update of ``ghl_contacts`` or ``rb2b_visitors`` (new contacts
and visitors, and — since contacts sync every ~15 minutes — entries that passed their TTL), and
runs daily just after 00:00 UTC, when the daily budget resets, so keys skipped over yesterday's
budget are enriched even when nothing upstream changed. Unlike ``eager()``, a missing upstream
(a deployment without RB2B never materializes ``rb2b_visitors``) blocks nothing.
``contact_profiles`` is rebuilt with or after ``clay_enrichments`` and hourly (outbox history).
"""

from __future__ import annotations

import dagster as dg

CLAY_ENRICHMENTS = dg.AssetKey("clay_enrichments")
BUDGET_RESET_CRON = "5 0 * * *"
PROFILES_CRON = "0 * * * *"

_idle = ~dg.AutomationCondition.in_progress() & ~dg.AutomationCondition.any_deps_in_progress()

AFTER_UPSTREAM_OR_BUDGET_RESET = (
    dg.AutomationCondition.any_deps_updated() | dg.AutomationCondition.cron_tick_passed(BUDGET_RESET_CRON, "UTC")
).since_last_handled().with_label("upstream updated, or the daily budget reset") & _idle

WITH_ENRICHMENTS_OR_HOURLY = (
    dg.AutomationCondition.any_deps_match(
        dg.AutomationCondition.newly_updated() | dg.AutomationCondition.will_be_requested()
    ).allow(dg.AssetSelection.assets(CLAY_ENRICHMENTS))
    | dg.AutomationCondition.cron_tick_passed(PROFILES_CRON, "UTC")
).since_last_handled().with_label("clay_enrichments updated or requested, or hourly") & _idle

enrichment_automation = dg.AutomationConditionSensorDefinition(
    "enrichment_automation",
    target=dg.AssetSelection.groups("enrichment"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Runs clay_enrichments after contacts or visitors update (and daily), contact_profiles after it.",
)

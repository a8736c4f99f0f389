"""When local contacts count as fresh — the one place that says it.

The asset's ``FreshnessPolicy`` (what the Dagster UI shows), the sensor's "sync now" decision and
the row-level ``contacts_synced_recently`` check all ask :class:`ContactsFreshness`.
The policy is built when definitions load, which must read no setting (a bad unrelated variable
would fail the whole code location), so it uses the default window; the sensor and the check
read ``CONTACTS_FRESHNESS_MINUTES`` on each tick or run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from ...settings import CONTACTS_FRESHNESS_MINUTES, Settings

# Sync this long before the freshness window would be missed, so a run has time to finish.
SYNC_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class ContactsFreshness:
    """Contacts are fresh when the CRM was last read within ``window``."""

    window: timedelta = timedelta(minutes=CONTACTS_FRESHNESS_MINUTES)

    @classmethod
    def configured(cls, settings: Settings) -> ContactsFreshness:
        return cls(timedelta(minutes=settings.contacts_freshness_minutes))

    def policy(self) -> dg.FreshnessPolicy:
        """Fail after the window without a materialization, warn at two thirds of it."""
        return dg.FreshnessPolicy.time_window(
            fail_window=self.window, warn_window=max(timedelta(minutes=1), self.window * 2 / 3)
        )

    def sync_due(self, last_sync: datetime | None, pending_events: int, now: datetime) -> str | None:
        """Why a sync should run now, or None."""
        if pending_events:
            return f"{pending_events} contact change(s) reported by webhook"
        if last_sync is None:
            return "contacts were never synced"
        if now - last_sync >= max(self.window - SYNC_MARGIN, self.window / 2):
            return f"last sync {int((now - last_sync).total_seconds() // 60)} min ago"
        return None

    def is_fresh(self, last_seen: datetime | None, now: datetime) -> bool:
        """Row-level: the CRM was read (a row written, or a run completed) within the window."""
        return last_seen is not None and now - last_seen <= self.window

"""Contacts domain definitions."""

import dagster as dg

from .assets import ghl_contacts
from .automation import ghl_contacts_job, ghl_contacts_sensor, ghl_reconcile_job, ghl_reconcile_schedule
from .checks import CHECKS

defs = dg.Definitions(
    assets=[ghl_contacts],
    asset_checks=CHECKS,
    jobs=[ghl_contacts_job, ghl_reconcile_job],
    sensors=[ghl_contacts_sensor],
    schedules=[ghl_reconcile_schedule],
)

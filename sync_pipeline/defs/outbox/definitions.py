"""Outbox domain definitions."""

import dagster as dg

from .job import send_outbox
from .sensor import outbox_sensor

defs = dg.Definitions(jobs=[send_outbox], sensors=[outbox_sensor])

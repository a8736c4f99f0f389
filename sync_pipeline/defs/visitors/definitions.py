"""Visitors domain definitions."""

import dagster as dg

from .assets import rb2b_visitors
from .checks import CHECKS
from .sensor import rb2b_visitors_job, rb2b_visitors_sensor

defs = dg.Definitions(
    assets=[rb2b_visitors],
    asset_checks=CHECKS,
    jobs=[rb2b_visitors_job],
    sensors=[rb2b_visitors_sensor],
)

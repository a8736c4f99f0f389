"""Dagster entry point: merges every domain's definitions.

Importing this module touches no network, database or environment variable; resources read
settings when a run or sensor tick first needs them.
"""

from __future__ import annotations

import dagster as dg

from .defs import resources
from .defs.contacts import definitions as contacts
from .defs.enrichment import definitions as enrichment
from .defs.outbox import definitions as outbox
from .defs.visitors import definitions as visitors

defs = dg.Definitions.merge(resources.defs, contacts.defs, outbox.defs, visitors.defs, enrichment.defs)

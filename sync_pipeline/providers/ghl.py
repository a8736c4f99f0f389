"""GoHighLevel providers, under the names the registry loads (``ghl:GhlCRM``, ``ghl:GhlEmail``)."""

from .ghl_crm import GhlCRM
from .ghl_email import GhlEmail

__all__ = ["GhlCRM", "GhlEmail"]

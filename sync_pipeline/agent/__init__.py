"""The agent-facing API: local reads in milliseconds, and writes queued with a job id at once."""

from .contacts import find_contacts, get_contact
from .enrichment import contact_profile, enrich
from .errors import InvalidRequest, UnknownContact
from .outbox import (
    add_tags,
    delete_contact,
    enqueue_email,
    job_status,
    remove_tags,
    update_contact,
    upsert_contact,
)
from .visitors import recent_visitors

__all__ = [
    "InvalidRequest",
    "UnknownContact",
    "add_tags",
    "contact_profile",
    "delete_contact",
    "enqueue_email",
    "enrich",
    "find_contacts",
    "get_contact",
    "job_status",
    "recent_visitors",
    "remove_tags",
    "update_contact",
    "upsert_contact",
]

"""The contacts of the sandbox's GHL location: seeded contacts plus an overlay of changes.

Seeded contacts are computed on demand (:mod:`~sync_pipeline.sandbox.ghl.seed`); only contacts
created, changed or deleted since are stored, as versions. Each version becomes visible to search
``index_lag_s`` after it was written (GHL: "updates may take a few seconds to appear in search
results"), while ``GET /contacts/{id}`` always reads the latest version.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sync_pipeline.sandbox.clock import Clock
from sync_pipeline.sandbox.ghl.seed import SeededContacts
from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms
from sync_pipeline.sandbox.ghl.writes import apply_write
from sync_pipeline.sandbox.identifiers import token

Record = dict[str, Any]


class ContactNotFound(LookupError):
    """No contact with this id (any more)."""


class DuplicateContact(Exception):
    """A contact with the same email exists and the location does not allow duplicates."""

    def __init__(self, existing: Record) -> None:
        super().__init__(existing["id"])
        self.existing = existing


@dataclass(frozen=True)
class _Version:
    visible_from_ms: float  # when search starts returning this version
    record: Record | None  # None: deleted


class ContactBook:
    """Thread-safe contact store of one location. Returned records are shared: never mutate them."""

    def __init__(self, seeded: SeededContacts, clock: Clock, *, index_lag_s: float = 0.0) -> None:
        self.seeded = seeded
        self._clock = clock
        self.index_lag_s = index_lag_s
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._versions: dict[str, list[_Version]] = {}
            self._email_owner: dict[str, str] = {}
            self._shadowed: set[int] = set()  # seeded indices that have overlay versions
            self._last_write_ms = 0
            self._created = 0

    def now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # ---- reads --------------------------------------------------------------------------------

    def get(self, contact_id: str) -> Record | None:
        """The latest version of a contact, None when unknown or deleted."""
        with self._lock:
            versions = self._versions.get(contact_id)
            if versions is not None:
                return versions[-1].record
        i = self.seeded.index_of(contact_id)
        return self.seeded.record(i) if i is not None else None

    def find_by_email(self, email: str) -> Record | None:
        """The live contact whose email is ``email`` (case-insensitive), if any."""
        email = email.strip().lower()
        with self._lock:
            owner = self._email_owner.get(email)
            record = self._versions[owner][-1].record if owner else None
            if record is not None and record.get("emailLowerCase") == email:
                return record
            i = self.seeded.index_of_email(email)
            return self.seeded.record(i) if i is not None and i not in self._shadowed else None

    def overlay(self, visible_at_ms: float | None) -> tuple[list[Record], frozenset[int]]:
        """Every stored contact as search sees it at ``visible_at_ms`` (None: latest versions), and
        the seeded indices those contacts replace."""
        with self._lock:
            records = []
            for versions in self._versions.values():
                record = versions[-1].record if visible_at_ms is None else _visible(versions, visible_at_ms)
                if record is not None:
                    records.append(record)
            return records, frozenset(self._shadowed)

    # ---- writes -------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], *, allow_duplicate: bool) -> Record:
        """A new contact from a validated write body; raises :class:`DuplicateContact`."""
        with self._lock:
            email = body.get("email")
            existing = self.find_by_email(email) if email else None
            if existing is not None and not allow_duplicate:
                raise DuplicateContact(existing)
            self._created += 1
            now = self._next_write_ms()
            base: Record = {
                "id": token(self.seeded.seed, "ghl-created-contact", self._created),
                "locationId": self.seeded.location_id,
                "type": "lead",
                "source": "public api",
                "dnd": False,
                "tags": [],
                "customFields": [],
                "additionalEmails": [],
                "additionalPhones": [],
                "followers": [],
                "validEmail": bool(email),
                "deleted": False,
                "bounceEmail": False,
                "unsubscribeEmail": False,
                "dateAdded": iso_from_ms(now),
                "attributionSource": {"url": "public api", "medium": "api", "sessionSource": "API"},
            }
            record = apply_write(base, body, self.seeded.custom_fields)
            record["dateUpdated"] = iso_from_ms(now)
            self._store(record["id"], record)
            return record

    def update(self, contact_id: str, change: Callable[[Record], Record]) -> Record:
        """Apply ``change`` to the latest version and store the result with a new ``dateUpdated``."""
        with self._lock:
            current = self.get(contact_id)
            if current is None:
                raise ContactNotFound(contact_id)
            now = self._next_write_ms()
            record = change(current)
            record["dateUpdated"] = iso_from_ms(now)
            self._store(contact_id, record)
            return record

    def delete(self, contact_id: str) -> Record:
        """Delete a contact; returns its last version."""
        with self._lock:
            current = self.get(contact_id)
            if current is None:
                raise ContactNotFound(contact_id)
            self._store(contact_id, None)
            return current

    def _next_write_ms(self) -> int:
        """Now, but strictly after the previous write, so every write sorts after the ones before."""
        self._last_write_ms = max(self.now_ms(), self._last_write_ms + 1)
        return self._last_write_ms

    def _store(self, contact_id: str, record: Record | None) -> None:
        versions = self._versions.get(contact_id)
        if versions is None:
            i = self.seeded.index_of(contact_id)
            versions = self._versions[contact_id] = []
            if i is not None:  # search keeps showing the seeded version until the change is indexed
                versions.append(_Version(-math.inf, self.seeded.record(i)))
                self._shadowed.add(i)
        previous = versions[-1].record if versions else None
        if previous is not None and self._email_owner.get(previous.get("emailLowerCase") or "") == contact_id:
            del self._email_owner[previous["emailLowerCase"]]
        if record is not None and record.get("emailLowerCase"):
            self._email_owner[record["emailLowerCase"]] = contact_id
        # Indexed index_lag_s after the write happened, not after its stamp: a burst of writes is
        # stamped ahead of the clock (each strictly after the last), and with no lag configured
        # search must show them at once (a sync right after a burst of 600 updates read some of the
        # old versions).
        versions.append(_Version(self.now_ms() + self.index_lag_s * 1000, record))


def _visible(versions: list[_Version], at_ms: float) -> Record | None:
    for version in reversed(versions):
        if version.visible_from_ms <= at_ms:
            return version.record
    return None

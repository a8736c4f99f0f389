"""The contacts of the sandbox portal: seeded contacts computed on demand plus an overlay of changes.

People, companies and timestamps come from the GHL sandbox's seed
(:class:`~sync_pipeline.sandbox.ghl.seed.SeededContacts`), so a seed yields the same people in both
CRMs. Seeded contact *i* has id ``ID_BASE + i``; its ``createdate`` and ``lastmodifieddate`` grow
with *i*, so id order, creation order and modification order coincide and a date bound or an id
bound is a binary search. Only created, changed or archived contacts are stored: memory grows with
writes, never with the seed size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from sync_pipeline.sandbox.clock import Clock
from sync_pipeline.sandbox.ghl.seed import SeededContacts
from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms, ms_from_iso

ID_BASE = 10_001
Record = dict[str, Any]  # {"id", "properties", "createdAt", "updatedAt", "archived"}
# Sort/filter keys that grow with the seed index, so seeded contacts need no scan for them.
ORDERED_PROPERTIES = ("hs_object_id", "createdate", "lastmodifieddate")


class ContactStore:
    """Thread-safe contact records of one portal. Returned records are shared: never mutate them."""

    def __init__(self, seeded: SeededContacts, clock: Clock, tags_property: str) -> None:
        self.seeded = seeded
        self._clock = clock
        self._tags_property = tags_property
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._stored: dict[int, Record | None] = {}  # id -> latest version, None once archived
            self._email_owner: dict[str, int] = {}
            self._created = 0
            self._last_write_ms = 0

    # ---- keys ---------------------------------------------------------------------------------

    def key_of_index(self, prop: str, i: int) -> int:
        """The sort value of seeded contact *i* for one of :data:`ORDERED_PROPERTIES`."""
        if prop == "createdate":
            return self.seeded.date_added_ms(i)
        if prop == "lastmodifieddate":
            return self.seeded.date_updated_ms(i)
        return ID_BASE + i

    def first_index(self, prop: str, value: int, *, inclusive: bool) -> int:
        """The first seeded *i* whose ``prop`` is ``>= value`` (inclusive) or ``> value``."""
        if prop == "hs_object_id":
            return min(self.seeded.count, max(0, value - ID_BASE + (0 if inclusive else 1)))
        field = "dateAdded" if prop == "createdate" else "dateUpdated"
        return self.seeded.first_index(field, value, inclusive=inclusive)

    # ---- reads --------------------------------------------------------------------------------

    def get(self, contact_id: str) -> Record | None:
        """The live contact, None when unknown or archived."""
        number = _number(contact_id)
        if number is None:
            return None
        with self._lock:
            if number in self._stored:
                return self._stored[number]
        i = number - ID_BASE
        return self._seeded_record(i) if 0 <= i < self.seeded.count else None

    def find_by_email(self, email: str) -> Record | None:
        email = email.strip().lower()
        with self._lock:
            owner = self._email_owner.get(email)
            if owner is not None:
                return self._stored.get(owner)
            i = self.seeded.index_of_email(email)
            if i is None or ID_BASE + i in self._stored:
                return None
        return self._seeded_record(i)

    def overlay(self) -> tuple[list[Record], frozenset[int]]:
        """Every live stored contact, and the seeded indices the stored versions replace."""
        with self._lock:
            live = [r for r in self._stored.values() if r is not None]
            shadowed = frozenset(n - ID_BASE for n in self._stored if 0 <= n - ID_BASE < self.seeded.count)
        return live, shadowed

    def seeded_records(self, indices: range, shadowed: frozenset[int]) -> Iterator[tuple[int, Record]]:
        for i in indices:
            if i not in shadowed:
                yield i, self._seeded_record(i)

    def record_of_index(self, i: int) -> Record:
        return self._seeded_record(i)

    # ---- writes -------------------------------------------------------------------------------

    def create(self, properties: Mapping[str, str | None]) -> Record:
        """A new contact; the caller has checked the email is free."""
        with self._lock:
            self._created += 1
            number = ID_BASE + self.seeded.count + self._created - 1
            now = self._next_write_ms()
            record = _with_properties(_blank(number, now), properties, now)
            self._put(number, record)
            return record

    def update(self, contact_id: str, properties: Mapping[str, str | None]) -> Record | None:
        """Merge ``properties`` into the live contact (None: unknown or archived)."""
        with self._lock:
            current = self.get(contact_id)
            if current is None:
                return None
            record = _with_properties(current, properties, self._next_write_ms())
            self._put(int(current["id"]), record)
            return record

    def archive(self, contact_id: str) -> bool:
        with self._lock:
            current = self.get(contact_id)
            if current is None:
                return False
            self._next_write_ms()
            self._put(int(current["id"]), None, previous=current)
            return True

    def _put(self, number: int, record: Record | None, previous: Record | None = None) -> None:
        previous = previous if previous is not None else self.get(str(number))
        old_email = (previous or {}).get("properties", {}).get("email")
        if old_email and self._email_owner.get(old_email.lower()) == number:
            del self._email_owner[old_email.lower()]
        if record is not None and record["properties"].get("email"):
            self._email_owner[record["properties"]["email"].lower()] = number
        self._stored[number] = record

    def _next_write_ms(self) -> int:
        """Now, strictly after the previous write, so every write sorts after the ones before."""
        self._last_write_ms = max(int(self._clock.now() * 1000), self._last_write_ms + 1)
        return self._last_write_ms

    def _seeded_record(self, i: int) -> Record:
        person = self.seeded.record(i)
        created, modified = self.seeded.date_added_ms(i), self.seeded.date_updated_ms(i)
        properties = {
            "email": person["email"],
            "firstname": person["firstName"],
            "lastname": person["lastName"],
            "phone": person["phone"],
            "company": person["companyName"],
            "website": person["website"],
            "city": person["city"],
            "state": person["state"],
            "country": person["country"],
            "jobtitle": person["customFields"][1]["value"],
            "lifecyclestage": "customer" if person["type"] == "customer" else "lead",
            self._tags_property: ";".join(person["tags"]) or None,
        }
        return _with_properties(_blank(ID_BASE + i, created), properties, modified)


def _blank(number: int, created_ms: int) -> Record:
    created = iso_from_ms(created_ms)
    return {
        "id": str(number),
        "properties": {"hs_object_id": str(number), "createdate": created},
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
    }


def _with_properties(record: Record, changes: Mapping[str, str | None], modified_ms: int) -> Record:
    """A copy with ``changes`` applied (empty string or None clears a property) and a new timestamp."""
    properties = dict(record["properties"])
    for name, value in changes.items():
        if value in (None, ""):
            properties.pop(name, None)
        else:
            properties[name] = value
    modified = iso_from_ms(modified_ms)
    properties["lastmodifieddate"] = modified
    return {**record, "properties": properties, "updatedAt": modified}


def _number(contact_id: str) -> int | None:
    return int(contact_id) if contact_id.isdigit() and len(contact_id) < 19 else None


def property_key(record: Record, prop: str) -> int | None:
    """A record's value of an ordered property as a number (epoch ms for dates)."""
    value = record["properties"].get(prop)
    if value is None:
        return None
    return int(value) if prop == "hs_object_id" else ms_from_iso(value)

"""Seeded GHL contacts computed on demand: contact *i* is a pure function of ``(seed, i)``.

Nothing is stored per contact, so a 1,000,000-contact location starts instantly and costs no
memory; :class:`~sync_pipeline.sandbox.ghl.contacts.ContactBook` keeps only the contacts that were
changed since. What makes that possible:

* ``dateAdded`` and ``dateUpdated`` both strictly increase with *i* (and ``dateAdded < dateUpdated``),
  so date-range filters, date sorts and ``searchAfter`` cursors become binary searches over *i*;
* the id encodes *i* (an invertible affine map of *i*, in base 62, after 11 check characters), so
  ``GET /contacts/{id}`` finds contact *i* without an index; any other 20-character id is unknown;
* the email ends its local part with ``i + 1`` (``maria.garcia1042@northwindlogistics.com``), so
  an email lookup (create/upsert dedupe, ``email eq`` filters) is a parse plus one check.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms
from sync_pipeline.sandbox.identifiers import BASE62, digest, from_base62, to_base62, token

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra", "Mark", "Ashley", "Priya", "Emily",
    "Wei", "Fatima", "Luca", "Sofia", "Hiroshi", "Amara", "Noah", "Olivia", "Mateo", "Chloe",
    "Ethan", "Aisha", "Lucas", "Maya", "Oliver", "Zoe", "Arjun", "Elena", "Kofi", "Ingrid",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Patel", "Kim", "Chen", "Okafor", "Rossi", "Muller", "Silva", "Novak", "Larsen", "Tanaka",
)  # fmt: skip
COMPANY_WORDS = (
    "Northwind", "Bluepeak", "Summit", "Ironclad", "Brightline", "Cedar", "Harbor", "Keystone", "Lumen",
    "Meridian", "Nimbus", "Orchard", "Pinnacle", "Quartz", "Redwood", "Silverleaf", "Tidewater", "Vertex",
    "Willow", "Zenith", "Atlas", "Beacon", "Cobalt", "Driftwood", "Evergreen", "Falcon", "Granite", "Horizon",
)  # fmt: skip
COMPANY_KINDS = (
    "Logistics", "Analytics", "Dental", "Roofing", "Realty", "Fitness", "Legal", "Marketing", "Software",
    "Insurance", "Solar", "Landscaping", "Consulting", "Health", "Plumbing", "Capital", "Media", "Labs",
)  # fmt: skip
TOP_LEVEL_DOMAINS = ("com", "com", "com", "io", "co", "net")
PLACES = (
    ("Austin", "TX", "US", "787", "America/Chicago"),
    ("Denver", "CO", "US", "802", "America/Denver"),
    ("Miami", "FL", "US", "331", "America/New_York"),
    ("Seattle", "WA", "US", "981", "America/Los_Angeles"),
    ("Chicago", "IL", "US", "606", "America/Chicago"),
    ("Boston", "MA", "US", "021", "America/New_York"),
    ("Phoenix", "AZ", "US", "850", "America/Phoenix"),
    ("Atlanta", "GA", "US", "303", "America/New_York"),
    ("Toronto", "ON", "CA", "M5V", "America/Toronto"),
    ("London", "England", "GB", "EC1", "Europe/London"),
    ("Sydney", "NSW", "AU", "200", "Australia/Sydney"),
    ("Nashville", "TN", "US", "372", "America/Chicago"),
)
STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Blvd", "2nd St", "Elm St", "Lakeview Rd")
TAGS = (
    "lead",
    "customer",
    "newsletter",
    "webinar",
    "trial",
    "enterprise",
    "smb",
    "partner",
    "cold",
    "warm",
    "hot",
)
SOURCES = ("public api", "website form", "csv import", "linkedin", "referral", "webinar", "facebook ad")
JOB_TITLES = (
    "Owner",
    "CEO",
    "Head of Sales",
    "Marketing Manager",
    "Operations Director",
    "Office Manager",
    "CTO",
)
CUSTOM_FIELDS = (
    ("contact.lead_score", "Lead score"),
    ("contact.job_title", "Job title"),
    ("contact.linkedin", "LinkedIn"),
)

ID_CODE_SPACE = 2**48  # the affine map of i lives here; 9 base-62 characters hold it
ID_CHECK_LENGTH = 11
DAY_MS = 86_400_000
UPDATE_LAG_MS = 90 * DAY_MS  # seeded contacts were last updated ~90 days after they were added
_EMAIL_NUMBER = re.compile(r"(\d+)@")


@dataclass(frozen=True)
class CustomFieldDef:
    """One custom field of the seeded location (``customFields[].id`` refers to ``id``)."""

    id: str
    key: str
    name: str


class SeededContacts:
    """The ``count`` contacts of one location, computed from ``seed`` on demand."""

    def __init__(self, *, count: int, seed: int, location_id: str, until_ms: int, span_days: int) -> None:
        self.count = count
        self.seed = seed
        self.location_id = location_id
        self._step = max(2, span_days * DAY_MS // max(count, 1))
        self._lag = max(UPDATE_LAG_MS, self._step)
        self._start = until_ms - self._lag - count * self._step
        self._mult = int.from_bytes(digest(seed, "ghl-id-mult", size=8), "big") % ID_CODE_SPACE | 1
        self._offset = int.from_bytes(digest(seed, "ghl-id-offset", size=8), "big") % ID_CODE_SPACE
        self._inverse = pow(self._mult, -1, ID_CODE_SPACE)
        self.custom_fields = tuple(CustomFieldDef(token(seed, "ghl-cf", key), key, name) for key, name in CUSTOM_FIELDS)
        self.users = tuple(token(seed, "ghl-user", n) for n in range(3))

    # ---- identity -----------------------------------------------------------------------------

    def id_of(self, i: int) -> str:
        code = to_base62((i * self._mult + self._offset) % ID_CODE_SPACE, 9)
        return token(self.seed, "ghl-contact", code, length=ID_CHECK_LENGTH) + code

    def index_of(self, contact_id: str) -> int | None:
        """*i* of a seeded id, None for any other string."""
        if len(contact_id) != 20 or any(c not in BASE62 for c in contact_id):
            return None
        code = from_base62(contact_id[ID_CHECK_LENGTH:])
        i = ((code - self._offset) * self._inverse) % ID_CODE_SPACE
        return i if i < self.count and self.id_of(i) == contact_id else None

    def index_of_email(self, email: str) -> int | None:
        """*i* of the seeded contact whose (lower-cased) email is ``email``, if any."""
        match = _EMAIL_NUMBER.search(email)
        if match is None:
            return None
        i = int(match.group(1)) - 1
        return i if 0 <= i < self.count and self.email_of(i) == email.lower() else None

    # ---- time layout --------------------------------------------------------------------------

    def date_added_ms(self, i: int) -> int:
        return self._start + i * self._step + self._jitter(i, "added")

    def date_updated_ms(self, i: int) -> int:
        return self._start + self._lag + i * self._step + self._jitter(i, "updated")

    def ms_of(self, field: str, i: int) -> int:
        """``dateAdded`` or ``dateUpdated`` of contact *i* in epoch ms."""
        return self.date_added_ms(i) if field == "dateAdded" else self.date_updated_ms(i)

    def first_index(self, field: str, ms: int, *, inclusive: bool) -> int:
        """The first *i* whose ``field`` is ``>= ms`` (inclusive) or ``> ms``; both dates grow with *i*."""
        search = bisect_left if inclusive else bisect_right
        return search(range(self.count), ms, key=lambda i: self.ms_of(field, i))

    def _jitter(self, i: int, what: str) -> int:
        return int.from_bytes(digest(self.seed, "ghl-time", what, i, size=8), "big") % self._step

    # ---- records ------------------------------------------------------------------------------

    def email_of(self, i: int) -> str:
        return self._identity(i)[3]

    def _identity(self, i: int) -> tuple[str, str, str, str, bytes]:
        """First name, last name, company, email and the random bytes of contact *i*."""
        b = digest(self.seed, "ghl-contact-fields", i, size=32)
        first, last = FIRST_NAMES[b[0] % len(FIRST_NAMES)], LAST_NAMES[b[1] % len(LAST_NAMES)]
        company = f"{COMPANY_WORDS[b[2] % len(COMPANY_WORDS)]} {COMPANY_KINDS[b[3] % len(COMPANY_KINDS)]}"
        domain = company.replace(" ", "").lower() + "." + TOP_LEVEL_DOMAINS[b[4] % len(TOP_LEVEL_DOMAINS)]
        local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}")[b[5] % 3].lower()
        return first, last, company, f"{local}{i + 1}@{domain}", b

    def record(self, i: int) -> dict[str, Any]:
        """Contact *i* in the sandbox's internal form (every field GHL returns anywhere)."""
        first, last, company, email, b = self._identity(i)
        city, state, country, postal, timezone = PLACES[b[6] % len(PLACES)]
        tags = sorted({TAGS[b[7 + k] % len(TAGS)] for k in range(b[10] % 4)})
        dnd = b[11] % 20 == 0
        score, title = str(b[12] % 100), JOB_TITLES[b[13] % len(JOB_TITLES)]
        values = (score, title, f"https://www.linkedin.com/in/{first}-{last}-{i + 1}".lower())
        phone_digits = int.from_bytes(b[14:18], "big") % 10_000_000
        domain = email.split("@", 1)[1]
        return {
            "id": self.id_of(i),
            "locationId": self.location_id,
            "name": f"{first} {last}",
            "firstName": first,
            "lastName": last,
            "firstNameLowerCase": first.lower(),
            "lastNameLowerCase": last.lower(),
            "fullNameLowerCase": f"{first} {last}".lower(),
            "email": email,
            "emailLowerCase": email,
            "phone": f"+1{200 + b[18] % 800}{phone_digits:07d}",
            "phoneLabel": "Mobile",
            "companyName": company,
            "website": f"https://www.{domain}",
            "timezone": timezone,
            "type": "customer" if b[19] % 5 == 0 else "lead",
            "source": SOURCES[b[20] % len(SOURCES)],
            "dnd": dnd,
            "dndSettings": dnd_settings(dnd),
            "assignedTo": self.users[b[21] % len(self.users)],
            "address1": f"{100 + int.from_bytes(b[22:24], 'big') % 9900} {STREETS[b[24] % len(STREETS)]}",
            "city": city,
            "state": state,
            "country": country,
            "postalCode": f"{postal}{b[25] % 100:02d}",
            "tags": tags,
            "customFields": [{"id": f.id, "value": v} for f, v in zip(self.custom_fields, values, strict=True)],
            "dateAdded": iso_from_ms(self.date_added_ms(i)),
            "dateUpdated": iso_from_ms(self.date_updated_ms(i)),
            "additionalEmails": [],
            "additionalPhones": [],
            "followers": [],
            "validEmail": True,
            "deleted": False,
            "bounceEmail": False,
            "unsubscribeEmail": False,
            "attributionSource": {
                "url": f"https://www.{domain}/contact",
                "medium": "form",
                "sessionSource": "CRM UI",
            },
        }


def dnd_settings(dnd: bool) -> dict[str, dict[str, str]]:
    """Per-channel DND as GHL returns it: every channel active when the contact is DND."""
    status = "active" if dnd else "inactive"
    return {channel: {"status": status} for channel in ("Call", "Email", "SMS", "WhatsApp", "GMB", "FB")}

"""The records of one Instantly workspace: campaigns, leads and Unibox emails, shaped as the SPEC's
``Campaign``, ``Lead`` and ``Email`` objects.

Ids are UUIDv7 (time-ordered, as Instantly's are) made from the sandbox clock and the seed, strictly
increasing, so "ordered by id" is creation order and a cursor is the last id served.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sync_pipeline.sandbox.clock import Clock
from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms
from sync_pipeline.sandbox.identifiers import digest
from sync_pipeline.sandbox.instantly.config import InstantlyConfig

LEAD_FIELDS = ("email", "first_name", "last_name", "company_name", "job_title", "phone", "website",
               "personalization")  # fmt: skip
# Instantly's built-in template variables and the lead field each reads.
CORE_VARIABLES = {"email": "email", "firstName": "first_name", "lastName": "last_name",
                  "companyName": "company_name", "jobTitle": "job_title", "phone": "phone",
                  "website": "website", "personalization": "personalization"}  # fmt: skip
_VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
STATUS_ACTIVE, STATUS_BOUNCED = 1, -1
UE_CAMPAIGN, UE_RECEIVED, UE_SENT = 1, 2, 3


class Workspace:
    """Thread-safe in-memory records; every timestamp from the sandbox clock."""

    def __init__(self, seed: int, clock: Clock, config: InstantlyConfig) -> None:
        self.seed = seed
        self.clock = clock
        organization = digest(seed, "instantly-organization", size=16)
        self.organization = self._uuid(int.from_bytes(organization[:5], "big"), organization[5:])
        self.lock = threading.RLock()
        self.reset(config)

    def reset(self, config: InstantlyConfig) -> None:
        with self.lock:
            self._last = 0
            self.campaigns: dict[str, dict[str, Any]] = {}
            self.leads: dict[str, dict[str, Any]] = {}
            self.emails: dict[str, dict[str, Any]] = {}
            self.primary_campaign = self.create_campaign(
                config.campaign_name, config.sender_accounts, subject="{{subject}}", body="{{body}}", status=1
            )
            for n in range(config.draft_campaigns):
                self.create_campaign(f"Draft {n + 1}", config.sender_accounts, subject="Hi", body="Hello")

    # ---- ids and time -------------------------------------------------------------------------

    def new_id(self) -> str:
        with self.lock:
            self._last = max(int(self.clock.now() * 1000) * 4096, self._last + 1)
            ms, sequence = divmod(self._last, 4096)
            return self._uuid(ms, sequence.to_bytes(2, "big") + digest(self.seed, "instantly-id", self._last))

    def now_iso(self) -> str:
        return iso_from_ms(int(self.clock.now() * 1000))

    @staticmethod
    def _uuid(ms: int, random_bytes: bytes) -> str:
        rand_a = int.from_bytes(random_bytes[:2], "big") & 0xFFF
        rand_b = int.from_bytes(random_bytes[2:10], "big") & ((1 << 62) - 1)
        return str(uuid.UUID(int=(ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b))

    # ---- campaigns ----------------------------------------------------------------------------

    def create_campaign(
        self, name: str, accounts: Iterable[str], *, subject: str, body: str, status: int = 0
    ) -> dict[str, Any]:
        """A campaign with one email step (created as Draft unless ``status`` says otherwise)."""
        now = self.now_iso()
        campaign = {
            "id": self.new_id(),
            "name": name,
            "status": status,
            "campaign_schedule": {
                "schedules": [
                    {
                        "name": "Weekdays",
                        "timing": {"from": "09:00", "to": "17:00"},
                        "days": {str(d): d in range(1, 6) for d in range(7)},
                        "timezone": "America/Chicago",
                    }
                ]
            },
            "sequences": [{"steps": [{"type": "email", "delay": 0, "variants": [{"subject": subject, "body": body}]}]}],
            "email_list": list(accounts),
            "daily_limit": 500,
            "stop_on_reply": True,
            "open_tracking": False,
            "link_tracking": False,
            "organization": self.organization,
            "timestamp_created": now,
            "timestamp_updated": now,
        }
        with self.lock:
            self.campaigns[campaign["id"]] = campaign
        return campaign

    # ---- leads --------------------------------------------------------------------------------

    def lead_in(self, campaign_id: str | None, email: str) -> dict[str, Any] | None:
        """The lead with ``email`` in the campaign (any campaign when ``campaign_id`` is None)."""
        email = email.lower()
        with self.lock:
            for lead in self.leads.values():
                if (lead["email"] or "").lower() == email and campaign_id in (None, lead["campaign"]):
                    return lead
        return None

    def create_lead(self, campaign_id: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
        now = self.now_iso()
        email = fields.get("email")
        payload = {**_core_payload(fields), **(fields.get("custom_variables") or {})}
        lead = {
            "id": self.new_id(),
            "timestamp_created": now,
            "timestamp_updated": now,
            "organization": self.organization,
            "campaign": campaign_id,
            "status": STATUS_ACTIVE,
            **{name: fields.get(name) for name in LEAD_FIELDS},
            "email_open_count": 0,
            "email_reply_count": 0,
            "email_click_count": 0,
            "company_domain": email.split("@")[-1].lower() if isinstance(email, str) else "",
            "status_summary": {},
            "payload": payload,
            "list_id": fields.get("list_id"),
            "upload_method": "api",
            "timestamp_last_contact": None,
        }
        with self.lock:
            self.leads[lead["id"]] = lead
        return lead

    def update_lead(self, lead_id: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        with self.lock:
            lead = self.leads[lead_id]
            change(lead)
            lead["timestamp_updated"] = self.now_iso()
            return dict(lead)

    # ---- emails -------------------------------------------------------------------------------

    def add_email(
        self,
        *,
        ue_type: int,
        eaccount: str,
        sender: str,
        to: str,
        subject: str,
        html: str,
        text: str | None,
        lead: Mapping[str, Any] | None,
        campaign_id: str | None,
        thread_id: str | None = None,
        step: str | None = None,
    ) -> dict[str, Any]:
        email_id = self.new_id()
        now = self.now_iso()
        preview = text if text is not None else re.sub(r"<[^>]+>", " ", html)
        email = {
            "id": email_id,
            "timestamp_created": now,
            "timestamp_email": now,
            "message_id": f"<{email_id}@sandbox.instantly.ai>",
            "subject": subject,
            "from_address_email": sender,
            "to_address_email_list": to,
            "body": {"text": text if text is not None else preview.strip(), "html": html},
            "organization_id": self.organization,
            "campaign_id": campaign_id,
            "lead": lead["email"] if lead else None,
            "lead_id": lead["id"] if lead else None,
            "eaccount": eaccount,
            "ue_type": ue_type,
            "step": step,
            "is_unread": 1 if ue_type == UE_RECEIVED else 0,
            "thread_id": thread_id or email_id,
            "content_preview": " ".join(preview.split())[:100],
        }
        with self.lock:
            self.emails[email_id] = email
        return email


def render(template: str, lead: Mapping[str, Any]) -> str:
    """Fill ``{{variable}}`` from the lead's fields and custom variables (unknown → empty, UNCONFIRMED)."""
    payload = lead.get("payload") or {}

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = lead.get(CORE_VARIABLES[name]) if name in CORE_VARIABLES else payload.get(name)
        return "" if found is None else str(found)

    return _VARIABLE.sub(value, template)


def _core_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {var: fields[name] for var, name in CORE_VARIABLES.items() if var != "email" and fields.get(name)}


def page(
    records: list[dict[str, Any]], starting_after: str | None, limit: int, *, descending: bool, cursor_always: bool
) -> dict[str, Any]:
    """Instantly's cursor page over records sorted by id: ``{"items", "next_starting_after"?}``.

    With ``cursor_always`` every non-empty page carries a cursor (DOC: a last page can), so a client
    must stop on empty ``items``."""
    ordered = sorted(records, key=lambda r: r["id"], reverse=descending)
    if starting_after:
        ordered = [r for r in ordered if (r["id"] < starting_after if descending else r["id"] > starting_after)]
    items = ordered[:limit]
    body: dict[str, Any] = {"items": items}
    if items and (cursor_always or len(ordered) > limit):
        body["next_starting_after"] = items[-1]["id"]
    return body

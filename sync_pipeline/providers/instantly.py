"""Instantly as the email sender (vendor reference section 2).

Instantly has no "send this email" endpoint: mail goes out through campaigns, and ad-hoc mail only as
a reply in an existing thread. One :class:`OutboundEmail` maps onto that as follows.

* **First email to an address** — ``POST /api/v2/leads/add`` adds the recipient as a lead of the
  configured campaign (``INSTANTLY_CAMPAIGN_ID``) with ``skip_if_in_campaign: true`` and the custom
  variables ``subject``, ``body`` (the HTML) and ``sync_pipeline_key`` (the outbox idempotency key).
  The campaign must be active with a single step whose subject is ``{{subject}}`` and whose body is
  ``{{body}}``; Instantly sends it within the campaign's schedule. ``provider_ref`` is the lead id.
* **Reply** (``reply_to_ref`` set: an Instantly email id, e.g. a webhook's ``email_id``) —
  ``POST /api/v2/emails/reply`` from ``INSTANTLY_EACCOUNT``; ``provider_ref`` is the new email's id.
* **Later emails to an address already in the campaign** — a campaign sends each step to a lead once,
  so a different email to the same person is sent as a reply in the thread of the latest email to
  them (``GET /api/v2/emails?lead=…``), the campaign's subject replaced by ours.

Instantly has **no idempotency keys** (DOC) and the transport never resends these POSTs after an
ambiguous failure. Our key travels as the lead's ``sync_pipeline_key`` variable and, in replies, as an
HTML comment ``<!-- sync-pipeline-key: … -->`` at the end of the body; :meth:`InstantlyEmail.lookup`
finds an earlier send by it (``POST /api/v2/leads/list`` filtered by campaign and email, then the
sent emails to the address). UNCONFIRMED: that Instantly keeps HTML comments in stored bodies — if it
strips them, an earlier reply cannot be found and the outbox resends it.

``GET /api/v2/emails`` has its own limit of 20 requests/min (DOC); those calls go through a second
client that shares the workspace windows and adds that one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Self

from ..errors import PermanentVendorError
from ..records import OutboundEmail, SendResult
from ..settings import Settings, require
from ..store import Store
from ..transport import INSTANTLY_PROFILE, TransportStats, VendorClient, Window
from .email_keys import marked_key, with_key_marker

KEY_VARIABLE = "sync_pipeline_key"
LIST_EMAILS_WINDOW = Window("list_emails", 20, 60.0)
PAGE_SIZE = 100
PROVIDER = "instantly"


class InstantlyEmail:
    """:class:`~sync_pipeline.providers.base.EmailProvider` sending through one Instantly campaign."""

    name = PROVIDER

    def __init__(
        self,
        client: VendorClient,
        *,
        campaign_id: str,
        eaccount: str | None,
        list_emails_client: VendorClient | None = None,
    ) -> None:
        self._client = client
        self._list_client = list_emails_client or client
        self._campaign_id = campaign_id
        self._eaccount = eaccount

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``INSTANTLY_BASE_URL``, ``INSTANTLY_API_KEY``, ``INSTANTLY_CAMPAIGN_ID``
        (required) and ``INSTANTLY_EACCOUNT`` (needed for replies)."""
        campaign_id = require(
            settings,
            "instantly_campaign_id",
            "Instantly sends through an active campaign whose step is {{subject}} / {{body}}",
        )
        return cls(
            instantly_client(settings, store),
            campaign_id=campaign_id,
            eaccount=settings.instantly_eaccount or None,
            list_emails_client=instantly_client(settings, store, extra_windows=(LIST_EMAILS_WINDOW,)),
        )

    # ---- EmailProvider ------------------------------------------------------------------------

    def send(self, email: OutboundEmail) -> SendResult:
        """Send once (see the module docstring for the mapping); never resent by the transport."""
        if email.reply_to_ref:
            return self._reply(email, email.reply_to_ref)
        lead = {
            "email": email.to_email,
            "custom_variables": {"subject": email.subject, "body": email.html, KEY_VARIABLE: email.idempotency_key},
        }
        summary = self._client.request(
            "POST",
            "/api/v2/leads/add",
            json={"campaign_id": self._campaign_id, "leads": [lead], "skip_if_in_campaign": True},
            idempotent=False,
        ).json()
        created = summary.get("created_leads") or []
        if created:
            return SendResult(provider_ref=str(created[0]["id"]), raw=summary)
        if not summary.get("skipped_count"):
            counts = ", ".join(f"{k}={v}" for k, v in summary.items() if k.endswith("_count") and v)
            raise PermanentVendorError(
                self.name, f"Instantly did not add {email.to_email!r} to campaign {self._campaign_id}: {counts}"
            )
        existing = self._lead(email.to_email)
        if existing is not None and _lead_key(existing) == email.idempotency_key:
            return SendResult(provider_ref=str(existing["id"]), raw=existing)
        thread = self._latest_email_to(email.to_email)
        if thread is None:
            raise PermanentVendorError(
                self.name,
                f"{email.to_email} is already a lead of campaign {self._campaign_id} but no email to them "
                "exists yet to reply to; retry after the campaign has sent its step",
            )
        return self._reply(email, str(thread["id"]))

    def lookup(self, email: OutboundEmail) -> SendResult | None:
        """The earlier send carrying ``email``'s idempotency key (lead variable or reply marker), or None."""
        if not email.reply_to_ref:
            lead = self._lead(email.to_email)
            if lead is None:
                return None
            if _lead_key(lead) == email.idempotency_key:
                return SendResult(provider_ref=str(lead["id"]), raw=lead)
        for sent in self._emails_to(email.to_email):
            if marked_key((sent.get("body") or {}).get("html")) == email.idempotency_key:
                return SendResult(provider_ref=str(sent["id"]), raw=sent)
        return None

    def stats(self) -> TransportStats:
        return self._client.stats()

    def close(self) -> None:
        self._client.close()
        if self._list_client is not self._client:
            self._list_client.close()

    # ---- Instantly calls ----------------------------------------------------------------------

    def _reply(self, email: OutboundEmail, reply_to_uuid: str) -> SendResult:
        if not self._eaccount:
            raise PermanentVendorError(
                self.name, "INSTANTLY_EACCOUNT is not set; replies are sent from that connected sender account"
            )
        body = {"html": with_key_marker(email.html, email.idempotency_key)}
        answer = self._client.request(
            "POST",
            "/api/v2/emails/reply",
            json={"eaccount": self._eaccount, "reply_to_uuid": reply_to_uuid, "subject": email.subject, "body": body},
            idempotent=False,
        ).json()
        return SendResult(provider_ref=str(answer["id"]), raw=answer)

    def _lead(self, address: str) -> dict[str, Any] | None:
        """The campaign's lead for ``address`` (Instantly keeps one per campaign and email)."""

        def fetch(cursor: str | None) -> dict[str, Any]:
            body: dict[str, Any] = {"campaign": self._campaign_id, "contacts": [address], "limit": PAGE_SIZE}
            if cursor:
                body["starting_after"] = cursor
            return self._client.request("POST", "/api/v2/leads/list", json=body, idempotent=True).json()

        return next((lead for lead in _paged(fetch) if (lead.get("email") or "").lower() == address.lower()), None)

    def _emails_to(self, address: str) -> Iterator[dict[str, Any]]:
        """Every sent email whose lead, sender or recipient is ``address``, in any thread, newest first."""
        return self._sent_emails({"search": address, "limit": PAGE_SIZE})

    def _latest_email_to(self, address: str) -> dict[str, Any] | None:
        """The newest email the campaign sent to the lead ``address``."""
        params = {"lead": address, "campaign_id": self._campaign_id, "limit": 1}
        return next(self._sent_emails(params), None)

    def _sent_emails(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        def fetch(cursor: str | None) -> dict[str, Any]:
            query = {**params, "email_type": "sent", **({"starting_after": cursor} if cursor else {})}
            return self._list_client.request("GET", "/api/v2/emails", params=query).json()

        return _paged(fetch)


def instantly_client(settings: Settings, store: Store, *, extra_windows: tuple[Window, ...] = ()) -> VendorClient:
    """A client for the workspace behind ``INSTANTLY_API_KEY``; ``extra_windows`` add endpoint limits
    on top of the workspace-wide ones (shared, as the same account)."""
    return VendorClient.for_profile(
        INSTANTLY_PROFILE, settings, store, windows=(*INSTANTLY_PROFILE.windows, *extra_windows)
    )


def _paged(fetch: Callable[[str | None], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item of an Instantly list; stops on an empty page (DOC: a last page may carry a cursor)."""
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items = page.get("items") or []
        if not items:
            return
        yield from items
        cursor = page.get("next_starting_after")
        if not cursor:
            return


def _lead_key(lead: dict[str, Any]) -> str | None:
    value = (lead.get("payload") or {}).get(KEY_VARIABLE)
    return None if value is None else str(value)

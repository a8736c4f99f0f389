"""GoHighLevel as the email sender: ``POST /conversations/messages`` with ``type: Email`` (vendor
reference 1.6), and reading the contact's conversation back after a lost answer.

GHL has no idempotency: a resent POST is a second email. What prevents duplicates is
:meth:`GhlEmail.lookup` before any resend, which finds the earlier send by the outbox key carried
in the body as an HTML comment (:mod:`.email_keys`). The key also travels in the
``X-Idempotency-Key`` header, which GHL ignores and the sandbox counts duplicates by.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self

from ..errors import NotFound, OutcomeUnknown
from ..records import ContactChanges, OutboundEmail, SendResult
from ..settings import Settings
from ..store import Store
from ..transport import TransportStats, VendorClient
from .email_keys import marked_key, with_key_marker
from .ghl_api import CONVERSATIONS_VERSION, ghl_client
from .ghl_crm import GhlCRM
from .ghl_mapping import PROVIDER

IDEMPOTENCY_MARKER_HEADER = "X-Idempotency-Key"
_CONVERSATIONS_HEADERS = {"Version": CONVERSATIONS_VERSION}
_MESSAGES_PAGE = 100


class GhlEmail:
    """:class:`~sync_pipeline.providers.base.EmailProvider` sending from one GHL location."""

    name = PROVIDER

    def __init__(self, client: VendorClient, location_id: str) -> None:
        self._client = client
        self._location_id = location_id
        self._contacts = GhlCRM(client, location_id)

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> Self:
        """Built from ``GHL_BASE_URL``, ``GHL_API_KEY`` and ``GHL_LOCATION_ID``."""
        return cls(ghl_client(settings, store), settings.ghl_location_id)

    def send(self, email: OutboundEmail) -> SendResult:
        """Send once; ``provider_ref`` is GHL's ``messageId``.

        GHL sends to contacts only: without ``contact_id`` the contact is first found or created by
        email (``POST /contacts/upsert``). The send itself is never retried by the transport.
        """
        body: dict[str, Any] = {
            "type": "Email",
            "contactId": self._contact_id(email),
            "emailTo": email.to_email,
            "subject": email.subject,
            "html": with_key_marker(email.html, email.idempotency_key),
        }
        if email.reply_to_ref is not None:
            body["replyMessageId"] = email.reply_to_ref
        response = self._client.request(
            "POST",
            "/conversations/messages",
            json=body,
            headers={**_CONVERSATIONS_HEADERS, IDEMPOTENCY_MARKER_HEADER: email.idempotency_key},
            idempotent=False,
        )
        answer = response.json()
        return SendResult(provider_ref=str(answer["messageId"]), raw=answer)

    def lookup(self, email: OutboundEmail) -> SendResult | None:
        """Find an earlier send of ``email`` in the contact's conversation.

        An outbound email whose body carries ``email``'s key is that send; one carrying another key
        is another send. A body with no key at all (UNCONFIRMED: GHL might strip HTML comments) falls
        back to the newest outbound email with the same subject, where an identical earlier email
        to the same contact would also match. None when the conversation has no such email; raises
        :class:`OutcomeUnknown` when an outbound email cannot be read back.
        """
        contact_id = self._contact_id(email)
        conversations = self._client.request(
            "GET",
            "/conversations/search",
            params={"locationId": self._location_id, "contactId": contact_id},
            headers=_CONVERSATIONS_HEADERS,
        ).json()
        unreadable = []
        for conversation in conversations.get("conversations") or []:
            for message in self._messages(str(conversation["id"])):
                if message.get("direction") != "outbound" or message.get("messageType") != "TYPE_EMAIL":
                    continue
                stored = self._stored_email(message)
                if stored is None:
                    unreadable.append(str(message.get("id")))
                    continue
                key = marked_key(stored.get("body"))
                if key == email.idempotency_key or (key is None and stored.get("subject") == email.subject):
                    return SendResult(provider_ref=str(message["id"]), raw=message)
        if unreadable:
            raise OutcomeUnknown(
                PROVIDER,
                f"contact {contact_id} has outbound email(s) {', '.join(unreadable)} that GHL does not "
                "return; check the conversation in GHL before resending",
            )
        return None

    def stats(self) -> TransportStats:
        """Transport counters (calls, 429s, limiter wait) for Dagster metadata."""
        return self._client.stats()

    def close(self) -> None:
        self._client.close()

    def _contact_id(self, email: OutboundEmail) -> str:
        if email.contact_id:
            return email.contact_id
        return self._contacts.upsert_contact(ContactChanges(email=email.to_email)).id

    def _messages(self, conversation_id: str) -> Iterator[Mapping[str, Any]]:
        """Every message of a conversation, newest first (GHL pages by ``lastMessageId``)."""
        last_id = None
        while True:
            params: dict[str, Any] = {"limit": _MESSAGES_PAGE}
            if last_id:
                params["lastMessageId"] = last_id
            page = self._client.request(
                "GET",
                "/conversations/{conversationId}/messages",
                path_params={"conversationId": conversation_id},
                params=params,
                headers=_CONVERSATIONS_HEADERS,
            ).json()
            # OBS (highlevel-api-docs #54): the page is nested under "messages"; the spec says flat.
            if isinstance(page.get("messages"), Mapping):
                page = page["messages"]
            yield from page.get("messages") or []
            last_id = page.get("lastMessageId")
            if not page.get("nextPage") or not last_id:
                return

    def _stored_email(self, message: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """``GET /conversations/messages/email/{id}``: the subject and body message lists omit."""
        email_ids = ((message.get("meta") or {}).get("email") or {}).get("messageIds") or []
        if not email_ids:
            return None
        try:
            return self._client.request(
                "GET",
                "/conversations/messages/email/{id}",
                path_params={"id": email_ids[0]},
                headers=_CONVERSATIONS_HEADERS,
            ).json()
        except NotFound:
            return None

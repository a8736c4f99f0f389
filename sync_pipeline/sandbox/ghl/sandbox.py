"""The GoHighLevel v2 sandbox: one location, its contacts and email conversations, GHL's auth,
headers, rate limits, error bodies and signed webhooks.

Wire details follow ``vendor-apis/README.md`` section 1; every point marked UNCONFIRMED there is a
field of :class:`~sync_pipeline.sandbox.ghl.config.GhlConfig` with the chosen default explained.
Every contact change — through the API or ``POST /_sandbox/contacts/mutate`` — goes through
:meth:`GhlSandbox.create_contact`, :meth:`~GhlSandbox.change_contact` or
:meth:`~GhlSandbox.delete_contact`, which bump ``dateUpdated`` and emit the webhook.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.routing import BaseRoute

from sync_pipeline.sandbox.config import RATE_WINDOWS_HINT, refuse_fixed
from sync_pipeline.sandbox.ghl.admin import ghl_admin_routes
from sync_pipeline.sandbox.ghl.config import API_VERSION, GhlConfig
from sync_pipeline.sandbox.ghl.contacts import ContactBook, ContactNotFound, Record
from sync_pipeline.sandbox.ghl.conversations import Message, MessageStore
from sync_pipeline.sandbox.ghl.errors import GhlRequestError, ghl_error
from sync_pipeline.sandbox.ghl.routes_contacts import contact_routes
from sync_pipeline.sandbox.ghl.routes_conversations import conversation_routes
from sync_pipeline.sandbox.ghl.seed import SeededContacts
from sync_pipeline.sandbox.ghl.shapes import WEBHOOK, project
from sync_pipeline.sandbox.ghl.signing import WebhookSigner
from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms, ms_from_iso
from sync_pipeline.sandbox.identifiers import digest, token
from sync_pipeline.sandbox.rate_headers import burst_daily_headers, retry_after_headers
from sync_pipeline.sandbox.ratelimit import RateDecision, RateWindow
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox


class GhlSandbox(VendorSandbox):
    """GHL v2 for one seeded location. ``book`` holds contacts, ``messages`` the conversations."""

    name = "ghl"
    config_type = GhlConfig
    config: GhlConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        seed = options.seed
        self.location_id = self.config.location_id or token(seed, "ghl-location")
        self.app_id = digest(seed, "ghl-app", size=12).hex()
        self.version_id = digest(seed, "ghl-app-version", size=12).hex()
        seeded = SeededContacts(
            count=options.contacts,
            seed=seed,
            location_id=self.location_id,
            until_ms=ms_from_iso(self.config.seed_until),
            span_days=self.config.seed_span_days,
        )
        self.book = ContactBook(seeded, self.clock, index_lag_s=self.config.search_index_lag_s)
        self.messages = MessageStore(seed)
        self.signer = WebhookSigner(
            seed,
            ed25519_pem=self.config.webhook_ed25519_private_key_pem,
            with_rsa=self.config.webhook_rsa_signature,
            rsa_pem=self.config.webhook_rsa_private_key_pem,
        )
        self.sender = f"Sandbox Sales <sales@{self.location_id.lower()}.sandbox.leadconnectorhq.com>"

    # ---- VendorSandbox contract ---------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [*contact_routes(self), *conversation_routes(self)]

    def admin_routes(self) -> Sequence[BaseRoute]:
        return ghl_admin_routes(self)

    def rate_windows(self) -> Sequence[RateWindow]:
        return self.config.rate_windows

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        """The five X-RateLimit-* headers GHL documents, from the windows named burst and daily."""
        return burst_daily_headers(decision, "X-RateLimit-", daily_limit="Limit-Daily")

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """The simulator assumption for GHL's undocumented 429 body (UNCONFIRMED)."""
        headers = retry_after_headers(retry_after_s, decision if self.config.retry_after_on_429 else None)
        return ghl_error(429, "Too Many Requests", headers=headers)

    def server_error_response(self, status: int) -> Response:
        """OBS: ``{"statusCode": 500, "message": "Internal server error"}`` (+ error, traceId)."""
        return ghl_error(status, "Internal server error")

    def not_found_response(self, method: str, path: str) -> Response:
        """NestJS's answer to an unknown route."""
        return ghl_error(404, f"Cannot {method} {path}")

    def guard(self, connection: HTTPConnection) -> Response | None:
        """Bearer key first (401, SPEC body), then the Version header (UNCONFIRMED status, see config)."""
        if connection.headers.get("authorization", "") != f"Bearer {self.config.api_key}":
            return ghl_error(401, "Invalid token: access token is invalid")
        version = connection.headers.get("version")
        if version is None:
            return ghl_error(self.config.missing_version_status, "Version header was not found")
        if version not in self.config.accepted_versions:
            return ghl_error(400, f"Version header value {version} is not supported")
        return None

    def credentials(self) -> dict[str, str]:
        creds = {
            "api_key": self.config.api_key,
            "location_id": self.location_id,
            "version": API_VERSION,
            "webhook_public_key": self.signer.public_key,
            "idempotency_header": self.config.idempotency_header,
        }
        if self.signer.rsa_public_key_pem:
            creds["webhook_rsa_public_key_pem"] = self.signer.rsa_public_key_pem
        return creds

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "GHL_BASE_URL": base_url,
            "GHL_API_KEY": self.config.api_key,
            "GHL_LOCATION_ID": self.location_id,
            "GHL_WEBHOOK_PUBLIC_KEY": self.signer.public_key,
        }

    def reset_data(self) -> None:
        self.book.reset()
        self.book.index_lag_s = self.config.search_index_lag_s
        self.messages.reset()

    def configure(self, changes: Mapping[str, Any]) -> GhlConfig:
        keys = {"rate_windows", "location_id", "api_key", "seed_until", "seed_span_days"}
        refuse_fixed(changes, keys | {k for k in changes if k.startswith("webhook_")}, RATE_WINDOWS_HINT)
        config = super().configure(changes)
        self.book.index_lag_s = config.search_index_lag_s
        return config

    # ---- operations shared by API handlers and admin mutations -------------------------------

    def check_location(self, location_id: Any) -> None:
        """403 unless ``location_id`` is the sandbox's location (UNCONFIRMED message)."""
        if location_id != self.location_id:
            raise GhlRequestError(403, "The token does not have access to this location.")

    def contact_or_error(self, contact_id: str) -> Record:
        record = self.book.get(contact_id)
        if record is None:
            raise GhlRequestError(self.config.unknown_id_status, f"Contact with id {contact_id} not found")
        return record

    def create_contact(self, body: Mapping[str, Any], *, allow_duplicate: bool, emit: bool = True) -> Record:
        record = self.book.create(body, allow_duplicate=allow_duplicate)
        if emit:
            self.emit_contact_event("ContactCreate", record)
        return record

    def change_contact(
        self,
        contact_id: str,
        change: Callable[[Record], Record],
        *,
        event: str = "ContactUpdate",
        emit: bool = True,
    ) -> Record:
        try:
            record = self.book.update(contact_id, change)
        except ContactNotFound:
            raise GhlRequestError(self.config.unknown_id_status, f"Contact with id {contact_id} not found") from None
        if emit:
            self.emit_contact_event(event, record)
        return record

    def delete_contact(self, contact_id: str, *, emit: bool = True) -> Record:
        try:
            record = self.book.delete(contact_id)
        except ContactNotFound:
            raise GhlRequestError(self.config.unknown_id_status, f"Contact with id {contact_id} not found") from None
        if emit:
            self.emit_contact_event("ContactDelete", record)
        return record

    def message_status(self, message: Message) -> str:
        """``pending`` until ``email_delivery_delay_s`` passed on the sandbox clock, then ``delivered``."""
        age_s = self.clock.now() - message.date_added_ms / 1000
        return "delivered" if age_s >= self.config.email_delivery_delay_s else "pending"

    # ---- webhooks -----------------------------------------------------------------------------

    def emit_contact_event(self, event: str, record: Record) -> None:
        self._emit({"type": event, **project(record, WEBHOOK), "attachments": []})

    def emit_message_event(self, message: Message) -> None:
        """``OutboundMessage`` for a message sent through the API (DOC payload, Email/SMS variants)."""
        payload: dict[str, Any] = {
            "type": "OutboundMessage",
            "locationId": self.location_id,
            "attachments": [],
            "body": message.body,
            "contactId": message.contact_id,
            "conversationId": message.conversation_id,
            "dateAdded": iso_from_ms(message.date_added_ms),
            "direction": "outbound",
            "messageType": message.kind,
            "messageId": message.id,
            "status": "pending",
            "source": "api",
        }
        if message.kind == "Email":
            payload.update(
                contentType="text/html",
                emailMessageId=message.email_message_id,
                threadId=message.email_message_id,
                subject=message.subject,
                to=list(message.email_to),
                cc=list(message.cc),
                bcc=list(message.bcc),
            )
            payload["from"] = message.email_from
        else:
            payload["contentType"] = "text/plain"
        self._emit(payload)

    def _emit(self, event: dict[str, Any]) -> None:
        """Add the envelope (location, app, timestamp, webhookId), sign the exact bytes, queue them."""
        payload = {
            **event,
            "locationId": self.location_id,
            "appId": self.app_id,
            "versionId": self.version_id,
            "timestamp": iso_from_ms(int(self.clock.now() * 1000)),
            "webhookId": str(uuid.uuid4()),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", **self.signer.headers(body)}
        self.webhooks.emit(event["type"], body, headers)

"""The Instantly API v2 sandbox: one workspace with an active outreach campaign, Instantly's bearer
auth, error envelope, 402 plan gate, workspace-wide limits (no rate headers) and webhooks.

Wire details follow ``vendor-apis/README.md`` section 2; every UNCONFIRMED point is a field of
:class:`~sync_pipeline.sandbox.instantly.config.InstantlyConfig`. Emails go out two ways, as in
Instantly: a lead added to an active campaign gets the campaign's step (sent at once here), and
``POST /api/v2/emails/reply`` answers a thread. Both count in ``emails_accepted``; repeats (same
``sync_pipeline_key`` variable, or same recipient, subject and body) count as duplicate sends.
Webhooks (``email_sent``, ``email_bounced``, ``reply_received``) go to the core's webhook target,
unsigned (DOC: Instantly has no signature), with the subscription's custom token header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.sandbox.admin import admin_endpoint, json_object
from sync_pipeline.sandbox.config import SandboxConfigError, refuse_fixed
from sync_pipeline.sandbox.instantly.config import InstantlyConfig
from sync_pipeline.sandbox.instantly.errors import found, instantly_error
from sync_pipeline.sandbox.instantly.routes_emails import email_routes
from sync_pipeline.sandbox.instantly.routes_leads import lead_routes
from sync_pipeline.sandbox.instantly.workspace import (
    LEAD_FIELDS,
    STATUS_BOUNCED,
    UE_CAMPAIGN,
    UE_RECEIVED,
    UE_SENT,
    Workspace,
    page,
    render,
)
from sync_pipeline.sandbox.rate_headers import retry_after_headers
from sync_pipeline.sandbox.ratelimit import RateDecision, RateLimiter, RateWindow
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox


class InstantlySandbox(VendorSandbox):
    """Instantly v2 for one seeded workspace; ``workspace`` holds campaigns, leads and emails."""

    name = "instantly"
    config_type = InstantlyConfig
    config: InstantlyConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        self.workspace = Workspace(options.seed, self.clock, self.config)
        self.list_emails_limiter = RateLimiter(self._list_emails_windows(), self.clock)

    # ---- VendorSandbox contract ---------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [*lead_routes(self), *email_routes(self)]

    def admin_routes(self) -> Sequence[BaseRoute]:
        return [Route("/_sandbox/replies", admin_endpoint(self._inbound_reply), methods=["POST"])]

    def rate_windows(self) -> Sequence[RateWindow]:
        return self.config.rate_windows

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        """DOC: Instantly sends no rate-limit headers."""
        return {}

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """SPEC 429 body; Retry-After only on injected bursts (DOC: only OAuth-init endpoints send it)."""
        return instantly_error(429, "Rate limit exceeded", retry_after_headers(retry_after_s))

    def server_error_response(self, status: int) -> Response:
        return instantly_error(status, "Internal server error")

    def not_found_response(self, method: str, path: str) -> Response:
        """Fastify's answer to an unknown route."""
        return instantly_error(404, f"Route {method}:{path} not found")

    def guard(self, connection: HTTPConnection) -> Response | None:
        header = connection.headers.get("authorization")
        if not header:
            return instantly_error(401, "Missing Authorization header")
        if header != f"Bearer {self.config.api_key}":
            return instantly_error(401, self.config.invalid_key_message)
        if not self.config.plan_active:
            return instantly_error(402, "Your workspace does not have an active paid plan")
        return None

    def credentials(self) -> dict[str, str]:
        return {
            "api_key": self.config.api_key,
            "workspace_id": self.workspace.organization,
            "campaign_id": self.workspace.primary_campaign["id"],
            "eaccount": self.config.sender_accounts[0],
            "webhook_token_header": self.config.webhook_token_header,
            "webhook_token": self.config.webhook_token,
        }

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "INSTANTLY_BASE_URL": base_url,
            "INSTANTLY_API_KEY": self.config.api_key,
            "INSTANTLY_CAMPAIGN_ID": self.workspace.primary_campaign["id"],
            "INSTANTLY_EACCOUNT": self.config.sender_accounts[0],
            "INSTANTLY_WEBHOOK_TOKEN": self.config.webhook_token,
        }

    def reset_data(self) -> None:
        self.workspace.reset(self.config)
        self.list_emails_limiter.configure(self._list_emails_windows())

    def configure(self, changes: Mapping[str, Any]) -> InstantlyConfig:
        refuse_fixed(changes, {"api_key", "sender_accounts", "rate_windows", "campaign_name", "draft_campaigns"})
        config = super().configure(changes)
        self.list_emails_limiter.configure(self._list_emails_windows())
        return config

    def _list_emails_windows(self) -> tuple[RateWindow, ...]:
        return (RateWindow("list_emails", self.config.list_emails_per_minute, 60.0),)

    # ---- operations ---------------------------------------------------------------------------

    def campaign_or_404(self, campaign_id: str) -> dict[str, Any]:
        return found(self.workspace.campaigns.get(campaign_id), "Campaign")

    def page_response(
        self, records: list[dict[str, Any]], starting_after: str | None, limit: int, *, descending: bool = False
    ) -> JSONResponse:
        """Instantly's cursor page of ``records`` (with a cursor on the last page while the config says so)."""
        return JSONResponse(
            page(records, starting_after, limit, descending=descending, cursor_always=self.config.cursor_on_last_page)
        )

    def add_lead(
        self,
        campaign_id: str | None,
        fields: Mapping[str, Any],
        *,
        skip_if_in_campaign: bool,
        skip_if_in_workspace: bool,
    ) -> tuple[str, dict[str, Any]]:
        """``("created" | "skipped" | "duplicated", lead)``; a new lead in an active campaign is sent to."""
        email = fields.get("email")
        with self.workspace.lock:
            existing = None
            if isinstance(email, str):
                in_workspace = self.workspace.lead_in(None, email)
                existing = self.workspace.lead_in(campaign_id, email) if campaign_id else None
                if skip_if_in_workspace and in_workspace is not None:
                    return "skipped", dict(in_workspace)
                if skip_if_in_campaign and existing is not None:
                    return "skipped", dict(existing)
            if existing is not None:
                updated = self.workspace.update_lead(existing["id"], lambda lead: _merge(lead, fields))
                return "duplicated", updated
            lead = self.workspace.create_lead(campaign_id, fields)
        campaign = self.workspace.campaigns.get(campaign_id or "")
        if campaign is not None and campaign["status"] == 1:
            self._send_step(campaign, lead)
        return "created", dict(self.workspace.leads[lead["id"]])

    def _send_step(self, campaign: Mapping[str, Any], lead: Mapping[str, Any]) -> None:
        """The campaign's first step, rendered for the lead, goes out from its first sender account."""
        variant = campaign["sequences"][0]["steps"][0]["variants"][0]
        eaccount = campaign["email_list"][0]
        email = self.workspace.add_email(
            ue_type=UE_CAMPAIGN,
            eaccount=eaccount,
            sender=eaccount,
            to=lead["email"],
            subject=render(variant["subject"], lead),
            html=render(variant["body"], lead),
            text=None,
            lead=lead,
            campaign_id=campaign["id"],
            step="1",
        )
        marker = (lead.get("payload") or {}).get(self.config.idempotency_variable)
        self._accepted(email, marker=str(marker) if marker is not None else None)
        bounced = lead["email"].lower().startswith(self.config.bounce_prefix)
        self.workspace.update_lead(
            lead["id"],
            lambda row: row.update(
                timestamp_last_contact=email["timestamp_email"],
                status=STATUS_BOUNCED if bounced else row["status"],
                status_summary={"lastStep": {"stepID": "1", "timestamp_executed": email["timestamp_email"]}},
            ),
        )
        self._emit("email_sent", campaign, email, step=1)
        if bounced:
            self._emit("email_bounced", campaign, email, step=1)

    def send_reply(
        self, original: Mapping[str, Any], eaccount: str, subject: str, content: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Answer the thread of ``original`` from ``eaccount``."""
        to = original["from_address_email"] if original["ue_type"] == UE_RECEIVED else original["to_address_email_list"]
        lead = self.workspace.leads.get(original["lead_id"] or "")
        email = self.workspace.add_email(
            ue_type=UE_SENT,
            eaccount=eaccount,
            sender=eaccount,
            to=to,
            subject=subject,
            html=content.get("html") or content.get("text") or "",
            text=content.get("text"),
            lead=lead,
            campaign_id=original["campaign_id"],
            thread_id=original["thread_id"],
        )
        self._accepted(email, marker=None)
        campaign = self.workspace.campaigns.get(original["campaign_id"] or "")
        self._emit("email_sent", campaign, email, step=None)
        return email

    def _accepted(self, email: Mapping[str, Any], marker: str | None) -> None:
        reason = self.duplicates.observe(
            marker=marker,
            recipient=email["to_address_email_list"],
            subject=email["subject"],
            body=email["body"]["html"],
        )
        self.stats.record_send(reason)

    # ---- webhooks and the inbound side --------------------------------------------------------

    async def _inbound_reply(self, request: Request) -> Response:
        """``POST /_sandbox/replies {"lead_email", "text"}``: the lead answers their latest email."""
        body = await json_object(request)
        lead_email = str(body.get("lead_email") or "").lower()
        with self.workspace.lock:
            sent = [e for e in self.workspace.emails.values() if (e["lead"] or "").lower() == lead_email]
        if not sent:
            raise SandboxConfigError(f"no email was sent to {lead_email!r} yet")
        latest = max(sent, key=lambda e: e["id"])
        text = str(body.get("text") or "Sounds good, tell me more.")
        email = self.workspace.add_email(
            ue_type=UE_RECEIVED,
            eaccount=latest["eaccount"],
            sender=lead_email,
            to=latest["eaccount"],
            subject=f"Re: {latest['subject']}",
            html=f"<p>{text}</p>",
            text=text,
            lead=self.workspace.leads.get(latest["lead_id"] or ""),
            campaign_id=latest["campaign_id"],
            thread_id=latest["thread_id"],
        )
        if latest["lead_id"] in self.workspace.leads:
            self.workspace.update_lead(
                latest["lead_id"],
                lambda row: row.update(
                    email_reply_count=row["email_reply_count"] + 1, timestamp_last_reply=email["timestamp_email"]
                ),
            )
        campaign = self.workspace.campaigns.get(latest["campaign_id"] or "")
        self._emit("reply_received", campaign, latest, step=1, reply=email)
        return JSONResponse(email)

    def _emit(
        self,
        event: str,
        campaign: Mapping[str, Any] | None,
        email: Mapping[str, Any],
        *,
        step: int | None,
        reply: Mapping[str, Any] | None = None,
    ) -> None:
        """DOC payload: base fields, then the event's own; ``email_id`` is the id to reply to."""
        payload: dict[str, Any] = {
            "timestamp": self.workspace.now_iso(),
            "event_type": event,
            "workspace": self.workspace.organization,
            "campaign_id": campaign["id"] if campaign else None,
            "campaign_name": campaign["name"] if campaign else None,
            "lead_email": email["lead"],
            "email_account": email["eaccount"],
            "email_id": (reply or email)["id"],
            "email_subject": email["subject"],
            "email_text": email["body"]["text"],
            "email_html": email["body"]["html"],
        }
        if step is not None:
            payload.update(step=step, variant=1, is_first=step == 1)
        if reply is not None:
            payload.update(
                unibox_url=f"https://app.instantly.ai/app/unibox?thread_search=thread:{reply['thread_id']}",
                reply_text_snippet=reply["body"]["text"][:100],
                reply_subject=reply["subject"],
                reply_text=reply["body"]["text"],
                reply_html=reply["body"]["html"],
            )
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", self.config.webhook_token_header: self.config.webhook_token}
        self.webhooks.emit(event, body, headers)


def _merge(lead: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """A re-added lead: given fields and custom variables overwrite the stored ones."""
    for name in LEAD_FIELDS:
        if fields.get(name) is not None:
            lead[name] = fields[name]
    lead["payload"] = {**(lead.get("payload") or {}), **(fields.get("custom_variables") or {})}

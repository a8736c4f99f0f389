"""Settings of the Instantly sandbox, with the choice made for every point the reference leaves open
(``vendor-apis/README.md`` section 2)."""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.sandbox.ratelimit import RateWindow


@dataclass(frozen=True)
class InstantlyConfig:
    """Instantly sandbox settings; change them at run time with ``POST /_sandbox/config`` (except the
    key, the accounts and the rate windows — those via ``POST /_sandbox/rate-limits``)."""

    api_key: str = "sandbox-instantly-key"
    # DOC: 402 on every operation when the workspace has no active paid plan.
    plan_active: bool = True
    # DOC: workspace-wide 100/s and 6,000/min, shared by every key; no rate headers.
    rate_windows: tuple[RateWindow, ...] = (
        RateWindow("second", 100, 1.0, rolling=True),
        RateWindow("minute", 6_000, 60.0, rolling=True),
    )
    # DOC: GET /api/v2/emails allows 20 requests per minute.
    list_emails_per_minute: int = 20
    # DOC: "a last page can still return a cursor" — on: every non-empty page carries one.
    cursor_on_last_page: bool = True
    # Sender accounts connected to the workspace (``eaccount`` values).
    sender_accounts: tuple[str, ...] = ("outreach@sandbox-sender.example",)
    # The seeded campaign agents' emails go through: active, one step whose subject and body are the
    # lead's {{subject}} / {{body}} custom variables. More seeded drafts exercise list paging.
    campaign_name: str = "Agent outreach"
    draft_campaigns: int = 3
    # The sandbox does not wait for the campaign schedule: adding a lead to an active campaign sends
    # step 1 at once (the real Instantly sends within the schedule's hours).
    # Recipients whose local part starts with this bounce (lead status -1, email_bounced webhook).
    bounce_prefix: str = "bounce"
    # Instantly ignores unknown custom variables; the sandbox reads this one to count duplicate sends.
    idempotency_variable: str = "sync_pipeline_key"
    # DOC: no webhook signature; the only delivery auth is the subscription's custom headers. The
    # sandbox's subscription sends this header (UNCONFIRMED name: the subscriber picks it).
    webhook_token_header: str = "X-Webhook-Token"
    webhook_token: str = "sandbox-instantly-webhook-token"
    # UNCONFIRMED: 401 message for a key that is present but wrong (missing: "Missing Authorization header").
    invalid_key_message: str = "Invalid API key"

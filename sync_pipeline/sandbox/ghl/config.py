"""Settings of the GHL sandbox, including its answer to every point the vendor reference leaves open.

Each field marked UNCONFIRMED is a choice (the reference, ``vendor-apis/README.md`` section 1,
found no source); the default is the sandbox's best guess and a test can flip it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_pipeline.sandbox.ratelimit import RateWindow

API_VERSION = "2021-07-28"
CONVERSATIONS_API_VERSION = "2021-04-15"


@dataclass(frozen=True)
class GhlConfig:
    """GHL sandbox settings. Change them at run time with ``POST /_sandbox/config`` (except the
    key material, location id and seed layout, read once at start)."""

    api_key: str = "sandbox-ghl-key"
    # Default: a 20-character id derived from the seed.
    location_id: str | None = None

    # DOC: 100 requests / 10 s (rolling) and 200,000 / day per app per location. UNCONFIRMED: whether
    # the day is rolling or resets at UTC midnight (default: UTC midnight, i.e. a fixed window).
    rate_windows: tuple[RateWindow, ...] = (
        RateWindow("burst", 100, 10.0, rolling=True),
        RateWindow("daily", 200_000, 86_400.0, rolling=False),
    )
    # UNCONFIRMED: whether GHL sends Retry-After on its own 429s. Default off, so clients must pace
    # themselves from the X-RateLimit-* headers. (Injected 429 bursts always carry Retry-After.)
    retry_after_on_429: bool = False

    # SPEC enums: 2021-07-28 on contacts, 2021-04-15 on conversations; both accepted everywhere
    # (UNCONFIRMED whether GHL rejects the "other" date). Missing header: UNCONFIRMED, answered 400
    # "Version header was not found"; an unknown value: 400 as well.
    accepted_versions: tuple[str, ...] = (API_VERSION, CONVERSATIONS_API_VERSION)
    missing_version_status: int = 400

    # 3P: an unknown contact id answers 400 "Contact with id X not found" (status UNCONFIRMED; the
    # v3 spec has a 404 DTO). Also used for unknown message ids.
    unknown_id_status: int = 400

    # DOC: "updates may take a few seconds to appear in search results". 0 = indexed at once.
    search_index_lag_s: float = 0.0
    search_page_limit_max: int = 500
    search_page_window: int = 10_000
    # UNCONFIRMED: the default order of /contacts/search without "sort".
    default_sort_field: str = "dateUpdated"
    default_sort_direction: str = "desc"
    # UNCONFIRMED: the spec example is [1234, "id"] (a number) while its schema says string items.
    # "number" follows the example; "string" follows the schema. Both are accepted back.
    search_after_timestamp_type: str = "number"

    # Location setting "Allow Duplicate Contact" (off: POST /contacts/ with a known email is a 400).
    allow_duplicate_contacts: bool = False
    legacy_list_limit_max: int = 100
    # Tag endpoints fire ContactTagUpdate in GHL; set "ContactUpdate" to model a receiver that only
    # subscribes to that.
    tag_event: str = "ContactTagUpdate"

    # OBS (highlevel-api-docs #54): GET /conversations/{id}/messages nests the page under "messages";
    # False answers the spec's flat shape.
    nested_message_list: bool = True
    # Seconds after which a sent email reads back as "delivered" (answers say "pending" until then).
    email_delivery_delay_s: float = 0.0
    # UNCONFIRMED: whether GHL keeps HTML comments in a sent email's stored body (False strips them,
    # as an HTML sanitizer would).
    keeps_html_comments: bool = True
    # GHL sends no idempotency header; the sandbox reads this one to count duplicate sends (the real
    # API ignores unknown headers, so clients may send it either way). Not used to deduplicate.
    idempotency_header: str = "X-Idempotency-Key"

    # Webhook signing: Ed25519 over the raw body in x-ghl-signature (current); RSA-SHA256 in
    # x-wh-signature (legacy, deprecated 2026-07-01) only when asked. Keys default to ones derived
    # from the seed (RSA: generated at start); PEM private keys override.
    webhook_ed25519_private_key_pem: str | None = None
    webhook_rsa_signature: bool = False
    webhook_rsa_private_key_pem: str | None = None

    # Seeded contacts: dateUpdated spread over the span_days before seed_until (fixed, so a seed
    # always yields the same data).
    seed_until: str = "2025-06-01T00:00:00.000Z"
    seed_span_days: int = 730

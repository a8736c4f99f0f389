"""Every setting of sync_pipeline, read once from the environment and validated.

Why one module: agents, Dagster code locations, the webhook receiver and the CLI all run in
different processes; reading the environment in one place keeps them consistent, and a bad
value fails at start-up with a message saying which variable to set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path

REAL_BASE_URLS = {
    "ghl": "https://services.leadconnectorhq.com",
    "instantly": "https://api.instantly.ai",
    "clay": "https://api.clay.com/public/v0",
    "hubspot": "https://api.hubapi.com",
    "pdl": "https://api.peopledatalabs.com",
}

CRM_PROVIDERS = ("ghl", "hubspot")
EMAIL_PROVIDERS = ("ghl", "instantly")
ENRICHMENT_PROVIDERS = ("clay", "pdl")

# GHL's published Ed25519 webhook key (SPKI, base64); see shared vendor reference, section 1.7.
# Dollars per enrichment credit, for the cost ledger. Clay (plans-and-billing): data credits cost "a few
# cents each", exact figure UNCONFIRMED. PDL: roughly $0.10-0.28 per matched record depending on plan
# and volume (UNCONFIRMED); the low end is taken.
CLAY_USD_PER_CREDIT = 0.05
# DuckDB's cache per process. At 1,000,000 contacts a sync peaks at 440 MiB of RSS with 256MB (the
# interpreter and imports included) and 676 MiB with 512MB, at the same speed; agent reads stay at
# 2-3 ms p50 (bench_scaling). The indexes agent reads use load lazily (55 MB after 200 reads at 1M).
DUCKDB_MEMORY_LIMIT = "256MB"
# How stale local contacts may get (the ghl_contacts freshness policy, its sensor and its check).
CONTACTS_FRESHNESS_MINUTES = 15
_MEMORY_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$", re.IGNORECASE)
PDL_USD_PER_CREDIT = 0.10
# Tool calls per MCP client per minute: a few per second, far above what one agent's reasoning loop
# makes, low enough that a runaway loop cannot monopolize the store.
MCP_RATE_LIMIT_PER_MINUTE = 120
MCP_TOKEN_MIN_CHARS = 16
GHL_PUBLISHED_WEBHOOK_KEY = "MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg="


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable to fix."""


class Secret:
    """A credential that never shows itself in repr, str, logs or Dagster metadata.

    Call :meth:`reveal` only at the point where the value goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


def default_db_url() -> str:
    """The embedded default: a DuckDB file under ``.sync_pipeline/`` in the working directory."""
    return f"duckdb:///{(Path.cwd() / '.sync_pipeline' / 'sync_pipeline.duckdb').as_posix()}"


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Build with :meth:`from_env`; never mutate."""

    db_url: str = field(default_factory=default_db_url)
    test_pg_url: str = "postgresql://postgres@127.0.0.1:5432/test"
    db_lock_timeout_s: float = 30.0
    # DuckDB caches the file's pages up to this (its own default is 80 % of RAM, in every process
    # that opens the file); beyond it, large sorts and joins spill to disk.
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT

    crm_provider: str = "ghl"
    email_provider: str = "ghl"
    enrichment_provider: str = "clay"

    ghl_base_url: str = REAL_BASE_URLS["ghl"]
    ghl_api_key: Secret = field(default_factory=lambda: Secret(""))
    ghl_location_id: str = ""
    ghl_webhook_public_key: str = GHL_PUBLISHED_WEBHOOK_KEY
    ghl_webhook_legacy_rsa_key: str = ""  # PEM; empty = legacy x-wh-signature not accepted
    hubspot_base_url: str = REAL_BASE_URLS["hubspot"]
    hubspot_token: Secret = field(default_factory=lambda: Secret(""))
    hubspot_portal_id: str = ""  # the portal (hub) id: its own rate-limit bucket, and contacts' location_id
    instantly_base_url: str = REAL_BASE_URLS["instantly"]
    instantly_api_key: Secret = field(default_factory=lambda: Secret(""))
    instantly_campaign_id: str = ""  # an active campaign whose one step is {{subject}} / {{body}}
    instantly_eaccount: str = ""  # sender account for replies in a thread
    clay_base_url: str = REAL_BASE_URLS["clay"]
    clay_api_key: Secret = field(default_factory=lambda: Secret(""))
    clay_person_routine_id: str = ""
    clay_company_routine_id: str = ""
    clay_usd_per_credit: float = CLAY_USD_PER_CREDIT
    clay_max_wait_s: float = 120.0
    pdl_base_url: str = REAL_BASE_URLS["pdl"]
    pdl_api_key: Secret = field(default_factory=lambda: Secret(""))
    pdl_usd_per_credit: float = PDL_USD_PER_CREDIT
    rb2b_webhook_token: Secret = field(default_factory=lambda: Secret(""))
    rb2b_create_contacts: bool = False  # queue unmatched RB2B visitors with a business email as CRM contacts
    instantly_webhook_token: Secret = field(default_factory=lambda: Secret(""))
    webhook_max_age_s: int = 300

    enrichment_ttl_days: int = 30
    enrichment_not_found_ttl_days: int = 7  # a "no match" answer is asked again after this
    enrichment_daily_budget_usd: float | None = None  # paid lookups stop for the UTC day past it; None = no budget
    contacts_freshness_minutes: int = CONTACTS_FRESHNESS_MINUTES

    # MCP server (`sync-pipeline mcp` / `serve`): the bearer token /mcp asks for (required to serve
    # beyond loopback), and how many tool calls one client (HTTP session, or the stdio process) may
    # make in any minute.
    mcp_token: Secret = field(default_factory=lambda: Secret(""))
    mcp_rate_limit_per_minute: int = MCP_RATE_LIMIT_PER_MINUTE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise :class:`SettingsError` naming what to fix."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(_ENV_NAMES[f.name])
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw.strip())
        settings = cls(**values)  # type: ignore[arg-type]
        settings._validate()
        return settings

    def _validate(self) -> None:
        if not (
            self.db_url.startswith("duckdb://")
            or self.db_url.split("://")[0].split("+")[0] in ("postgresql", "postgres")
        ):
            raise SettingsError(
                f"SYNC_PIPELINE_DB must start with duckdb:/// or postgresql://; got {scrub_url(self.db_url)!r}"
            )
        if not _MEMORY_SIZE.match(self.duckdb_memory_limit):
            raise SettingsError(
                "SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT must be a size such as 512MB or 2GB; "
                f"got {self.duckdb_memory_limit!r}"
            )
        token = self.mcp_token.reveal()
        if token and (len(token) < MCP_TOKEN_MIN_CHARS or any(c.isspace() for c in token)):
            raise SettingsError(
                f"MCP_TOKEN must be at least {MCP_TOKEN_MIN_CHARS} characters without spaces; generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        for name, allowed in (
            ("crm_provider", CRM_PROVIDERS),
            ("email_provider", EMAIL_PROVIDERS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise SettingsError(f"{_ENV_NAMES[name]} must be one of {', '.join(allowed)}; got {value!r}")
        chain = self.enrichment_providers
        if not chain or len(set(chain)) != len(chain) or any(p not in ENRICHMENT_PROVIDERS for p in chain):
            raise SettingsError(
                f"ENRICHMENT_PROVIDER must be one of {', '.join(ENRICHMENT_PROVIDERS)}, or several in the order "
                f"to ask them (e.g. clay,pdl); got {self.enrichment_provider!r}"
            )

    @property
    def enrichment_providers(self) -> tuple[str, ...]:
        """``ENRICHMENT_PROVIDER`` as a waterfall: the enrichers in the order asked, the next one only
        when the previous found nothing (one name = no waterfall)."""
        return tuple(name.strip() for name in self.enrichment_provider.split(",") if name.strip())

    @property
    def crm_account(self) -> str:
        """The CRM account the store mirrors: the GHL location or the HubSpot portal ("" if unset).

        Contacts, sync positions and reads are kept per account, so pointing a store at another
        location never mixes its rows with the first one's.
        """
        return self.ghl_location_id if self.crm_provider == "ghl" else self.hubspot_portal_id

    def __repr__(self) -> str:
        return f"Settings({self.redacted()})"

    def redacted(self) -> dict[str, str]:
        """Every setting as text with secrets masked, for `sync-pipeline status` and the UI."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                out[_ENV_NAMES[f.name]] = "set" if value else "not set"
            elif f.name.endswith("url"):
                out[_ENV_NAMES[f.name]] = scrub_url(str(value))
            else:
                out[_ENV_NAMES[f.name]] = str(value)
        return out


_ENV_NAMES = {
    "db_url": "SYNC_PIPELINE_DB",
    "test_pg_url": "SYNC_PIPELINE_TEST_PG",
    "db_lock_timeout_s": "SYNC_PIPELINE_DB_LOCK_TIMEOUT",
    "duckdb_memory_limit": "SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT",
    "crm_provider": "CRM_PROVIDER",
    "email_provider": "EMAIL_PROVIDER",
    "enrichment_provider": "ENRICHMENT_PROVIDER",
    "ghl_base_url": "GHL_BASE_URL",
    "ghl_api_key": "GHL_API_KEY",
    "ghl_location_id": "GHL_LOCATION_ID",
    "ghl_webhook_public_key": "GHL_WEBHOOK_PUBLIC_KEY",
    "ghl_webhook_legacy_rsa_key": "GHL_WEBHOOK_LEGACY_RSA_KEY",
    "hubspot_base_url": "HUBSPOT_BASE_URL",
    "hubspot_token": "HUBSPOT_TOKEN",
    "hubspot_portal_id": "HUBSPOT_PORTAL_ID",
    "instantly_base_url": "INSTANTLY_BASE_URL",
    "instantly_api_key": "INSTANTLY_API_KEY",
    "instantly_campaign_id": "INSTANTLY_CAMPAIGN_ID",
    "instantly_eaccount": "INSTANTLY_EACCOUNT",
    "clay_base_url": "CLAY_BASE_URL",
    "clay_api_key": "CLAY_API_KEY",
    "clay_person_routine_id": "CLAY_PERSON_ROUTINE_ID",
    "clay_company_routine_id": "CLAY_COMPANY_ROUTINE_ID",
    "clay_usd_per_credit": "CLAY_USD_PER_CREDIT",
    "clay_max_wait_s": "CLAY_MAX_WAIT_SECONDS",
    "pdl_base_url": "PDL_BASE_URL",
    "pdl_api_key": "PDL_API_KEY",
    "pdl_usd_per_credit": "PDL_USD_PER_CREDIT",
    "rb2b_webhook_token": "RB2B_WEBHOOK_TOKEN",
    "rb2b_create_contacts": "RB2B_CREATE_CONTACTS",
    "instantly_webhook_token": "INSTANTLY_WEBHOOK_TOKEN",
    "webhook_max_age_s": "WEBHOOK_MAX_AGE_SECONDS",
    "enrichment_ttl_days": "ENRICHMENT_TTL_DAYS",
    "enrichment_not_found_ttl_days": "ENRICHMENT_NOT_FOUND_TTL_DAYS",
    "enrichment_daily_budget_usd": "ENRICHMENT_DAILY_BUDGET_USD",
    "contacts_freshness_minutes": "CONTACTS_FRESHNESS_MINUTES",
    "mcp_token": "MCP_TOKEN",
    "mcp_rate_limit_per_minute": "MCP_RATE_LIMIT_PER_MINUTE",
}


def require(settings: Settings, name: str, purpose: str) -> str:
    """A text setting that one provider needs; :class:`SettingsError` naming it when unset."""
    value = getattr(settings, name)
    if not value:
        raise SettingsError(f"{_ENV_NAMES[name]} is not set; {purpose}")
    return str(value)


def env_name(setting: str) -> str:
    """The environment variable behind a Settings field, for error messages elsewhere."""
    return _ENV_NAMES[setting]


def _parse(name: str, raw: str) -> object:
    annotation = Settings.__dataclass_fields__[name].type
    if annotation == "bool":
        if raw.lower() not in ("true", "false"):
            raise SettingsError(f"{_ENV_NAMES[name]} must be true or false; got {raw!r}")
        return raw.lower() == "true"
    try:
        if annotation == "Secret":
            return Secret(raw)
        if annotation == "int":
            value: object = int(raw)
            if value <= 0:  # type: ignore[operator]
                raise ValueError
            return value
        if annotation in ("float", "float | None"):
            value = float(raw)
            if value <= 0:  # type: ignore[operator]
                raise ValueError
            return value
    except ValueError:
        raise SettingsError(f"{_ENV_NAMES[name]} must be a positive number; got {raw!r}") from None
    if name.endswith("provider"):
        return raw.lower()
    if name.endswith("base_url"):
        if not raw.startswith(("http://", "https://")):
            raise SettingsError(f"{_ENV_NAMES[name]} must be an http(s) URL; got {raw!r}")
        return raw.rstrip("/")
    return raw


def scrub_url(url: str) -> str:
    """Drop a password from a URL such as postgresql://user:pw@host/db."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}" if ":" in creds else url


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Run with ``values`` in the environment and settings read afresh; both restored on exit
    (the demo and ``make dev`` point every setting at the sandbox this way)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read on first use (never at import)."""
    return Settings.from_env()

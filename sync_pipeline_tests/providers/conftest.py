"""Provider harnesses: each vendor's provider built through the registry against its sandbox, plus
what a provider-neutral test needs to know about that sandbox.

``CRM_HARNESSES`` and ``EMAIL_PROVIDER_FACTORIES`` map a provider name to a factory; the contract
suites run every entry identically. To add an email provider, add ``"name": factory`` to
``EMAIL_PROVIDER_FACTORIES`` where ``factory(store)`` is a context manager yielding an
:class:`EmailHarness` (start the vendor's sandbox inside it, stop it on exit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from sync_pipeline.providers import ghl_api, hubspot_api, registry
from sync_pipeline.providers.base import CRMProvider, EmailProvider
from sync_pipeline.records import Contact, OutboundEmail
from sync_pipeline.sandbox import start_sandbox
from sync_pipeline.sandbox.ghl.config import GhlConfig
from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox
from sync_pipeline.sandbox.hubspot.config import HubSpotConfig
from sync_pipeline.sandbox.hubspot.records import ID_BASE
from sync_pipeline.sandbox.hubspot.sandbox import HubSpotSandbox
from sync_pipeline.sandbox.ratelimit import RateWindow
from sync_pipeline.settings import Settings
from sync_pipeline.store import Store
from sync_pipeline.transport import GHL_PROFILE, HUBSPOT_PROFILE, Window
from sync_pipeline_tests.sandbox_fixtures import sandbox_admin

# What the contract compares: the fields every CRM fills, tags order-insensitive.
Comparable = tuple[str | None, str | None, str | None, str | None, str | None, frozenset[str], str]


def comparable(contact: Contact) -> Comparable:
    """A contact's synced fields, in the form the sandbox expectations use."""
    assert contact.date_updated is not None
    return (
        contact.email,
        contact.first_name,
        contact.last_name,
        contact.phone,
        contact.company_name,
        frozenset(contact.tags),
        contact.date_updated.isoformat(timespec="milliseconds"),
    )


@dataclass
class CrmHarness:
    """One CRM provider on its sandbox. ``expected()`` reads every live contact from the sandbox's
    own state; ``settings`` points at the sandbox (tests derive bad-credential settings from it)."""

    name: str
    provider: CRMProvider
    settings: Settings
    credential_setting: str
    unknown_id: str
    expected: Callable[[], dict[str, Comparable]]
    url: str

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return sandbox_admin(self.url, path, body)


def _iso(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat(timespec="milliseconds")


def _ghl_expected(state: GhlSandbox) -> dict[str, Comparable]:
    records, _ = state.book.overlay(None)
    seeded = state.book.seeded
    out = {}
    for record in [*(state.book.get(seeded.id_of(i)) for i in range(seeded.count)), *records]:
        if record is None:
            continue
        out[record["id"]] = (
            record.get("emailLowerCase"),
            record.get("firstName"),
            record.get("lastName"),
            record.get("phone"),
            record.get("companyName"),
            frozenset(record.get("tags") or ()),
            _iso(record["dateUpdated"]),
        )
    return out


def _hubspot_expected(state: HubSpotSandbox) -> dict[str, Comparable]:
    records, _ = state.store.overlay()
    out = {}
    for record in [*(state.store.get(str(ID_BASE + i)) for i in range(state.store.seeded.count)), *records]:
        if record is None:
            continue
        p = record["properties"]
        out[record["id"]] = (
            (p.get("email") or "").lower() or None,
            p.get("firstname"),
            p.get("lastname"),
            p.get("phone"),
            p.get("company"),
            frozenset(t for t in (p.get(state.config.tags_property) or "").split(";") if t),
            _iso(record["updatedAt"]),
        )
    return out


# Limits for the tests that page through thousands of contacts: both sides raised together, so the
# client never waits and the sandbox never refuses (the real limits are exercised elsewhere).
FAST_CLIENT_WINDOWS = (Window("burst", 10_000, 1.0),)
FAST_SANDBOX_WINDOWS = (RateWindow("burst", 10_000, 1.0),)


def use_fast_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make providers built afterwards pace at 10,000 per second instead of the vendors' limits."""
    monkeypatch.setattr(ghl_api, "GHL_PROFILE", dataclasses.replace(GHL_PROFILE, windows=FAST_CLIENT_WINDOWS))
    monkeypatch.setattr(
        hubspot_api, "HUBSPOT_PROFILE", dataclasses.replace(HUBSPOT_PROFILE, windows=FAST_CLIENT_WINDOWS)
    )
    monkeypatch.setattr(hubspot_api, "SEARCH_WINDOWS", FAST_CLIENT_WINDOWS)


def _start_ghl(store: Store, contacts: int, fast: bool) -> tuple[CrmHarness, Callable[[], None]]:
    config = GhlConfig(rate_windows=FAST_SANDBOX_WINDOWS) if fast else None
    running = start_sandbox(("ghl",), contacts=contacts, vendor_configs={"ghl": config} if config else None)
    settings = Settings.from_env({**running.env, "CRM_PROVIDER": "ghl", "EMAIL_PROVIDER": "ghl"})
    state = running.state("ghl")
    assert isinstance(state, GhlSandbox)
    harness = CrmHarness(
        "ghl",
        registry.crm_provider(settings, store),
        settings,
        "GHL_API_KEY",
        "Zz9Zz9Zz9Zz9Zz9Zz9Zz",
        lambda: _ghl_expected(state),
        running.urls["ghl"],
    )
    return harness, running.stop


def _start_hubspot(store: Store, contacts: int, fast: bool) -> tuple[CrmHarness, Callable[[], None]]:
    config = HubSpotConfig(rate_windows=FAST_SANDBOX_WINDOWS, search_per_second=10_000) if fast else None
    running = start_sandbox(("hubspot",), contacts=contacts, vendor_configs={"hubspot": config} if config else None)
    settings = Settings.from_env({**running.env, "CRM_PROVIDER": "hubspot"})
    state = running.state("hubspot")
    assert isinstance(state, HubSpotSandbox)
    harness = CrmHarness(
        "hubspot",
        registry.crm_provider(settings, store),
        settings,
        "HUBSPOT_TOKEN",
        "999999999",
        lambda: _hubspot_expected(state),
        running.urls["hubspot"],
    )
    return harness, running.stop


CRM_HARNESSES: dict[str, Callable[[Store, int, bool], tuple[CrmHarness, Callable[[], None]]]] = {
    "ghl": _start_ghl,
    "hubspot": _start_hubspot,
}
CrmFactory = Callable[..., CrmHarness]


@pytest.fixture(params=sorted(CRM_HARNESSES))
def crm_factory(request: pytest.FixtureRequest, store: Store) -> Iterator[CrmFactory]:
    """``factory(contacts=300, fast=False)`` → a :class:`CrmHarness` for each CRM provider."""
    stops: list[Callable[[], None]] = []
    closers: list[Any] = []

    def factory(contacts: int = 300, fast: bool = False) -> CrmHarness:
        harness, stop = CRM_HARNESSES[request.param](store, contacts, fast)
        stops.append(stop)
        closers.append(harness.provider)
        return harness

    yield factory
    for provider in closers:
        provider.close()  # type: ignore[attr-defined]
    for stop in stops:
        stop()


@pytest.fixture
def crm(crm_factory: CrmFactory) -> CrmHarness:
    """Each CRM provider on a sandbox of 300 contacts with the vendor's real limits."""
    return crm_factory()


# ---- email --------------------------------------------------------------------------------------


@dataclass
class EmailHarness:
    """One email provider on its sandbox.

    ``deliverable()`` builds an email the vendor accepts (each call a new one), ``rejected`` one it
    refuses permanently, with ``rejection_text`` a phrase of the vendor's own message. ``stats()``
    is the sandbox's ``GET /_sandbox/stats``; ``faults(...)`` posts ``/_sandbox/faults``.
    """

    provider: EmailProvider
    deliverable: Callable[[str], OutboundEmail]
    rejected: OutboundEmail
    rejection_text: str
    url: str

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sandbox/stats").json()

    def faults(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json=settings).raise_for_status()


@contextmanager
def ghl_email_harness(store: Store) -> Iterator[EmailHarness]:
    """GHL email on a 50-contact sandbox; deliverable emails go to seeded contacts by id."""
    with start_sandbox(("ghl",), contacts=50) as running:
        settings = Settings.from_env(running.env)
        state = running.state("ghl")
        assert isinstance(state, GhlSandbox)
        seeded = state.book.seeded

        def deliverable(key: str) -> OutboundEmail:
            i = sum(key.encode()) % seeded.count
            return OutboundEmail(
                idempotency_key=key,
                to_email=seeded.email_of(i),
                subject=f"Quick question ({key})",
                html="<p>Hi there</p>",
                contact_id=seeded.id_of(i),
            )

        provider = registry.email_provider(settings, store, "ghl")
        try:
            yield EmailHarness(
                provider,
                deliverable,
                OutboundEmail(
                    "rejected-1", "nobody@example.com", "Hello", "<p>x</p>", contact_id="Zz9Zz9Zz9Zz9Zz9Zz9Zz"
                ),
                "Contact with id Zz9Zz9Zz9Zz9Zz9Zz9Zz not found",
                running.urls["ghl"],
            )
        finally:
            provider.close()  # type: ignore[attr-defined]


@contextmanager
def instantly_email_harness(store: Store) -> Iterator[EmailHarness]:
    """Instantly email through its sandbox campaign; each deliverable email goes to a new lead."""
    with start_sandbox(("instantly",), contacts=0) as running:
        env = running.env
        provider = registry.email_provider(Settings.from_env(env), store, "instantly")

        def deliverable(key: str) -> OutboundEmail:
            return OutboundEmail(key, f"{key}@prospects.example", f"Quick question ({key})", "<p>Hi there</p>")

        missing_email_id = "019ffad2-0000-7000-8000-000000000000"
        try:
            yield EmailHarness(
                provider,
                deliverable,
                OutboundEmail("rejected-1", "ada@acme.example", "Re: hi", "<p>x</p>", reply_to_ref=missing_email_id),
                "Email to reply to not found",
                running.urls["instantly"],
            )
        finally:
            provider.close()  # type: ignore[attr-defined]


EMAIL_PROVIDER_FACTORIES: dict[str, Callable[[Store], AbstractContextManager[EmailHarness]]] = {
    "ghl": ghl_email_harness,
    "instantly": instantly_email_harness,
}


@pytest.fixture(params=sorted(EMAIL_PROVIDER_FACTORIES))
def email_harness(request: pytest.FixtureRequest, store: Store) -> Iterator[EmailHarness]:
    with EMAIL_PROVIDER_FACTORIES[request.param](store) as harness:
        yield harness

"""The CRM contract, run identically for every CRM provider over real HTTP against its sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.errors import AuthError
from sync_pipeline.providers import registry
from sync_pipeline.providers.base import CRMProvider
from sync_pipeline.records import Contact, ContactChanges
from sync_pipeline.settings import Secret
from sync_pipeline.store import Store

from .conftest import CrmFactory, CrmHarness, comparable, use_fast_limits


def all_changed(crm: CRMProvider, since: datetime | None = None, page_size: int = 100) -> list[Contact]:
    contacts: list[Contact] = []
    cursor = None
    while True:
        page = crm.changed_since(since, cursor, page_size=page_size)
        contacts.extend(page.contacts)
        cursor = page.next_cursor
        if cursor is None:
            return contacts


def all_ids(crm: CRMProvider) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = crm.list_ids(cursor)
        ids.extend(page.ids)
        cursor = page.next_cursor
        if cursor is None:
            return ids


def assert_oldest_first(contacts: list[Contact]) -> None:
    stamps = [c.date_updated for c in contacts]
    assert all(s is not None and s.tzinfo is not None for s in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_full_paging_equals_the_sandbox_contacts(crm: CrmHarness) -> None:
    contacts = all_changed(crm.provider, page_size=120)
    assert len(contacts) == len({c.id for c in contacts}) == 300
    assert {c.id: comparable(c) for c in contacts} == crm.expected()
    assert_oldest_first(contacts)
    assert sorted(all_ids(crm.provider)) == sorted(crm.expected())


def test_changed_since_returns_only_later_changes_oldest_first(crm: CrmHarness) -> None:
    contacts = all_changed(crm.provider, page_size=200)
    since = contacts[250].date_updated
    assert since is not None
    later = all_changed(crm.provider, since, page_size=20)
    assert [c.id for c in later] == [c.id for c in contacts[250:]]
    assert_oldest_first(later)
    assert all_changed(crm.provider, datetime.now(UTC) + timedelta(days=1)) == []


def test_paging_beyond_ten_thousand_contacts(crm_factory: CrmFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_limits(monkeypatch)
    crm = crm_factory(contacts=12_000, fast=True)
    contacts = all_changed(crm.provider, page_size=500)
    assert len(contacts) == len({c.id for c in contacts}) == 12_000
    assert {c.id for c in contacts} == set(crm.expected())
    assert_oldest_first(contacts)


def test_writes_round_trip_and_show_up_in_later_listings(crm: CrmHarness) -> None:
    crm_ = crm.provider
    started = datetime.now(UTC) - timedelta(seconds=1)
    created = crm_.upsert_contact(
        ContactChanges(email="Round.Trip@Example.com", first_name="Round", tags=("alpha", "beta"))
    )
    assert (created.email, created.first_name, set(created.tags)) == (
        "round.trip@example.com",
        "Round",
        {"alpha", "beta"},
    )
    assert crm_.get_contact(created.id) == created or comparable(crm_.get_contact(created.id)) == comparable(created)  # type: ignore[arg-type]

    again = crm_.upsert_contact(ContactChanges(email="round.trip@example.com", last_name="Trip"))
    assert again.id == created.id and again.first_name == "Round" and again.last_name == "Trip"

    updated = crm_.update_contact(created.id, ContactChanges(phone="+15551234567", company_name="Acme Labs"))
    assert (updated.phone, updated.company_name, updated.last_name) == ("+15551234567", "Acme Labs", "Trip")

    crm_.add_tags(created.id, ["gamma"])
    crm_.remove_tags(created.id, ["alpha"])
    fetched = crm_.get_contact(created.id)
    assert fetched is not None and set(fetched.tags) == {"beta", "gamma"}

    changed = all_changed(crm_, started)
    assert [c.id for c in changed] == [created.id]
    assert comparable(changed[0]) == comparable(fetched) == crm.expected()[created.id]

    crm_.delete_contact(created.id)
    crm_.delete_contact(created.id)  # already gone: not an error
    assert crm_.get_contact(created.id) is None
    assert created.id not in all_ids(crm_)
    assert all_changed(crm_, started) == []


def test_unknown_id_is_none(crm: CrmHarness) -> None:
    assert crm.provider.get_contact(crm.unknown_id) is None


def test_bad_credentials_raise_auth_error_naming_the_setting(crm: CrmHarness, store: Store) -> None:
    field = "ghl_api_key" if crm.name == "ghl" else "hubspot_token"
    settings = crm.settings.__class__(**{**crm.settings.__dict__, field: Secret("wrong-secret-value")})
    provider = registry.crm_provider(settings, store)
    try:
        with pytest.raises(AuthError) as raised:
            provider.changed_since(None)
    finally:
        provider.close()  # type: ignore[attr-defined]
    assert crm.credential_setting in str(raised.value)
    assert "wrong-secret-value" not in str(raised.value)

"""GHL-specific behaviour the CRM and email contracts do not pin down."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sync_pipeline.errors import NotFound, OutcomeUnknown, PermanentVendorError
from sync_pipeline.providers.ghl import GhlCRM, GhlEmail
from sync_pipeline.records import ContactChanges, OutboundEmail
from sync_pipeline.sandbox.ghl.config import GhlConfig
from sync_pipeline.settings import Secret, Settings, SettingsError
from sync_pipeline.store import Store
from sync_pipeline_tests.sandbox_fixtures import GhlSandboxFactory, GhlSandboxHandle


def settings_for(sandbox: GhlSandboxHandle) -> Settings:
    return Settings(ghl_base_url=sandbox.url, ghl_api_key=Secret(sandbox.api_key), ghl_location_id=sandbox.location_id)


@pytest.fixture
def small(ghl_sandbox_factory: GhlSandboxFactory) -> GhlSandboxHandle:
    return ghl_sandbox_factory(contacts=250)


def test_pages_carry_an_opaque_cursor_and_raw_without_search_after(small: GhlSandboxHandle, store: Store) -> None:
    crm = GhlCRM.from_settings(settings_for(small), store)
    try:
        page = crm.changed_since(None, page_size=100)
    finally:
        crm.close()
    assert page.next_cursor is not None and "searchAfter" in json.loads(page.next_cursor)
    assert all("searchAfter" not in c.raw for c in page.contacts)
    first = page.contacts[0]
    assert first.location_id == small.location_id and first.email == (first.email or "").lower()
    assert first.custom_fields and all(isinstance(k, str) for k in first.custom_fields)


def test_custom_fields_round_trip_by_id(small: GhlSandboxHandle, store: Store) -> None:
    field_id = small.state.book.seeded.custom_fields[1].id
    contact_id = small.state.book.seeded.id_of(7)
    crm = GhlCRM.from_settings(settings_for(small), store)
    try:
        updated = crm.update_contact(contact_id, ContactChanges(custom_fields={field_id: "VP Sales"}))
        fetched = crm.get_contact(contact_id)
    finally:
        crm.close()
    assert updated.custom_fields[field_id] == "VP Sales"
    assert fetched is not None and fetched.custom_fields[field_id] == "VP Sales"


def test_list_ids_keeps_every_contact_when_one_is_edited_mid_scan(small: GhlSandboxHandle, store: Store) -> None:
    crm = GhlCRM.from_settings(settings_for(small), store)
    try:
        first = crm.list_ids(page_size=100)
        crm.update_contact(first.ids[10], ContactChanges(first_name="Edited"))  # now the newest dateUpdated
        ids, cursor = list(first.ids), first.next_cursor
        while cursor is not None:
            page = crm.list_ids(cursor, page_size=100)
            ids.extend(page.ids)
            cursor = page.next_cursor
    finally:
        crm.close()
    assert len(ids) == len(set(ids)) == 250


def _send_then_look_up(
    sandbox: GhlSandboxHandle, store: Store, sent: tuple[str, str], *asked: tuple[str, str]
) -> tuple[str, list[str | None]]:
    """Send one email to lead@example.com as (key, subject), then look up each (key, subject).

    Returns the sent message's id and, per lookup, the id found (None: no earlier send)."""

    def note(key: str, subject: str) -> OutboundEmail:
        return OutboundEmail(key, "lead@example.com", subject, "<p>Hi</p>")

    email = GhlEmail.from_settings(settings_for(sandbox), store)
    try:
        ref = email.send(note(*sent)).provider_ref  # no contact_id: the contact is created by email
        found = [email.lookup(note(*question)) for question in asked]
    finally:
        email.close()
    return ref, [f.provider_ref if f is not None else None for f in found]


def test_lookup_finds_a_send_by_email_alone_and_ignores_other_subjects(small: GhlSandboxHandle, store: Store) -> None:
    ref, found = _send_then_look_up(small, store, ("k-1", "First"), ("k-1", "First"), ("k-2", "Second"))
    assert found == [ref, None]
    assert small.state.book.find_by_email("lead@example.com") is not None


def test_lookup_tells_identical_emails_apart_by_the_key_in_the_body(small: GhlSandboxHandle, store: Store) -> None:
    weekly = "Weekly note"
    # k-2 is next week's identical email, lost before GHL got it: not taken for last week's.
    ref, found = _send_then_look_up(small, store, ("k-1", weekly), ("k-1", weekly), ("k-2", weekly))
    assert found == [ref, None]


def test_lookup_falls_back_to_the_subject_when_ghl_strips_comments(
    ghl_sandbox_factory: GhlSandboxFactory, store: Store
) -> None:
    sandbox = ghl_sandbox_factory(contacts=20, vendor_configs={"ghl": GhlConfig(keeps_html_comments=False)})
    ref, found = _send_then_look_up(sandbox, store, ("k-1", "Weekly note"), ("k-2", "Weekly note"), ("k-3", "Other"))
    # Without the key GHL cannot tell the two apart: the documented limit of the fallback.
    assert found == [ref, None]


def test_lookup_raises_outcome_unknown_when_ghl_cannot_show_a_subject(small: GhlSandboxHandle, store: Store) -> None:
    seeded = small.state.book.seeded
    message = OutboundEmail("k-3", seeded.email_of(2), "Hello", "<p>x</p>", contact_id=seeded.id_of(2))
    email = GhlEmail.from_settings(settings_for(small), store)
    try:
        email.send(message)
        small.state.messages._by_email_id.clear()  # the email record is unreadable, the message listed
        with pytest.raises(OutcomeUnknown, match="check the conversation"):
            email.lookup(message)
    finally:
        email.close()


def test_missing_location_setting_is_named(store: Store) -> None:
    with pytest.raises(SettingsError, match="GHL_LOCATION_ID"):
        GhlCRM.from_settings(Settings(ghl_api_key=Secret("k")), store)


def test_a_wrong_base_url_is_named_not_taken_for_a_missing_contact(small: GhlSandboxHandle, store: Store) -> None:
    misconfigured = dataclasses.replace(settings_for(small), ghl_base_url=f"{small.url}/v2")  # a copied path
    crm = GhlCRM.from_settings(misconfigured, store)
    try:
        with pytest.raises(PermanentVendorError, match="check GHL_BASE_URL") as wrong:
            crm.get_contact(small.state.book.seeded.id_of(1))
    finally:
        crm.close()
    assert wrong.value.status == 404 and not isinstance(wrong.value, NotFound)

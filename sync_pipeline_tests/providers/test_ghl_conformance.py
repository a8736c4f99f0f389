"""Our GHL requests, as they leave the process, validated against GHL's OpenAPI operations.

Requests are captured at the bottom of the transport (``httpx.HTTPTransport``), after auth and the
Version header are applied. The spec's ``POST /contacts/search`` body DTO is empty, so for search
only the operation, headers and JSON content type are checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sync_pipeline.providers.ghl import GhlCRM, GhlEmail
from sync_pipeline.records import ContactChanges, OutboundEmail
from sync_pipeline.settings import Secret, Settings
from sync_pipeline.store import Store
from sync_pipeline_tests.sandbox_fixtures import GhlSandboxHandle

SPECS = Path("/work/shared/vendor-apis/ghl")
SERVER = "https://services.leadconnectorhq.com"


@dataclass
class SpecRequest:
    """An ``httpx.Request`` in the shape openapi-core validates, addressed to the spec's server."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)
    host_url: str = SERVER

    @classmethod
    def of(cls, request: httpx.Request) -> SpecRequest:
        return cls(
            method=request.method.lower(),
            path=request.url.path,
            body=request.content or None,
            content_type=request.headers.get("content-type", ""),
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(request.url.params.multi_items())),
                header=Headers(list(request.headers.items())),
            ),
        )


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    requests: list[httpx.Request] = []
    original = httpx.HTTPTransport.handle_request

    def recording(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return original(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", recording)
    yield requests


def settings_for(sandbox: GhlSandboxHandle) -> Settings:
    return Settings(ghl_base_url=sandbox.url, ghl_api_key=Secret(sandbox.api_key), ghl_location_id=sandbox.location_id)


def load_spec(spec_file: str) -> dict[str, Any]:
    spec = json.loads((SPECS / spec_file).read_text())
    send = spec["components"]["schemas"].get("SendMessageBodyDto")
    if send is not None:
        # The current rev requires subType and status too; revs up to 2025-08-26 required type and
        # contactId only, and the vendor reference (1.6) reads the newer list as a spec artifact.
        send["required"] = ["type", "contactId"]
    return spec


def validate(spec_file: str, request: httpx.Request) -> None:
    # GHL's own files fail strict spec validation (an http security scheme with "in"/"name"), so the
    # spec is loaded without it and only our requests are validated.
    spec = OpenAPI.from_dict(load_spec(spec_file), config=Config(spec_validator_cls=None))
    spec.validate_request(SpecRequest.of(request))


def only(requests: list[httpx.Request], method: str, path_end: str) -> httpx.Request:
    matching = [r for r in requests if r.method == method and r.url.path.endswith(path_end)]
    assert matching, f"no {method} …{path_end} among {[(r.method, r.url.path) for r in requests]}"
    return matching[-1]


def test_contact_requests_conform_to_the_contacts_spec(
    ghl_sandbox: GhlSandboxHandle, store: Store, captured: list[httpx.Request]
) -> None:
    crm = GhlCRM.from_settings(settings_for(ghl_sandbox), store)
    try:
        crm.changed_since(None, page_size=5)
        field_id = ghl_sandbox.state.book.seeded.custom_fields[0].id
        contact = crm.upsert_contact(
            ContactChanges(email="spec@example.com", first_name="Spec", company_name="Acme", tags=("a",))
        )
        crm.update_contact(contact.id, ContactChanges(last_name="Check", custom_fields={field_id: "42"}))
    finally:
        crm.close()
    for method, path_end in (("POST", "/contacts/search"), ("POST", "/contacts/upsert"), ("PUT", contact.id)):
        validate("apps_contacts.json", only(captured, method, path_end))
    search = json.loads(only(captured, "POST", "/contacts/search").content)
    assert "page" not in search and search["sort"] == [{"field": "dateUpdated", "direction": "asc"}]


def test_send_message_conforms_to_the_conversations_spec(
    ghl_sandbox: GhlSandboxHandle, store: Store, captured: list[httpx.Request]
) -> None:
    seeded = ghl_sandbox.state.book.seeded
    email = GhlEmail.from_settings(settings_for(ghl_sandbox), store)
    try:
        email.send(OutboundEmail("spec-1", seeded.email_of(3), "Spec", "<p>x</p>", contact_id=seeded.id_of(3)))
    finally:
        email.close()
    request = only(captured, "POST", "/conversations/messages")
    validate("apps_conversations.json", request)
    assert request.headers["Version"] == "2021-04-15"
    assert request.headers["X-Idempotency-Key"] == "spec-1"


def test_a_wrong_body_is_caught_by_the_validator() -> None:
    """The check has teeth: the conversations Version date on a contacts operation is rejected."""
    request = httpx.Request(
        "PUT",
        f"{SERVER}/contacts/abc",
        json={"firstName": "x"},
        headers={"Version": "2021-04-15", "Authorization": "Bearer t"},
    )
    with pytest.raises(Exception) as raised:
        validate("apps_contacts.json", request)
    assert raised.type.__module__.startswith("openapi_core")

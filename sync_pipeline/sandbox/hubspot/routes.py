"""HubSpot CRM v3 contact endpoints: list, search, get, create, update (PATCH) and archive."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.hubspot.config import SEARCH_POLICY
from sync_pipeline.sandbox.hubspot.errors import HubSpotRequestError, invalid_property, not_found
from sync_pipeline.sandbox.hubspot.records import Record
from sync_pipeline.sandbox.hubspot.search import list_query, parse_search, run, validation_error
from sync_pipeline.sandbox.routing import Handler, answering

if TYPE_CHECKING:
    from sync_pipeline.sandbox.hubspot.sandbox import HubSpotSandbox

BASE = "/crm/v3/objects/contacts"
# DOC: the properties a search returns when the request names none (the listing and get do the same).
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
STANDARD_PROPERTIES = frozenset({"email", "firstname", "lastname", "phone", "company"})
READ_ONLY = frozenset({"hs_object_id", "createdate", "lastmodifieddate"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hubspot_route(path: str, handler: Handler, methods: list[str]) -> Route:
    """A route whose raised :class:`HubSpotRequestError` is answered with HubSpot's error body."""
    return Route(path, answering(handler, HubSpotRequestError, HubSpotRequestError.response), methods=methods)


def contact_routes(sandbox: HubSpotSandbox) -> list[Route]:
    config = sandbox.config

    async def list_contacts(request: Request) -> Response:
        params = request.query_params
        limit = _int(params.get("limit"), sandbox.config.default_limit, "limit", 1, sandbox.config.list_limit_max)
        page = run(sandbox.store, list_query(params.get("after"), limit))
        wanted = _requested(params.get("properties"))
        body: dict[str, Any] = {"results": [_shape(r, wanted) for r in page.records]}
        if page.next_offset is not None and page.records:
            after = str(int(page.records[-1]["id"]) + 1)
            body["paging"] = {"next": {"after": after, "link": f"{request.base_url}{BASE[1:]}?after={after}"}}
        return JSONResponse(body)

    async def search(request: Request) -> Response:
        if not sandbox.search_limiter.acquire("token").allowed:
            return sandbox.rate_limited(SEARCH_POLICY, "You have reached your secondly limit.")
        body = await read_json(request)
        query = parse_search(body, sandbox.config)
        page = run(sandbox.store, query, cap=sandbox.config.search_result_cap)
        wanted = tuple(body.get("properties") or DEFAULT_PROPERTIES)
        answer: dict[str, Any] = {"total": page.total, "results": [_shape(r, wanted) for r in page.records]}
        if page.next_offset is not None:
            answer["paging"] = {"next": {"after": str(page.next_offset)}}
        return JSONResponse(answer)

    async def get(request: Request) -> Response:
        record = _live(request.path_params["contactId"])
        return JSONResponse(_shape(record, _requested(request.query_params.get("properties"))))

    async def create(request: Request) -> Response:
        properties = _properties(await read_json(request))
        email = properties.get("email")
        if email and (existing := sandbox.store.find_by_email(email)) is not None:
            raise _conflict(existing)
        return JSONResponse(_shape(sandbox.store.create(properties), None), status_code=201)

    async def update(request: Request) -> Response:
        contact_id = request.path_params["contactId"]
        properties = _properties(await read_json(request))
        email = properties.get("email")
        if email and (existing := sandbox.store.find_by_email(email)) is not None and existing["id"] != contact_id:
            raise _conflict(existing)
        record = sandbox.store.update(contact_id, properties)
        if record is None:
            raise not_found(contact_id)
        return JSONResponse(_shape(record, None))

    async def archive(request: Request) -> Response:
        contact_id = request.path_params["contactId"]
        if not sandbox.store.archive(contact_id) and config.archive_missing_status == 404:
            raise not_found(contact_id)
        return Response(status_code=204)

    def _live(contact_id: str) -> Record:
        record = sandbox.store.get(contact_id)
        if record is None:
            raise not_found(contact_id)
        return record

    def _properties(body: Mapping[str, Any]) -> dict[str, str | None]:
        given = body.get("properties")
        if not isinstance(given, dict):
            raise validation_error("the body needs a properties object")
        known = STANDARD_PROPERTIES | set(sandbox.config.custom_properties) | {sandbox.config.tags_property}
        out: dict[str, str | None] = {}
        for name, value in given.items():
            if name in READ_ONLY:
                raise invalid_property(name, "READ_ONLY_VALUE", f"{name} is a read only property")
            if name not in known:
                raise invalid_property(name, "PROPERTY_DOESNT_EXIST", f'Property \\"{name}\\" does not exist')
            if value is not None and not isinstance(value, str | int | float | bool):
                raise invalid_property(name, "INVALID_OPTION", f"{name} must be a string, number or boolean")
            out[name] = None if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            if name == sandbox.config.tags_property and sandbox.config.reject_unknown_options:
                sandbox.tag_options.check(name, out[name])
        email = out.get("email")
        if email and not _EMAIL.match(email):
            raise invalid_property("email", "INVALID_EMAIL", f"Email address {email} is invalid")
        return out

    return [
        hubspot_route(f"{BASE}/search", search, ["POST"]),
        hubspot_route(BASE, list_contacts, ["GET"]),
        hubspot_route(BASE, create, ["POST"]),
        hubspot_route(f"{BASE}/{{contactId}}", get, ["GET"]),
        hubspot_route(f"{BASE}/{{contactId}}", update, ["PATCH"]),
        hubspot_route(f"{BASE}/{{contactId}}", archive, ["DELETE"]),
    ]


def _shape(record: Record, wanted: Sequence[str] | None) -> dict[str, Any]:
    """The API object; ``wanted`` properties only (unset ones as null), or every set one when None."""
    props = record["properties"]
    properties = dict(props) if wanted is None else {name: props.get(name) for name in wanted}
    return {**record, "properties": properties}


def _requested(raw: str | None) -> tuple[str, ...]:
    names = tuple(n.strip() for n in (raw or "").split(",") if n.strip())
    return names or DEFAULT_PROPERTIES


def _conflict(existing: Record) -> HubSpotRequestError:
    """OBS/3P: 409 CONFLICT naming the existing contact's id."""
    return HubSpotRequestError(409, f"Contact already exists. Existing ID: {existing['id']}", "CONFLICT")


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise validation_error("Invalid input JSON on line 1: the body is not JSON") from None
    if not isinstance(data, dict):
        raise validation_error("Invalid input JSON: the body must be an object")
    return data


def _int(raw: str | None, default: int, name: str, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise validation_error(f"{name} must be a whole number from {low} to {high}; got {raw!r}")
    return int(raw)

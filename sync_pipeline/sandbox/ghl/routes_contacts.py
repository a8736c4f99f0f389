"""GHL contacts endpoints (SPEC ``apps/contacts.json``; search per the white-label doc + observations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_pipeline.sandbox.ghl.contacts import DuplicateContact, Record
from sync_pipeline.sandbox.ghl.errors import GhlRequestError
from sync_pipeline.sandbox.ghl.handlers import ghl_route, int_param, json_body, ok
from sync_pipeline.sandbox.ghl.search import SearchRequest, parse_search_body, run_search
from sync_pipeline.sandbox.ghl.shapes import CREATE, GET, LEGACY_LIST, SEARCH, project
from sync_pipeline.sandbox.ghl.writes import (
    CREATE_PROPERTIES,
    UPDATE_PROPERTIES,
    UPSERT_PROPERTIES,
    apply_write,
    normalize_tags,
    validation_errors,
)

if TYPE_CHECKING:
    from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox


def contact_routes(sandbox: GhlSandbox) -> list[Route]:
    """Search, the deprecated listing, CRUD, upsert and tags. Literal paths precede ``{contactId}``,
    so ``GET /contacts/search`` answers "Contact with id search not found" as GHL does."""

    def validated(body: dict[str, Any], allowed: frozenset[str], *, needs_location: bool) -> None:
        errors = validation_errors(body, allowed)
        if needs_location and not body.get("locationId"):
            errors.append("locationId should not be empty")
        if errors:
            raise GhlRequestError(422, errors)
        if needs_location:
            sandbox.check_location(body["locationId"])

    async def search(request: Request) -> Response:
        body = await json_body(request)
        config = sandbox.config
        query = parse_search_body(
            body,
            max_page_limit=config.search_page_limit_max,
            page_window=config.search_page_window,
            default_sort=(config.default_sort_field, config.default_sort_direction),
        )
        sandbox.check_location(body["locationId"])
        page = run_search(sandbox.book, query, visible_at_ms=sandbox.book.now_ms())
        as_text = config.search_after_timestamp_type == "string"
        contacts = [
            {**project(record, SEARCH), "searchAfter": [str(ms) if as_text else ms, contact_id]}
            for (ms, contact_id), record in page.records
        ]
        return ok({"contacts": contacts, "total": page.total})

    async def list_contacts(request: Request) -> Response:
        """Deprecated listing, newest ``dateAdded`` first. Quirk kept from the real API (OBS
        pipedream #21941): ``startAfter`` without ``startAfterId`` is ignored, so page 1 repeats."""
        params = request.query_params
        if not params.get("locationId"):
            raise GhlRequestError(422, ["locationId should not be empty"])
        sandbox.check_location(params["locationId"])
        limit = int_param(request, "limit", 20, low=1, high=sandbox.config.legacy_list_limit_max)
        cursor = None
        if params.get("startAfter") and params.get("startAfterId"):
            start_after = int_param(request, "startAfter", 0, low=0, high=2**63)
            cursor = (start_after, params["startAfterId"])
        query = SearchRequest(
            page_limit=limit,
            search_after=cursor,
            sort_field="dateAdded",
            descending=True,
            query=params.get("query"),
        )
        page = run_search(sandbox.book, query, visible_at_ms=None, count_remaining=True)
        remaining = page.remaining or 0
        current = (page.total - remaining - len(page.records)) // limit + 1
        meta: dict[str, Any] = {
            "total": page.total,
            "currentPage": current,
            "nextPage": current + 1 if remaining else None,
            "prevPage": current - 1 if current > 1 else None,
        }
        if page.records:
            (last_ms, last_id), _ = page.records[-1]
            meta.update(startAfterId=last_id, startAfter=last_ms)
            if remaining:
                next_query = urlencode(
                    {
                        "locationId": sandbox.location_id,
                        "startAfter": last_ms,
                        "startAfterId": last_id,
                        "limit": limit,
                    }
                )
                meta["nextPageUrl"] = f"{str(request.base_url).rstrip('/')}/contacts/?{next_query}"
        return ok({"contacts": [project(r, LEGACY_LIST) for _, r in page.records], "meta": meta})

    async def create(request: Request) -> Response:
        body = await json_body(request)
        validated(body, CREATE_PROPERTIES, needs_location=True)
        try:
            record = sandbox.create_contact(body, allow_duplicate=sandbox.config.allow_duplicate_contacts)
        except DuplicateContact as exc:
            existing = exc.existing
            raise GhlRequestError(
                400,
                "This location does not allow duplicated contacts.",
                meta={
                    "contactId": existing["id"],
                    "contactName": existing.get("name"),
                    "matchingField": "email",
                },
            ) from None
        return ok({"contact": project(record, CREATE)}, status=201)

    async def upsert(request: Request) -> Response:
        """Match by email (UNCONFIRMED: phone matching and the location's priority order are not
        simulated); update the match, else create. ``tags`` replace the contact's tags."""
        body = await json_body(request)
        validated(body, UPSERT_PROPERTIES, needs_location=True)
        existing = sandbox.book.find_by_email(body["email"]) if body.get("email") else None
        if existing is None or (body.get("createNewIfDuplicateAllowed") and sandbox.config.allow_duplicate_contacts):
            record, new = sandbox.create_contact(body, allow_duplicate=True), True
        else:
            changes = {k: v for k, v in body.items() if k in UPDATE_PROPERTIES | {"companyName"}}
            record = sandbox.change_contact(existing["id"], lambda r: written(r, changes))
            new = False
        return ok({"new": new, "contact": project(record, GET)})

    async def get(request: Request) -> Response:
        return ok({"contact": project(sandbox.contact_or_error(request.path_params["contactId"]), GET)})

    async def update(request: Request) -> Response:
        body = await json_body(request)
        validated(body, UPDATE_PROPERTIES, needs_location=False)
        record = sandbox.change_contact(request.path_params["contactId"], lambda r: written(r, body))
        return ok({"succeded": True, "contact": project(record, GET)})

    async def delete(request: Request) -> Response:
        sandbox.delete_contact(request.path_params["contactId"])
        return ok({"succeded": True})

    async def tags(request: Request) -> Response:
        body = await json_body(request)
        given = body.get("tags")
        if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
            raise GhlRequestError(422, ["tags must be an array of strings"])
        wanted = normalize_tags(given)
        adding = request.method == "POST"

        def retag(record: Record) -> Record:
            current = record.get("tags") or []
            new_tags = normalize_tags([*current, *wanted]) if adding else [t for t in current if t not in wanted]
            return {**record, "tags": new_tags}

        record = sandbox.change_contact(request.path_params["contactId"], retag, event=sandbox.config.tag_event)
        return ok({"tags": record["tags"]}, status=201 if adding else 200)

    def written(record: Record, body: dict[str, Any]) -> Record:
        return apply_write(record, body, sandbox.book.seeded.custom_fields)

    return [
        ghl_route("/contacts/search", search, ["POST"]),
        ghl_route("/contacts/upsert", upsert, ["POST"]),
        ghl_route("/contacts/", list_contacts, ["GET"]),
        ghl_route("/contacts/", create, ["POST"]),
        ghl_route("/contacts", list_contacts, ["GET"]),  # GHL (Express) ignores the trailing slash
        ghl_route("/contacts", create, ["POST"]),
        ghl_route("/contacts/{contactId}/tags", tags, ["POST", "DELETE"]),
        ghl_route("/contacts/{contactId}", get, ["GET"]),
        ghl_route("/contacts/{contactId}", update, ["PUT"]),
        ghl_route("/contacts/{contactId}", delete, ["DELETE"]),
    ]

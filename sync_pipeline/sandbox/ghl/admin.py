"""GHL-specific admin endpoint: change contacts the way a person in the GHL UI would.

``POST /_sandbox/contacts/mutate`` with any of::

    {"creates": [{"firstName": "Ada", "email": "ada@example.com", ...}],   # CreateContactDto fields
     "updates": [{"id": "<contactId>", "phone": "+15550001111", ...}],     # fields to write
     "deletes": ["<contactId>", ...],
     "random_updates": 25,          # touch N random live contacts (lead score changes)
     "emit_webhooks": true}         # false: change silently, as when GHL loses a webhook

answers ``{"created": [ids], "updated": [ids], "deleted": [ids]}``. Changes go through the same
code as the API, so ``dateUpdated`` moves and search sees them (after the index lag).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.admin import admin_endpoint, json_object
from sync_pipeline.sandbox.config import SandboxConfigError
from sync_pipeline.sandbox.ghl.errors import GhlRequestError
from sync_pipeline.sandbox.ghl.writes import CREATE_PROPERTIES, apply_write, validation_errors

if TYPE_CHECKING:
    from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox

UI_EDITABLE = CREATE_PROPERTIES - {"locationId"}


def ghl_admin_routes(sandbox: GhlSandbox) -> list[Route]:
    picker = random.Random(sandbox.options.seed)

    async def mutate(request: Request) -> Response:
        body = await json_object(request)
        emit = body.get("emit_webhooks", True)
        if not isinstance(emit, bool):
            raise SandboxConfigError("emit_webhooks must be true or false")
        creates, updates, deletes = body.get("creates", []), body.get("updates", []), body.get("deletes", [])
        for fields in [*creates, *updates]:
            errors = validation_errors({k: v for k, v in fields.items() if k != "id"}, UI_EDITABLE)
            if errors:
                raise SandboxConfigError("; ".join(errors))
        custom_fields = sandbox.book.seeded.custom_fields
        try:
            created = [sandbox.create_contact(f, allow_duplicate=True, emit=emit)["id"] for f in creates]
            updated = [
                sandbox.change_contact(
                    u["id"],
                    lambda r, u=u: apply_write(r, {k: v for k, v in u.items() if k != "id"}, custom_fields),
                    emit=emit,
                )["id"]
                for u in updates
            ]
            updated += _random_updates(sandbox, picker, int(body.get("random_updates", 0)), emit)
            deleted = [sandbox.delete_contact(contact_id, emit=emit)["id"] for contact_id in deletes]
        except GhlRequestError as exc:
            raise SandboxConfigError(str(exc.message)) from None
        return JSONResponse({"created": created, "updated": updated, "deleted": deleted})

    return [Route("/_sandbox/contacts/mutate", admin_endpoint(mutate), methods=["POST"])]


def _random_updates(sandbox: GhlSandbox, picker: random.Random, count: int, emit: bool) -> list[str]:
    """Change the lead score of ``count`` random live seeded contacts."""
    seeded = sandbox.book.seeded
    touched: list[str] = []
    for _ in range(count * 10):
        if len(touched) == count or seeded.count == 0:
            break
        contact_id = seeded.id_of(picker.randrange(seeded.count))
        if sandbox.book.get(contact_id) is None:
            continue
        change: dict[str, Any] = {
            "customFields": [{"key": "contact.lead_score", "field_value": str(picker.randrange(100))}]
        }
        sandbox.change_contact(contact_id, lambda r, c=change: apply_write(r, c, seeded.custom_fields), emit=emit)
        touched.append(contact_id)
    return touched

"""Instantly Unibox endpoints (SPEC ops listEmail, getEmail, replyToEmail).

``GET /api/v2/emails`` has its own 20/min limit (DOC) on top of the workspace limits, newest first
by default. A reply is sent from ``eaccount`` to the other side of the thread it answers; it counts
as an accepted send (and as a duplicate when the same recipient gets the same subject and body).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.instantly.errors import (
    InstantlyRequestError,
    found,
    instantly_error,
    instantly_route,
    json_body,
    limit_of,
    require,
)
from sync_pipeline.sandbox.instantly.workspace import UE_CAMPAIGN, UE_RECEIVED, UE_SENT

if TYPE_CHECKING:
    from sync_pipeline.sandbox.instantly.sandbox import InstantlySandbox

EMAIL_TYPES = {"received": (UE_RECEIVED,), "sent": (UE_CAMPAIGN, UE_SENT), "manual": (UE_SENT,)}


def email_routes(sandbox: InstantlySandbox) -> list[Route]:
    workspace = sandbox.workspace

    async def list_emails(request: Request) -> Response:
        if not sandbox.list_emails_limiter.acquire("workspace").allowed:
            return instantly_error(429, "Rate limit exceeded")
        params = request.query_params
        sort_order = params.get("sort_order", "desc")
        if sort_order not in ("asc", "desc") or params.get("email_type", "sent") not in EMAIL_TYPES:
            raise InstantlyRequestError(400, "querystring must match the allowed values")
        with workspace.lock:
            emails = [dict(e) for e in workspace.emails.values() if _matches(e, params)]
        return sandbox.page_response(
            emails, params.get("starting_after"), limit_of(params.get("limit")), descending=sort_order == "desc"
        )

    async def get_email(request: Request) -> Response:
        return JSONResponse(found(workspace.emails.get(request.path_params["id"]), "Email"))

    async def reply(request: Request) -> Response:
        body = await json_body(request)
        require(body, "reply_to_uuid", "eaccount", "subject", "body")
        content = body["body"]
        if not isinstance(content, dict) or not (content.get("html") or content.get("text")):
            raise InstantlyRequestError(400, "body/body must have property 'html' or 'text'")
        if body["eaccount"] not in sandbox.config.sender_accounts:
            raise InstantlyRequestError(400, f"Email account {body['eaccount']} is not connected to this workspace")
        original = found(workspace.emails.get(body["reply_to_uuid"]), "Email to reply to")
        return JSONResponse(sandbox.send_reply(original, body["eaccount"], body["subject"], content))

    return [
        instantly_route("/api/v2/emails", list_emails, ["GET"]),
        instantly_route("/api/v2/emails/reply", reply, ["POST"]),
        instantly_route("/api/v2/emails/{id}", get_email, ["GET"]),
    ]


def _matches(email: dict[str, Any], params: Any) -> bool:
    """listEmail filters: campaign_id, lead, eaccount (csv), email_type, search (email or thread:<id>)."""
    if params.get("campaign_id") and email["campaign_id"] != params["campaign_id"]:
        return False
    if params.get("lead") and (email["lead"] or "").lower() != params["lead"].lower():
        return False
    if params.get("eaccount") and email["eaccount"] not in params["eaccount"].split(","):
        return False
    if params.get("email_type") and email["ue_type"] not in EMAIL_TYPES[params["email_type"]]:
        return False
    search = params.get("search", "")
    if search.startswith("thread:"):
        return email["thread_id"] == search.removeprefix("thread:")
    return (
        not search
        or search.lower()
        in " ".join(
            str(email.get(k) or "") for k in ("lead", "to_address_email_list", "from_address_email", "subject")
        ).lower()
    )

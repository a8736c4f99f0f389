"""Instantly lead and campaign endpoints (SPEC ops createLead, bulkAddLeads, listLeads, getLead,
listCampaign, getCampaign, createCampaign, activateCampaign).

Choices where the reference is silent (UNCONFIRMED): createLead with a ``skip_if_*`` flag that
applies answers 200 with the existing lead; adding a lead that is already in the campaign without a
skip flag updates its fields and variables (``duplicated_leads``) and sends nothing again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.instantly.errors import (
    InstantlyRequestError,
    found,
    instantly_route,
    json_body,
    limit_of,
    require,
)

if TYPE_CHECKING:
    from sync_pipeline.sandbox.instantly.sandbox import InstantlySandbox

MAX_BULK_LEADS = 1000


def lead_routes(sandbox: InstantlySandbox) -> list[Route]:
    workspace = sandbox.workspace

    async def create_lead(request: Request) -> Response:
        body = await json_body(request)
        campaign_id = body.get("campaign")
        if campaign_id:
            require(body, "email")
            sandbox.campaign_or_404(campaign_id)
        elif not any(body.get(k) for k in ("email", "first_name", "last_name")):
            raise InstantlyRequestError(400, "At least one of email, first_name or last_name is required")
        _, lead = sandbox.add_lead(campaign_id, body, **_skips(body))
        return JSONResponse(lead)

    async def bulk_add(request: Request) -> Response:
        body = await json_body(request)
        campaign_id, list_id = body.get("campaign_id"), body.get("list_id")
        if bool(campaign_id) == bool(list_id):
            raise InstantlyRequestError(400, "Exactly one of campaign_id or list_id must be provided")
        leads = body.get("leads")
        if not isinstance(leads, list) or not 1 <= len(leads) <= MAX_BULK_LEADS:
            raise InstantlyRequestError(400, f"body/leads must contain 1 to {MAX_BULK_LEADS} items")
        if campaign_id:
            sandbox.campaign_or_404(campaign_id)
        counts = dict.fromkeys(
            (
                "leads_uploaded",
                "skipped_count",
                "duplicated_leads",
                "invalid_email_count",
                "incomplete_count",
                "duplicate_email_count",
            ),
            0,
        )
        created, seen = [], set()
        for index, fields in enumerate(leads):
            email = fields.get("email") if isinstance(fields, dict) else None
            if not isinstance(email, str) or not email:
                counts["incomplete_count"] += 1
                continue
            if "@" not in email.strip("@"):
                counts["invalid_email_count"] += 1
                continue
            if email.lower() in seen:
                counts["duplicate_email_count"] += 1
                continue
            seen.add(email.lower())
            outcome, lead = sandbox.add_lead(campaign_id, {**fields, "list_id": list_id}, **_skips(body))
            if outcome == "created":
                counts["leads_uploaded"] += 1
                created.append(
                    {
                        "index": index,
                        "id": lead["id"],
                        "email": lead["email"],
                        "first_name": lead["first_name"],
                        "last_name": lead["last_name"],
                    }
                )
            else:
                counts["skipped_count" if outcome == "skipped" else "duplicated_leads"] += 1
        return JSONResponse(
            {
                "status": "success",
                "total_sent": len(leads),
                **counts,
                "in_blocklist": 0,
                "blocklist_used": None,
                "remaining_in_plan": None,
                "created_leads": created,
            }
        )

    async def list_leads(request: Request) -> Response:
        body = await json_body(request)
        limit = limit_of(body.get("limit"))
        with workspace.lock:
            leads = [dict(lead) for lead in workspace.leads.values() if _matches(lead, body)]
        return sandbox.page_response(leads, body.get("starting_after"), limit)

    async def get_lead(request: Request) -> Response:
        return JSONResponse(found(workspace.leads.get(request.path_params["id"]), "Lead"))

    async def list_campaigns(request: Request) -> Response:
        params = request.query_params
        search, status = params.get("search", "").lower(), params.get("status")
        with workspace.lock:
            campaigns = [
                c
                for c in workspace.campaigns.values()
                if search in c["name"].lower() and (status is None or str(c["status"]) == status)
            ]
        return sandbox.page_response(campaigns, params.get("starting_after"), limit_of(params.get("limit")))

    async def get_campaign(request: Request) -> Response:
        return JSONResponse(sandbox.campaign_or_404(request.path_params["id"]))

    async def create_campaign(request: Request) -> Response:
        body = await json_body(request)
        require(body, "name", "campaign_schedule")
        step = ((body.get("sequences") or [{}])[0].get("steps") or [{}])[0]
        variant = (step.get("variants") or [{}])[0]
        campaign = workspace.create_campaign(
            body["name"],
            body.get("email_list") or (),
            subject=variant.get("subject", ""),
            body=variant.get("body", ""),
        )
        return JSONResponse(campaign)

    async def activate(request: Request) -> Response:
        campaign = sandbox.campaign_or_404(request.path_params["id"])
        if not campaign["email_list"]:
            raise InstantlyRequestError(400, "Campaign has no sending accounts")
        with workspace.lock:
            campaign.update(status=1, timestamp_updated=workspace.now_iso())
        return JSONResponse(campaign)

    return [
        instantly_route("/api/v2/leads", create_lead, ["POST"]),
        instantly_route("/api/v2/leads/add", bulk_add, ["POST"]),
        instantly_route("/api/v2/leads/list", list_leads, ["POST"]),
        instantly_route("/api/v2/leads/{id}", get_lead, ["GET"]),
        instantly_route("/api/v2/campaigns", list_campaigns, ["GET"]),
        instantly_route("/api/v2/campaigns", create_campaign, ["POST"]),
        instantly_route("/api/v2/campaigns/{id}", get_campaign, ["GET"]),
        instantly_route("/api/v2/campaigns/{id}/activate", activate, ["POST"]),
    ]


def _skips(body: dict[str, Any]) -> dict[str, bool]:
    return {
        "skip_if_in_campaign": bool(body.get("skip_if_in_campaign")),
        "skip_if_in_workspace": bool(body.get("skip_if_in_workspace")),
    }


def _matches(lead: dict[str, Any], body: dict[str, Any]) -> bool:
    """listLeads filters: campaign, list_id, ids, contacts (emails), search."""
    if body.get("campaign") and lead["campaign"] != body["campaign"]:
        return False
    if body.get("list_id") and lead["list_id"] != body["list_id"]:
        return False
    if body.get("ids") and lead["id"] not in body["ids"]:
        return False
    contacts = {str(c).lower() for c in body.get("contacts") or ()}
    if contacts and (lead["email"] or "").lower() not in contacts:
        return False
    search = str(body.get("search") or "").lower()
    haystack = " ".join(str(lead.get(k) or "") for k in ("email", "first_name", "last_name")).lower()
    return search in haystack

"""GHL conversations endpoints used to send and read back email (SPEC ``apps/conversations.json``).

Choices where the reference is silent (UNCONFIRMED): only ``type`` and ``contactId`` are required
(not ``subType``/``status``); an Email without ``html`` and a contact without an email address are
400s; ``emailTo`` may be any address; ``emailFrom`` defaults to the location's sender. Every
accepted send counts in the stats, and a repeat of an earlier send (same idempotency header, or the
same contact, subject and body within the duplicate window) also counts as a duplicate — it is still
sent, as GHL has no idempotency.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_pipeline.sandbox.ghl.conversations import Conversation, Message
from sync_pipeline.sandbox.ghl.errors import GhlRequestError
from sync_pipeline.sandbox.ghl.handlers import ghl_route, int_param, json_body, ok
from sync_pipeline.sandbox.ghl.timestamps import iso_from_ms

if TYPE_CHECKING:
    from sync_pipeline.sandbox.ghl.contacts import Record
    from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox

MESSAGE_TYPES = ("SMS", "RCS", "Email", "WhatsApp", "IG", "FB", "Custom", "Live_Chat", "TIKTOK")
SANDBOX_TYPES = {"Email": (3, "TYPE_EMAIL", "text/html"), "SMS": (2, "TYPE_SMS", "text/plain")}


def conversation_routes(sandbox: GhlSandbox) -> list[Route]:
    async def send(request: Request) -> Response:
        body = await json_body(request)
        kind, contact_id = body.get("type"), body.get("contactId")
        errors = []
        if kind not in MESSAGE_TYPES:
            errors.append(f"type must be one of the following values: {', '.join(MESSAGE_TYPES)}")
        if not isinstance(contact_id, str) or not contact_id:
            errors += ["contactId must be a string", "contactId should not be empty"]
        if errors:
            raise GhlRequestError(422, errors)
        if kind not in SANDBOX_TYPES:
            raise GhlRequestError(400, f"The sandbox sends Email and SMS messages only, not {kind}")
        contact = sandbox.contact_or_error(contact_id)
        message = _send_email(sandbox, contact, body) if kind == "Email" else _send_sms(sandbox, contact, body)
        marker = request.headers.get(sandbox.config.idempotency_header)
        sandbox.stats.record_send(
            sandbox.duplicates.observe(
                marker=marker, recipient=contact["id"], subject=message.subject or "", body=message.body
            )
        )
        sandbox.emit_message_event(message)
        answer: dict[str, Any] = {"conversationId": message.conversation_id, "messageId": message.id}
        if message.email_message_id:
            answer["emailMessageId"] = message.email_message_id
        return ok({**answer, "msg": "Message queued successfully.", "status": "pending"})

    async def search(request: Request) -> Response:
        params = request.query_params
        if not params.get("locationId"):
            raise GhlRequestError(422, ["locationId should not be empty"])
        sandbox.check_location(params["locationId"])
        limit = int_param(request, "limit", 20, low=1, high=100)
        found = sandbox.messages.conversations(params.get("contactId"))
        return ok({"conversations": [_conversation_json(sandbox, c) for c in found[:limit]], "total": len(found)})

    async def get_message(request: Request) -> Response:
        message = sandbox.messages.message(request.path_params["id"])
        if message is None:
            missing = request.path_params["id"]
            raise GhlRequestError(sandbox.config.unknown_id_status, f"Message with id {missing} not found")
        return ok(_message_json(sandbox, message, with_body=True))

    async def get_email(request: Request) -> Response:
        """``GetEmailMessageResponseDto``: the one read that shows an email's subject."""
        email_id = request.path_params["id"]
        message = sandbox.messages.email(email_id)
        if message is None:
            raise GhlRequestError(sandbox.config.unknown_id_status, f"Email with id {email_id} not found")
        return ok(
            {
                "id": email_id,
                "threadId": email_id,
                "locationId": sandbox.location_id,
                "contactId": message.contact_id,
                "conversationId": message.conversation_id,
                "dateAdded": iso_from_ms(message.date_added_ms),
                "subject": message.subject or "",
                "body": message.body,
                "direction": "outbound",
                "status": sandbox.message_status(message),
                "contentType": "text/html",
                "attachments": [],
                "provider": "Leadconnector Gmail",
                "from": message.email_from,
                "to": list(message.email_to),
                "cc": list(message.cc),
                "bcc": list(message.bcc),
                "source": "api",
            }
        )

    async def list_messages(request: Request) -> Response:
        """Newest first; email bodies omitted (OBS #40); nested under ``messages`` (OBS #54) unless
        ``nested_message_list`` is off."""
        conversation_id = request.path_params["conversationId"]
        conversation = sandbox.messages.conversation(conversation_id)
        if conversation is None:
            message = f"Conversation with id {conversation_id} not found"
            raise GhlRequestError(sandbox.config.unknown_id_status, message)
        limit = int_param(request, "limit", 20, low=1, high=100)
        chunk, more = sandbox.messages.page(conversation, request.query_params.get("lastMessageId"), limit)
        page = {
            "lastMessageId": chunk[-1].id if chunk else "",
            "nextPage": more,
            "messages": [_message_json(sandbox, m, with_body=m.kind != "Email") for m in chunk],
        }
        return ok({"messages": page} if sandbox.config.nested_message_list else page)

    return [
        ghl_route("/conversations/messages", send, ["POST"]),
        ghl_route("/conversations/search", search, ["GET"]),
        ghl_route("/conversations/messages/email/{id}", get_email, ["GET"]),
        ghl_route("/conversations/messages/{id}", get_message, ["GET"]),
        ghl_route("/conversations/{conversationId}/messages", list_messages, ["GET"]),
    ]


_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _send_email(sandbox: GhlSandbox, contact: Record, body: dict[str, Any]) -> Message:
    html = body.get("html")
    if not isinstance(html, str) or not html.strip():
        raise GhlRequestError(400, "html is required to send an Email message")
    to = body.get("emailTo") or contact.get("email")
    if not to:
        raise GhlRequestError(400, f"Contact with id {contact['id']} has no email address")
    return sandbox.messages.add(
        contact_id=contact["id"],
        kind="Email",
        body=html if sandbox.config.keeps_html_comments else _HTML_COMMENT.sub("", html),
        now_ms=sandbox.book.now_ms(),
        subject=str(body.get("subject") or ""),
        email_from=body.get("emailFrom") or sandbox.sender,
        email_to=(str(to),),
        cc=tuple(body.get("emailCc") or ()),
        bcc=tuple(body.get("emailBcc") or ()),
    )


def _send_sms(sandbox: GhlSandbox, contact: Record, body: dict[str, Any]) -> Message:
    text = body.get("message")
    if not isinstance(text, str) or not text.strip():
        raise GhlRequestError(400, "message is required to send an SMS message")
    if not (body.get("toNumber") or contact.get("phone")):
        raise GhlRequestError(400, f"Contact with id {contact['id']} has no phone number")
    return sandbox.messages.add(contact_id=contact["id"], kind="SMS", body=text, now_ms=sandbox.book.now_ms())


def _message_json(sandbox: GhlSandbox, message: Message, *, with_body: bool) -> dict[str, Any]:
    """``GetMessageResponseDto``."""
    type_number, message_type, content_type = SANDBOX_TYPES[message.kind]
    out: dict[str, Any] = {
        "id": message.id,
        "type": type_number,
        "messageType": message_type,
        "locationId": sandbox.location_id,
        "contactId": message.contact_id,
        "conversationId": message.conversation_id,
        "dateAdded": iso_from_ms(message.date_added_ms),
        "direction": "outbound",
        "status": sandbox.message_status(message),
        "contentType": content_type,
        "attachments": [],
        "source": "api",
    }
    if with_body:
        out["body"] = message.body
    if message.email_message_id:
        out["meta"] = {"email": {"messageIds": [message.email_message_id]}}
    return out


def _conversation_json(sandbox: GhlSandbox, conversation: Conversation) -> dict[str, Any]:
    """``ConversationSchema``."""
    last = sandbox.messages.last_message(conversation)
    contact = sandbox.book.get(conversation.contact_id) or {}
    name = contact.get("name") or ""
    return {
        "id": conversation.id,
        "contactId": conversation.contact_id,
        "locationId": sandbox.location_id,
        "lastMessageBody": last.body,
        "lastMessageType": SANDBOX_TYPES[last.kind][1],
        "lastMessageDate": last.date_added_ms,
        "type": "TYPE_PHONE",
        "unreadCount": 0,
        "fullName": name,
        "contactName": name,
        "email": contact.get("email") or "",
        "phone": contact.get("phone") or "",
        "dateAdded": conversation.date_added_ms,
        "dateUpdated": last.date_added_ms,
    }

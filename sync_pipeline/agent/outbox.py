"""Agent writes: every vendor write is queued and answered at once with a job id.

Validation happens here, before anything is queued, so nothing invalid enters the outbox.
A CRM change is applied to the local ``contacts`` row in the same transaction and marked
pending, so the agent's next read sees its own write; the drain confirms it with the vendor's
answer, or restores the row (from the ``before`` snapshot kept in the job) when the vendor
rejects it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from ..outbox import local_changes
from ..settings import Settings, get_settings
from ..store import Store, Transaction, ensure_migrated, open_store
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q
from .errors import InvalidRequest, UnknownContact

MAX_SUBJECT_CHARS = 998  # RFC 5322 line limit
MAX_HTML_BYTES = 512 * 1024
MAX_TAGS = 100
MAX_TAG_CHARS = 100
# Fields update_contact()/upsert_contact() take; tags change through add_tags()/remove_tags().
CONTACT_FIELDS = tuple(c for c in contacts_q.WRITABLE_COLUMNS if c != "tags")


def enqueue_email(
    to: str | None = None,
    subject: str = "",
    html: str = "",
    *,
    contact_id: str | None = None,
    idempotency_key: str | None = None,
    send_after: datetime | None = None,
    callback_url: str | None = None,
    reply_to_ref: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> str:
    """Queue one email; return its job id at once. ``to`` or ``contact_id`` (or both) is required.

    ``reply_to_ref`` is the vendor's id of a message to answer in its thread (e.g. the ``email_id``
    of an Instantly ``reply_received`` webhook).
    """
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    if not subject.strip():
        raise InvalidRequest("subject is empty")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise InvalidRequest(f"subject is {len(subject)} characters; the limit is {MAX_SUBJECT_CHARS}")
    if not html.strip():
        raise InvalidRequest("html body is empty")
    if len(html.encode()) > MAX_HTML_BYTES:
        raise InvalidRequest(f"html body is {len(html.encode())} bytes; the limit is {MAX_HTML_BYTES}")
    _check_send_after(send_after)
    _check_callback(callback_url)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        if contact_id is not None:
            contact = _live_contact(tx, contacts_q.Account.configured(settings), contact_id)
            to = to or contact["email"]
            if not to:
                raise InvalidRequest(f"contact {contact_id} has no email address; pass to=")
        if not to:
            raise InvalidRequest("pass to= (an email address) or contact_id= (a synced contact)")
        address = normalize_address(to)
        payload = {
            "to_email": address,
            "subject": subject,
            "html": html,
            "contact_id": contact_id,
            "reply_to_ref": reply_to_ref,
        }
        job = outbox_q.NewJob(
            action="send_email",
            provider=settings.email_provider,
            payload=payload,
            idempotency_key=idempotency_key or f"auto:{uuid.uuid4().hex}",
            contact_id=contact_id,
            to_email=address,
            subject=subject,
            body_html=html,
            callback_url=callback_url,
            send_after=send_after,
        )
        job_id, _ = outbox_q.enqueue(tx, job, now)
    return job_id


def update_contact(
    contact_id: str,
    *,
    idempotency_key: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    **fields: Any,
) -> str:
    """Queue a change to a synced contact and apply it locally at once (marked pending)."""
    changes = _check_fields(fields)
    if not changes:
        raise InvalidRequest(f"nothing to update: pass one of {', '.join(CONTACT_FIELDS)}")
    return _queue_crm_change("update_contact", contact_id, changes, idempotency_key, store, settings)


def add_tags(
    contact_id: str,
    tags: Sequence[str],
    *,
    idempotency_key: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> str:
    """Queue adding tags; the local row shows them at once."""
    return _queue_crm_change("add_tags", contact_id, {"tags": _check_tags(tags)}, idempotency_key, store, settings)


def remove_tags(
    contact_id: str,
    tags: Sequence[str],
    *,
    idempotency_key: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> str:
    """Queue removing tags; the local row drops them at once."""
    return _queue_crm_change("remove_tags", contact_id, {"tags": _check_tags(tags)}, idempotency_key, store, settings)


def delete_contact(
    contact_id: str,
    *,
    idempotency_key: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
) -> str:
    """Queue deleting a contact; local reads stop returning it at once."""
    return _queue_crm_change("delete_contact", contact_id, {}, idempotency_key, store, settings)


def upsert_contact(
    email: str,
    *,
    idempotency_key: str | None = None,
    store: Store | None = None,
    settings: Settings | None = None,
    **fields: Any,
) -> str:
    """Queue create-or-update by email (the CRM's dedupe rule). A local contact with that email
    shows the change at once; a new contact appears locally when the vendor has created it."""
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    changes = {**_check_fields(fields), "email": normalize_address(email)}
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    with store.transaction() as tx:
        existing = outbox_q.job_id_for_key(tx, key)
        if existing is not None:
            return existing
        account = contacts_q.Account.configured(settings)
        matches = contacts_q.find_contacts(tx, account, email=changes["email"], limit=1)
        contact_id = matches[0]["id"] if matches else None
        before = local_changes.apply(tx, account, matches[0], "update_contact", changes, now) if matches else {}
        job = outbox_q.NewJob(
            action="upsert_contact",
            provider=settings.crm_provider,
            payload={"changes": changes, "before": before},
            contact_id=contact_id,
            idempotency_key=key,
        )
        job_id, _ = outbox_q.enqueue(tx, job, now)
    return job_id


def job_status(job_id: str, *, store: Store | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Where a queued write stands: status, attempts, vendor reference, last error, times."""
    store = ensure_migrated(store or open_store(settings or get_settings()))
    with store.read_transaction() as tx:
        row = outbox_q.get_job(tx, job_id)
    if row is None:
        raise InvalidRequest(f"no outbox job with id {job_id!r}")
    keys = (
        "id",
        "action",
        "provider",
        "status",
        "attempts",
        "provider_ref",
        "last_error",
        "contact_id",
        "to_email",
        "created_at",
        "next_attempt_at",
        "done_at",
        "callback_status",
    )
    return {k: row[k] for k in keys}


def normalize_address(address: str) -> str:
    """A syntactically valid, lower-cased address, or :class:`InvalidRequest` saying what is wrong."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidRequest(f"{address!r} is not a valid email address: {exc}") from None


# -- internals ---------------------------------------------------------------------------------


def _queue_crm_change(
    action: str,
    contact_id: str,
    changes: dict[str, Any],
    idempotency_key: str | None,
    store: Store | None,
    settings: Settings | None,
) -> str:
    settings = settings or get_settings()
    store = ensure_migrated(store or open_store(settings))
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    with store.transaction() as tx:
        existing = outbox_q.job_id_for_key(tx, key)
        if existing is not None:
            return existing  # the first call already queued it and applied it locally
        account = contacts_q.Account.configured(settings)
        contact = _live_contact(tx, account, contact_id)
        before = local_changes.apply(tx, account, contact, action, changes, now)
        job = outbox_q.NewJob(
            action=action,
            provider=settings.crm_provider,
            payload={"changes": changes, "before": before},
            contact_id=contact_id,
            idempotency_key=key,
        )
        job_id, _ = outbox_q.enqueue(tx, job, now)
    return job_id


def _live_contact(tx: Transaction, account: contacts_q.Account, contact_id: str) -> Mapping[str, Any]:
    row = contacts_q.get_contact(tx, account, contact_id)
    if row is None or row["deleted_at"] is not None:
        raise UnknownContact(
            f"no live {account} contact with id {contact_id!r} in the local store "
            "(check the id, or run the ghl_contacts sync if it was created recently)"
        )
    return row


def _check_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(CONTACT_FIELDS) - {"tags"})
    if unknown:
        raise InvalidRequest(f"unknown contact field(s) {', '.join(unknown)}; allowed: {', '.join(CONTACT_FIELDS)}")
    if "tags" in fields:
        raise InvalidRequest("tags are changed with add_tags() / remove_tags(), not update_contact()")
    changes = {k: v for k, v in fields.items() if v is not None}
    if "email" in changes:
        changes["email"] = normalize_address(changes["email"])
    for name in ("phone", "first_name", "last_name", "company_name"):
        if name in changes and (not isinstance(changes[name], str) or len(changes[name]) > 255):
            raise InvalidRequest(f"{name} must be a string of at most 255 characters")
    if "custom_fields" in changes and not isinstance(changes["custom_fields"], Mapping):
        raise InvalidRequest("custom_fields must be a mapping of field id to value")
    return changes


def _check_tags(tags: Sequence[str]) -> list[str]:
    if isinstance(tags, str):
        raise InvalidRequest("tags must be a list of strings, not one string")
    cleaned = list(dict.fromkeys(t.strip() for t in tags if isinstance(t, str) and t.strip()))
    if not cleaned or len(cleaned) != len(list(tags)):
        raise InvalidRequest("tags must be a non-empty list of distinct, non-blank strings")
    if len(cleaned) > MAX_TAGS or any(len(t) > MAX_TAG_CHARS for t in cleaned):
        raise InvalidRequest(f"at most {MAX_TAGS} tags of at most {MAX_TAG_CHARS} characters each")
    return cleaned


def _check_send_after(send_after: datetime | None) -> None:
    if send_after is not None and send_after.tzinfo is None:
        raise InvalidRequest("send_after must be timezone-aware (e.g. datetime.now(UTC) + timedelta(hours=1))")


def _check_callback(callback_url: str | None) -> None:
    if callback_url is not None and not callback_url.startswith(("http://", "https://")):
        raise InvalidRequest(f"callback_url must be an http(s) URL; got {callback_url!r}")

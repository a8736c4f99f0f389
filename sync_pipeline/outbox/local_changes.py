"""An agent's CRM change, shown locally before the vendor confirms it — the whole lifecycle.

1. **Apply** (at enqueue, in the enqueue's transaction): the change is written to the local
   ``contacts`` row, which is marked pending, so the agent's next read sees its own write. The job
   keeps a ``before`` snapshot of what the change replaced.
2. **Hold** (during syncs): a pending row is left alone by the contact sync (see
   :func:`~sync_pipeline.store.contacts.upsert_contacts`), which would otherwise undo the change
   with the CRM's older copy.
3. **Settle** (when the last queued write to the contact finishes): the row takes the vendor's copy
   after a confirmed write; when any write of the run was rejected the vendor's copy is read back
   (a rejected change must not linger locally), and if the vendor cannot be asked, the rejected
   writes' ``before`` snapshots are put back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import PermanentVendorError, TransientVendorError
from ..providers.base import CRMProvider
from ..records import Contact
from ..store import Row, Store, Transaction
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q


def apply(
    tx: Transaction,
    account: contacts_q.Account,
    contact: Mapping[str, Any],
    action: str,
    changes: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Write the change to the local row, mark it pending, and return what it replaced."""
    if action == "delete_contact":
        values: dict[str, Any] = {"deleted_at": now}
    elif action in ("add_tags", "remove_tags"):
        current = list(contact["tags"] or [])
        if action == "add_tags":
            values = {"tags": current + [t for t in changes["tags"] if t not in current]}
        else:
            values = {"tags": [t for t in current if t not in changes["tags"]]}
    else:
        values = dict(changes)
    before = {k: _jsonable(contact[k]) for k in values}
    contacts_q.apply_local_change(tx, account, contact["id"], values, now)
    return before


def settle(
    store: Store, job: Row, contact_id: str | None, crm: CRMProvider, *, now: datetime, fresh: Any = None
) -> None:
    """``job`` (a CRM write to ``contact_id``) finished: bring the local row back in line if it was
    the last unfinished write to that contact. ``fresh`` is the vendor's copy when the write
    returned one; ``crm`` is None when that CRM is no longer configured (it cannot be asked)."""
    if contact_id is None:
        return
    account = contacts_q.Account(job["provider"])  # ids are unique per CRM: no narrowing needed
    with store.transaction() as tx:
        if outbox_q.other_active_writes(tx, job["provider"], contact_id, job["id"]):
            return  # the local row shows the later writes too; the last one to finish settles it
        rejected = outbox_q.rejected_writes_while_pending(tx, job["provider"], contact_id)
    restore, gone = None, False
    if rejected and fresh is None:
        fresh, restore, gone = _vendor_copy(crm, contact_id, rejected)
    with store.transaction() as tx:
        if gone:
            contacts_q.soft_delete(tx, account, [contact_id], now)
        contacts_q.settle_pending(tx, account, contact_id, now=now, fresh=fresh, restore=restore)


def _vendor_copy(
    crm: CRMProvider | None, contact_id: str, rejected: list[Row]
) -> tuple[Contact | None, dict[str, Any] | None, bool]:
    """``(contact, None, False)`` from the CRM; else ``(None, values before the run, gone)``."""
    snapshot: dict[str, Any] = {}
    for job in rejected:  # newest first, so the oldest, holding the value before the run, wins
        snapshot.update(job["payload"].get("before") or {})
    if crm is None:
        return None, snapshot, False
    try:
        found = crm.get_contact(contact_id)
    except (TransientVendorError, PermanentVendorError):
        return None, snapshot, False
    return (found, None, False) if found is not None else (None, snapshot, True)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

"""``RB2B_CREATE_CONTACTS``: unmatched visitors with a business email become CRM contacts, queued
through the agent API like any agent's write (validated, idempotent, drained under the CRM's limits).

Idempotent by construction: the job's key is ``rb2b:create:<email>``, so a second run, a repeat
visit or another day's row of the same person returns the job already queued instead of a new one.
The agent API takes tags only on a contact it holds, so the ``rb2b`` tag follows in a second step:
once the creation job was sent and the new contact has synced and matched its visitor, an
``add_tags`` job (key ``rb2b:tag:<contact id>``) adds it — merged into the contact's tags, where an
upsert's tags would replace them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from ... import agent
from ...settings import Settings
from ...store import Store
from ...store import outbox as outbox_q
from ...store import visitor_days as days_q

RB2B_TAG = "rb2b"


@dataclass
class CrmQueueReport:
    queued_to_crm: int = 0  # creation jobs new this run
    already_queued: int = 0  # people whose creation job an earlier run had queued
    invalid_emails: int = 0  # business emails the agent API refused (left unmatched)
    tag_jobs_queued: int = 0

    def as_metadata(self) -> dict[str, int]:
        return asdict(self)


def create_key(email: str) -> str:
    return f"rb2b:create:{email}"


def queue_new_visitors(
    store: Store,
    settings: Settings,
    *,
    touched_since: datetime,
    page_field: str,
    log: Callable[[str], None],
) -> CrmQueueReport:
    """Queue one contact per unmatched person with a business email among the rows touched since
    ``touched_since``; ``page_field`` (a custom field id or property name, "" for none) receives
    the page they visited last."""
    report = CrmQueueReport()
    with store.transaction() as tx:
        candidates = days_q.creation_candidates(tx, touched_since)
    for person in candidates:
        email, key = person["business_email"], create_key(person["business_email"])
        with store.transaction() as tx:
            known = outbox_q.job_id_for_key(tx, key) is not None
        try:
            job_id = agent.upsert_contact(
                email,
                idempotency_key=key,
                first_name=person["first_name"],
                last_name=person["last_name"],
                company_name=person["company_name"],
                custom_fields={page_field: person["last_page"]} if page_field and person["last_page"] else None,
                store=store,
                settings=settings,
            )
        except agent.InvalidRequest as exc:
            report.invalid_emails += 1
            log(f"RB2B visitor not queued as a contact: {exc}")
            continue
        with store.transaction() as tx:
            days_q.record_creation(tx, email, job_id)
        if known:
            report.already_queued += 1
        else:
            report.queued_to_crm += 1
    return report


def tag_created_contacts(store: Store, settings: Settings, report: CrmQueueReport) -> None:
    """Tag ``rb2b`` every contact we created once it has synced and matched its visitor."""
    with store.transaction() as tx:
        contact_ids = days_q.created_contacts_to_tag(tx)
    for contact_id in contact_ids:
        job_id = agent.add_tags(
            contact_id, [RB2B_TAG], idempotency_key=f"rb2b:tag:{contact_id}", store=store, settings=settings
        )
        with store.transaction() as tx:
            days_q.record_tagging(tx, contact_id, job_id)
        report.tag_jobs_queued += 1

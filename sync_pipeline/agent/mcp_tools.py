"""The MCP tools: the agent API and pipeline status as eleven namespaced tools for LLM agents.

Tools are named ``<domain>_<verb>`` after the agent API's modules and the CLI's command groups
(``contacts_find``, ``outbox_enqueue_email`` …): related tools sort together in a client's list,
and the client already prefixes them with this server's name (``sync_pipeline``), so a ``sync_``
prefix would only repeat it. Each tool answers from the local store (reads, with how fresh the
answer is) or queues through the outbox (writes, with a required idempotency key and a job id at
once), exactly as the Python API does — the tools call it and
:func:`~sync_pipeline.status.collect_status`, never the store's queries. The agent API blocks on
the store, so every call runs in a worker thread: the event loop that also serves webhooks and
other sessions never waits on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import anyio
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import agent as agent_api
from ..settings import Settings
from ..status import collect_status
from ..store import Store, ensure_migrated, open_store
from .errors import InvalidRequest
from .mcp_answers import (
    ContactAnswer,
    ContactsPage,
    EnrichmentAnswer,
    Freshness,
    JobsAnswer,
    ProfileAnswer,
    QueuedJob,
    StatusAnswer,
    VisitorsPage,
    WriteAnswer,
    freshness,
    oldest,
)
from .mcp_results import (
    CONTACT_CONCISE,
    ENRICHMENT_CONCISE,
    JOB_CONCISE,
    PROFILE_CONCISE,
    VISITOR_CONCISE,
    Cursor,
    concise_profile,
    concise_status,
    fit_single,
    jsonable,
    page_of,
    shape,
)

T = TypeVar("T")

# Deepest a search pages (results beyond it: narrow the search).
CONTACTS_WINDOW = 500
VISITORS_WINDOW = 500  # agent.recent_visitors' own maximum

_READ = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
_READ_THROUGH = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=True)
# Writes reach a vendor through the outbox (open world); the required idempotency key makes a
# repeat of the same call return the same job.
_WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=True)
_DELETE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=True)

# -- argument types --------------------------------------------------------------------------------

ContactId = Annotated[str, Field(min_length=1, max_length=128, description="the contact's CRM id")]
IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="your key for this one change, e.g. 'welcome-ann@acme.com-2025-06-01'; repeat it on retry "
        "to get the same job instead of a second one; a different change needs a different key",
    ),
]
Detailed = Annotated[bool, Field(description="false (default): a few fields per item; true: every field")]
Limit = Annotated[int, Field(ge=1, le=50, description="most items in this page (1-50)")]
PageCursor = Annotated[
    str | None,
    Field(max_length=500, description="next_cursor from the previous page, with the same other arguments"),
]
Name = Annotated[str | None, Field(max_length=255)]
Email = Annotated[str | None, Field(max_length=320, description="an email address")]
CustomFields = Annotated[
    dict[str, Any] | None,
    Field(max_length=50, description="CRM custom field id -> value (at most 50)"),
]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Tags = Annotated[list[Tag] | None, Field(max_length=100, description="tags (at most 100, each 1-100 characters)")]


class ToolFailure(Exception):
    """A failure the agent can act on; the message says what happened and what to do."""


class Tools:
    """The tool functions, bound to the settings and the store they share; :meth:`registry` lists
    them with their annotations and titles."""

    def __init__(self, settings: Settings, store: Store | None) -> None:
        self.settings = settings
        self._store = store

    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return ensure_migrated(self._store)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a worker thread: the agent API (and opening the store) blocks, the event
        loop must not."""
        return await anyio.to_thread.run_sync(work)

    def api(self) -> dict[str, Any]:
        """The store and settings every agent API call takes (call it in the worker thread)."""
        return {"store": self.store(), "settings": self.settings}

    def registry(self) -> list[tuple[Callable[..., Any], ToolAnnotations, str]]:
        return [
            (self.contacts_find, _READ, "Find contacts"),
            (self.contacts_get, _READ_THROUGH, "Get a contact"),
            (self.contacts_profile, _READ, "Contact profile"),
            (self.visitors_recent, _READ, "Recent website visitors"),
            (self.enrichment_lookup, _WRITE, "Enrich a person or company"),
            (self.outbox_enqueue_email, _WRITE, "Queue an email"),
            (self.contacts_upsert, _WRITE, "Create or update a contact by email"),
            (self.contacts_update, _WRITE, "Update a contact's fields and tags"),
            (self.contacts_delete, _DELETE, "Delete a contact"),
            (self.outbox_job_status, _READ, "Outbox job status"),
            (self.pipeline_status, _READ, "Pipeline status"),
        ]

    # -- reads -------------------------------------------------------------------------------------

    async def contacts_find(
        self,
        query: Annotated[str | None, Field(max_length=200, description="text in name, email or company")] = None,
        email: Email = None,
        tag: Annotated[str | None, Field(max_length=100, description="only contacts with this tag")] = None,
        limit: Limit = 10,
        cursor: PageCursor = None,
        detailed: Detailed = False,
    ) -> ContactsPage:
        """Search CRM contacts in the local copy (milliseconds, no vendor call): by text in name,
        email or company (`query`), exact `email`, and/or `tag`; at least one is required, all given
        must match. Most recently updated first, a page at a time (`cursor`). Each contact says when
        it was last synced (`synced_at`) and whether an agent's change is queued (`pending`). Use the
        `id` with contacts_get, contacts_profile, contacts_update or outbox_enqueue_email."""
        if not (query and query.strip()) and not email and not tag:
            raise ToolFailure("pass at least one of query (text), email (exact address) or tag")
        search = {"query": query, "email": email, "tag": tag, "detailed": detailed}
        position = Cursor.resume(cursor, search, {})

        def fetch(n: int) -> list[dict[str, Any]]:
            return agent_api.find_contacts(email=email, query=query, tag=tag, limit=n, **self.api())

        items, next_cursor = await self.run(
            lambda: page_of(
                fetch,
                lambda row: shape(row, CONTACT_CONCISE, detailed),
                position,
                limit,
                CONTACTS_WINDOW,
                "narrow the search with query, email or tag",
            )
        )
        return ContactsPage(contacts=items, next_cursor=next_cursor, freshness=self._contacts_freshness(items))

    async def contacts_get(
        self,
        contact_id: ContactId,
        max_age_minutes: Annotated[
            int | None,
            Field(
                ge=0,
                le=10_080,
                description="read the contact from the CRM first if our copy is older than this (0: always); "
                "one vendor call. Omit to answer from the local copy",
            ),
        ] = None,
        detailed: Detailed = False,
    ) -> ContactAnswer:
        """One CRM contact by id, from the local copy. With `max_age_minutes`, a copy older than that
        (or a contact not synced yet) is first read from the CRM — one rate-limited vendor call —
        and stored. Says when the contact was last synced and whether an agent's change is pending."""
        max_age = None if max_age_minutes is None else timedelta(minutes=max_age_minutes)
        started = datetime.now(UTC)
        contact = await self.run(lambda: agent_api.get_contact(contact_id, max_age=max_age, **self.api()))
        if contact is None:
            if max_age is None:
                raise ToolFailure(
                    f"no contact with id {contact_id!r} in the local store (unknown or deleted); search with "
                    "contacts_find, or pass max_age_minutes=0 to ask the CRM"
                )
            raise ToolFailure(f"the CRM has no live contact with id {contact_id!r}; search with contacts_find")
        item = fit_single(shape(contact, CONTACT_CONCISE, detailed))
        fetched = max_age is not None and contact["synced_at"] is not None and contact["synced_at"] >= started
        return ContactAnswer(contact=item, freshness=self._contacts_freshness([item], read_through=fetched))

    async def contacts_profile(self, contact_id: ContactId, detailed: Detailed = False) -> ProfileAnswer:
        """Everything known locally about one contact in one answer: the contact, its latest person
        enrichment (and whether it is still within its TTL), its website visits of the last 30 days
        and its outbox history (emails sent and pending, failed jobs, the last job). Use it before
        writing to a contact. No vendor call."""
        profile = await self.run(lambda: agent_api.contact_profile(contact_id, **self.api()))
        if profile is None:
            raise ToolFailure(
                f"no profile for contact id {contact_id!r}: unknown, deleted, or synced after the contact_profiles "
                "asset last ran; contacts_get answers from the contacts table, contacts_find searches it"
            )
        item = fit_single(shape(profile, PROFILE_CONCISE, detailed))
        return ProfileAnswer(
            profile=item if detailed else concise_profile(item),
            freshness=freshness(
                "local store (contact_profiles)",
                profile["as_of"],
                "data_as_of is when the contact_profiles asset last built this profile; contact_synced_at and "
                "enrichment_fetched_at date its parts; contacts_get with max_age_minutes reads the contact "
                "from the CRM",
            ),
        )

    async def visitors_recent(
        self,
        since_hours: Annotated[
            int, Field(ge=1, le=2_160, description="visitors seen in the last this many hours (1-2160)")
        ] = 24,
        matched: Annotated[
            bool | None,
            Field(description="true: only visitors matched to a CRM contact; false: only unmatched; omit: both"),
        ] = None,
        limit: Limit = 20,
        cursor: PageCursor = None,
        detailed: Detailed = False,
    ) -> VisitorsPage:
        """Website visitors identified by RB2B, newest first: one entry per person (or company-only
        profile) and day, with visits, pages and the matched CRM `contact_id` when there is one.
        Local data, no vendor call; `uncounted_events` says how many visits landed after the last count."""
        search = {"since_hours": since_hours, "matched": matched, "detailed": detailed}
        now = datetime.now(UTC)
        position = Cursor.resume(cursor, search, {"since": (now - timedelta(hours=since_hours)).isoformat()})
        since = datetime.fromisoformat(position.pinned["since"])
        # The same for every row of one read: kept once, not repeated in each item.
        counted: dict[str, Any] = {"uncounted_events": 0, "as_of": None}

        def fetch(n: int) -> list[dict[str, Any]]:
            rows = agent_api.recent_visitors(since=since, matched=matched, limit=n, **self.api())
            if rows:
                counted.update({k: rows[0][k] for k in counted})
            return [{k: v for k, v in r.items() if k not in counted} for r in rows]

        items, next_cursor = await self.run(
            lambda: page_of(
                fetch,
                lambda row: shape(row, VISITOR_CONCISE, detailed),
                position,
                limit,
                VISITORS_WINDOW,
                "narrow it with since_hours or matched",
            )
        )
        return VisitorsPage(
            visitors=items,
            next_cursor=next_cursor,
            uncounted_events=counted["uncounted_events"],
            freshness=freshness(
                "local store (rb2b_visitors)",
                counted["as_of"],
                "data_as_of is when the rb2b_visitors asset last counted landed visits; visits landed since "
                "(uncounted_events) appear after its next run",
            ),
        )

    async def enrichment_lookup(
        self,
        email: Email = None,
        domain: Annotated[
            str | None, Field(max_length=253, description="a company's domain or website, e.g. acme.com")
        ] = None,
        max_age_days: Annotated[
            int | None, Field(ge=1, le=365, description="ask again if the cached answer is older than this")
        ] = None,
        wait: Annotated[
            bool,
            Field(
                description="true (default): wait for a paid lookup (up to a few minutes); false: answer "
                "status 'pending' at once and fetch in the background (call again later)"
            ),
        ] = True,
        detailed: Detailed = False,
    ) -> EnrichmentAnswer:
        """Enrich a person (`email`) or a company (`domain`): answered from the enrichment cache when
        it holds an answer within its TTL (free, milliseconds, `cached`: true); otherwise the
        enrichment vendor is asked once — however many agents ask at the same time — and the answer
        cached. `status` is hit, not_found (also cached: no match) or pending; `cost_usd` says what
        this answer cost. Repeating a lookup within the TTL costs nothing."""
        if bool(email) == bool(domain):
            raise ToolFailure("pass exactly one of email (a person) or domain (a company)")
        max_age = None if max_age_days is None else timedelta(days=max_age_days)
        answer = await self.run(
            lambda: agent_api.enrich(email, domain=domain, max_age=max_age, wait=wait, **self.api())
        )
        item = fit_single(shape(answer, ENRICHMENT_CONCISE, detailed))
        return EnrichmentAnswer(
            enrichment=item if detailed else concise_profile(item),
            freshness=freshness(
                "enrichment cache" if answer["cached"] else "enrichment vendor (asked just now)",
                answer["fetched_at"],
                f"answers are cached for {self.settings.enrichment_ttl_days} days (expires_at); max_age_days "
                "asks for a younger one",
            ),
        )

    async def outbox_job_status(
        self,
        job_ids: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=64)]],
            Field(min_length=1, max_length=20, description="job ids returned by the write tools (1-20)"),
        ],
        detailed: Detailed = False,
    ) -> JobsAnswer:
        """Where queued writes stand: `queued`/`retry` (waiting), `sending`, `sent` (with the vendor's
        `provider_ref`), `dead` (the vendor refused; `last_error` says why) or `unknown` (the vendor
        could not say whether it went; a person reviews it)."""

        def read() -> tuple[list[dict[str, Any]], list[str]]:
            found, missing = [], []
            for job_id in dict.fromkeys(job_ids):
                try:
                    found.append(shape(agent_api.job_status(job_id, **self.api()), JOB_CONCISE, detailed))
                except InvalidRequest:
                    missing.append(job_id)
            return found, missing

        jobs, missing = await self.run(read)
        if not jobs:
            raise ToolFailure(
                f"no outbox job with id {', '.join(map(repr, missing))}; job ids come from outbox_enqueue_email "
                "and the contacts_* write tools"
            )
        return JobsAnswer(
            jobs=jobs,
            not_found=missing,
            freshness=freshness("local store (outbox)", datetime.now(UTC), "read now; drains update jobs as they go"),
        )

    async def pipeline_status(self, detailed: Detailed = False) -> StatusAnswer:
        """The pipeline's health: configured vendors, contacts per CRM account, outbox jobs by status
        and any writes blocked behind a failed one, sync positions, recently quarantined webhooks.
        Use it when writes do not progress or data looks stale."""
        status = jsonable(await self.run(lambda: collect_status(self.store(), self.settings)))
        newest = max((s["updated_at"] for s in status.get("sync_state", []) if s.get("updated_at")), default=None)
        summary = status if detailed else concise_status(status)
        return StatusAnswer(
            status=fit_single(summary),
            freshness=freshness(
                "local store",
                datetime.fromisoformat(newest) if newest else None,
                "counts are read now; data_as_of is the latest sync position (sync_state); "
                "detailed=true lists every stream",
            ),
        )

    # -- writes ------------------------------------------------------------------------------------

    async def outbox_enqueue_email(
        self,
        subject: Annotated[str, Field(min_length=1, max_length=998)],
        html: Annotated[str, Field(min_length=1, max_length=524_288, description="HTML body (at most 512 KiB)")],
        idempotency_key: IdempotencyKey,
        to: Email = None,
        contact_id: Annotated[
            str | None, Field(max_length=128, description="a synced contact; the email goes to its address")
        ] = None,
        send_after: Annotated[
            datetime | None, Field(description="ISO 8601 time with timezone; not sent before it")
        ] = None,
        reply_to_ref: Annotated[
            str | None, Field(max_length=256, description="vendor id of a message to answer in its thread")
        ] = None,
    ) -> WriteAnswer:
        """Queue one email, to an address (`to`) or a synced contact (`contact_id`), and get its job id
        at once; the outbox sends it within the vendor's rate limits, retrying as needed. Nothing is
        sent twice for one idempotency_key. Follow it with outbox_job_status."""
        if send_after is not None and send_after.tzinfo is None:
            raise ToolFailure("send_after needs a timezone, e.g. 2030-01-01T09:00:00Z or 2030-01-01T09:00:00+02:00")
        return await self._write(
            {"send_email": idempotency_key},
            lambda: [
                agent_api.enqueue_email(
                    to,
                    subject,
                    html,
                    contact_id=contact_id,
                    idempotency_key=idempotency_key,
                    send_after=send_after,
                    reply_to_ref=reply_to_ref,
                    **self.api(),
                )
            ],
            "poll outbox_job_status with the job id; `sent` carries the vendor's message id",
        )

    async def contacts_upsert(
        self,
        email: Annotated[str, Field(min_length=3, max_length=320, description="the contact's email (the CRM's key)")],
        idempotency_key: IdempotencyKey,
        first_name: Name = None,
        last_name: Name = None,
        phone: Name = None,
        company_name: Name = None,
        custom_fields: CustomFields = None,
    ) -> WriteAnswer:
        """Create a CRM contact, or update the one with this email (the CRM's dedupe rule); queued, job
        id at once. A contact we already hold shows the change in local reads at once; a new one
        appears after the CRM has created it and the next sync."""
        fields = _given(
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            company_name=company_name,
            custom_fields=custom_fields or None,
        )
        return await self._write(
            {"upsert_contact": idempotency_key},
            lambda: [agent_api.upsert_contact(email, idempotency_key=idempotency_key, **fields, **self.api())],
            "local reads show the change now; poll outbox_job_status to see the CRM confirm it",
        )

    async def contacts_update(
        self,
        contact_id: ContactId,
        idempotency_key: IdempotencyKey,
        first_name: Name = None,
        last_name: Name = None,
        email: Email = None,
        phone: Name = None,
        company_name: Name = None,
        custom_fields: CustomFields = None,
        add_tags: Tags = None,
        remove_tags: Tags = None,
    ) -> WriteAnswer:
        """Change a synced contact: any of its fields, and tags to add or remove (other tags stay).
        Queued (one job per kind of change) and applied to the local copy at once, so your next read
        shows it (`pending`: true until the CRM confirms). Fields not passed are left as they are."""
        fields = _given(
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            company_name=company_name,
            custom_fields=custom_fields or None,
        )
        if not fields and not add_tags and not remove_tags:
            raise ToolFailure(
                "nothing to change: pass a field (first_name, last_name, email, phone, company_name, "
                "custom_fields), add_tags or remove_tags"
            )
        keys = {"update_contact": idempotency_key} if fields else {}
        if add_tags:
            keys["add_tags"] = f"{idempotency_key}:add_tags"
        if remove_tags:
            keys["remove_tags"] = f"{idempotency_key}:remove_tags"

        def queue() -> list[str]:
            api = self.api()
            jobs = []
            if fields:
                jobs.append(
                    agent_api.update_contact(contact_id, idempotency_key=keys["update_contact"], **fields, **api)
                )
            if add_tags:
                jobs.append(agent_api.add_tags(contact_id, add_tags, idempotency_key=keys["add_tags"], **api))
            if remove_tags:
                jobs.append(agent_api.remove_tags(contact_id, remove_tags, idempotency_key=keys["remove_tags"], **api))
            return jobs

        return await self._write(
            keys,
            queue,
            "local reads show the change now (pending: true); poll outbox_job_status to see the CRM confirm it",
        )

    async def contacts_delete(self, contact_id: ContactId, idempotency_key: IdempotencyKey) -> WriteAnswer:
        """Delete a contact in the CRM (queued). Local reads stop returning it at once; if the CRM
        refuses, it comes back. This cannot be undone once the CRM has deleted it."""
        return await self._write(
            {"delete_contact": idempotency_key},
            lambda: [agent_api.delete_contact(contact_id, idempotency_key=idempotency_key, **self.api())],
            "poll outbox_job_status to see the CRM confirm the deletion",
        )

    async def _write(self, keys: Mapping[str, str], queue: Callable[[], list[str]], next_step: str) -> WriteAnswer:
        """Queue through the agent API (``keys``: action -> idempotency key, in the order ``queue``
        queues them); answer the jobs, and whether their keys had queued them before."""

        def run() -> WriteAnswer:
            started = datetime.now(UTC)
            jobs = []
            for action, job_id in zip(keys, queue(), strict=True):
                job = agent_api.job_status(job_id, **self.api())
                if job["action"] != action:
                    raise ToolFailure(
                        f"idempotency_key {keys[action]!r} was already used for a {job['action']} job ({job_id}); "
                        "use a new key for a different change"
                    )
                jobs.append((job, job["created_at"] < started))
            queued = [
                QueuedJob(job_id=j["id"], action=j["action"], status=j["status"], idempotency_key=keys[j["action"]])
                for j, _ in jobs
            ]
            now = datetime.now(UTC)
            return WriteAnswer(
                jobs=queued,
                already_queued=all(earlier for _, earlier in jobs),
                next_step=f"{next_step} (job ids: {', '.join(q.job_id for q in queued)})",
                freshness=freshness("local store (outbox)", now, "job status read now"),
            )

        return await self.run(run)

    # -- freshness ---------------------------------------------------------------------------------

    def _contacts_freshness(self, items: list[dict[str, Any]], *, read_through: bool = False) -> Freshness:
        return freshness(
            "CRM (read through just now)" if read_through else "local store (contacts)",
            oldest({"items": items}, ("synced_at",)),
            f"contacts sync from the {self.settings.crm_provider} CRM at least every "
            f"{self.settings.contacts_freshness_minutes} min; data_as_of is the oldest synced_at shown; "
            "contacts_get with max_age_minutes reads one from the CRM; pending=true marks an agent's queued change",
        )


# -- helpers ---------------------------------------------------------------------------------------


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}

"""`make demo`: the whole story, unattended, on the embedded default (DuckDB) against sandbox vendors
that answer in 300-800 ms under GHL's real rate limit, in the order a deployment lives it:

1. contacts: a full ``ghl_contacts`` sync; changes in the CRM (one delete whose webhook is lost),
   an incremental sync and the nightly reconciliation that catches the lost delete;
2. visitors: an RB2B burst (plus two malformed deliveries) lands through the receiver; some of the
   visitors then become CRM contacts, and ``rb2b_visitors`` matches them on its next run;
3. enrichment: ``clay_enrichments`` pays once per person; a second pass pays nothing;
4. agents: reads through the Python API and MCP (over HTTP, ``sync-pipeline serve``'s app) timed
   against the same read at the vendor; a few hundred emails queued, timed against sending one
   synchronously; ``send_outbox`` drains them under GHL's limit.

Every step runs as a real Dagster job (the runs land in ``DAGSTER_HOME`` for ``make dev``'s UI).
The report says what happened in sentences and tables; :mod:`.report` also writes an HTML page
of charts. The demo exits 0 only when every figure it reports equals what the store and the
sandbox counted themselves.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import dagster as dg
import httpx

from .. import agent
from ..providers import registry
from ..providers.lifecycle import close_provider
from ..records import OutboundEmail
from ..settings import Settings, environment, get_settings
from ..store import Store, ensure_migrated, open_store
from ..store import contacts as contacts_q
from ..store import outbox as outbox_q
from ..store import webhooks as webhooks_q
from ..store.overview import table_counts
from .figures import Figures, Latency, timed
from .report import format_report, write_html

# Dagster's per-event lines stay in the run logs (the UI shows them); the report says what happened.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SEED = 7
LATENCY_MS = (300.0, 800.0)
VENDORS = ("ghl", "clay", "rb2b")


def run_demo(
    *,
    contacts: int = 1000,
    emails: int = 300,
    visitors: int = 40,
    html: Path | None = None,
    latency_ms: tuple[float, float] = LATENCY_MS,
) -> int:
    """Run the story and print the report; 0 when every figure matches the store's and sandbox's counts."""
    from ..sandbox import LatencyConfig, SandboxConfig, start_sandbox
    from ..sandbox.server import ServerThread
    from ..serve import build_serve_app

    html = html or Path.cwd() / ".sync_pipeline" / "demo.html"
    config = SandboxConfig(latency=LatencyConfig(*latency_ms))
    print(
        f"Starting the sandbox vendors ({', '.join(VENDORS)}; answers take {latency_ms[0]:.0f}-{latency_ms[1]:.0f} ms)"
    )
    with start_sandbox(VENDORS, contacts=contacts, seed=SEED, config=config) as sandbox:
        env = {**sandbox.env, "RB2B_WEBHOOK_TOKEN": secrets.token_urlsafe(16)}
        with environment(env):
            settings = get_settings()
            store = ensure_migrated(open_store(settings))
            server = ServerThread(build_serve_app(store, settings), name="serve", lifespan=True)
            serve_url = server.start()
            try:
                story = Story(store, settings, sandbox.urls, serve_url, sandbox.state)
                story.run(contacts=contacts, emails=emails, visitors=visitors)
            finally:
                server.stop()
    print(format_report(story.figures))
    write_html(story.figures, html)
    print(f"\nCharts: {html}")
    print(
        "Demo OK: every figure above equals the store's and the sandbox's own counts."
        if story.figures.ok
        else "Demo FAILED: a figure above disagrees with the store's or the sandbox's count."
    )
    return 0 if story.figures.ok else 1


class Story:
    """The demo's steps over one store, one set of sandboxes and one receiver/MCP server."""

    def __init__(
        self, store: Store, settings: Settings, urls: dict[str, str], serve_url: str, state: Callable[[str], Any]
    ) -> None:
        from ..definitions import defs

        self.store, self.settings, self.urls, self.serve_url = store, settings, urls, serve_url
        self.vendor_state = state
        self.defs = defs
        self.account = contacts_q.Account.configured(settings)
        self.instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
        self.figures = Figures()
        self.rng = random.Random(SEED)
        self.checks_run, self.checks_failed = 0, []

    def run(self, *, contacts: int, emails: int, visitors: int) -> None:
        self._admin("ghl", "webhooks", {"url": f"{self.serve_url}/webhooks/ghl"})
        self.sync_contacts(contacts)
        self.land_visitors(visitors)
        self.enrich()
        ids = self.agents_read()
        self.agents_write(ids, emails)
        self.drain(emails)
        self.count_vendor_calls()

    # -- 1. contacts ----------------------------------------------------------------------------

    def sync_contacts(self, contacts: int) -> None:
        step(f"Syncing {contacts:,} contacts from the GHL sandbox (job ghl_contacts_sync, full)")
        full = self._materialize("ghl_contacts_sync", "ghl_contacts", {"full": True})
        ids = [c["id"] for c in agent.find_contacts(query="@", limit=10, store=self.store, settings=self.settings)]
        self._admin(
            "ghl",
            "contacts/mutate",
            {
                "random_updates": 20,
                "deletes": [ids[0]],
                "creates": [{"firstName": "Demo", "lastName": "Newcomer", "email": "newcomer@demo.example"}],
            },
        )
        self._admin("ghl", "contacts/mutate", {"deletes": [ids[1]], "emit_webhooks": False})  # its webhook is lost
        self.figures.crm_changes = "20 updates, 1 create, 2 deletes (one of them without a webhook)"
        time.sleep(1.0)  # the sandbox delivers its webhooks to the receiver
        step("Incremental sync after those CRM changes (job ghl_contacts_sync)")
        incremental = self._materialize("ghl_contacts_sync", "ghl_contacts", {"full": False})
        step("Nightly reconciliation (job ghl_reconcile): finds deletes whose webhook never came")
        result = self.defs.resolve_job_def("ghl_reconcile").execute_in_process(instance=self.instance, run_config=QUIET)
        f = self.figures
        f.contacts_full_calls, f.contacts_incremental_calls = int(full["api_calls"]), int(incremental["api_calls"])
        f.contacts_full_rows = int(full["rows_inserted"])
        f.reconciled_deletes = int(result.output_for_node("reconcile_contacts"))
        with self.store.transaction() as tx:
            f.contacts = contacts_q.row_counts(tx, self.account)["live"]
        live_at_vendor = _live_contacts(self.vendor_state("ghl").book)
        f.check("live contacts in the store", f.contacts, live_at_vendor, "GHL sandbox's live contacts")
        f.check("deletes caught by reconciliation", f.reconciled_deletes, 1, "deletes sent without a webhook")
        f.check(
            "the lost delete is gone locally",
            agent.get_contact(ids[1], store=self.store, settings=self.settings),
            None,
            "GHL sandbox (deleted)",
        )

    # -- 2. visitors ----------------------------------------------------------------------------

    def land_visitors(self, visitors: int) -> None:
        step(f"RB2B posts {visitors} visitors to the receiver, plus 2 malformed deliveries")
        token = self.settings.rb2b_webhook_token.reveal()
        self._admin("rb2b", "config", {"target_url": f"{self.serve_url}/webhooks/rb2b", "token": token})
        sent = self._admin("rb2b", "rb2b/send", {"count": visitors})
        for junk in (b"not json", b'{"Seen At": "yesterday"}'):
            httpx.post(f"{self.serve_url}/webhooks/rb2b", params={"token": token}, content=junk).raise_for_status()
        step("Counting visitors (job rb2b_visitors_refresh)")
        self._materialize("rb2b_visitors_refresh", "rb2b_visitors")
        people = [
            v
            for v in agent.recent_visitors(limit=500, store=self.store, settings=self.settings)
            if v.get("business_email")
        ]
        emails = sorted({v["business_email"] for v in people})
        known = emails[: len(emails) // 2]
        step(f"{len(known)} of those visitors become CRM contacts; an incremental sync and the next run match them")
        creates = [{"firstName": "Visitor", "lastName": str(i), "email": e} for i, e in enumerate(known)]
        self._admin("ghl", "contacts/mutate", {"creates": creates})
        time.sleep(1.0)
        self._materialize("ghl_contacts_sync", "ghl_contacts", {"full": False})
        self._materialize("rb2b_visitors_refresh", "rb2b_visitors")
        f = self.figures
        f.visitors_sent = int(sent["accepted"])
        rows = agent.recent_visitors(limit=500, store=self.store, settings=self.settings)
        f.visitor_people = len({v["profile_key"] for v in rows if v["kind"] == "person"})
        f.visitor_companies = len({v["profile_key"] for v in rows if v["kind"] == "company"})
        f.visitors_matched = len({v["business_email"] for v in rows if v["contact_id"]})
        with self.store.transaction() as tx:
            f.visitors_quarantined, _ = webhooks_q.quarantine_count(tx, source="rb2b")
            landed = table_counts(tx)["visitor_events"]
        f.check("visitor deliveries landed", landed, f.visitors_sent, "RB2B sandbox's accepted posts")
        f.check("visitors matched to the new contacts", f.visitors_matched, len(known), "contacts created for them")
        f.check("malformed deliveries quarantined", f.visitors_quarantined, 2, "malformed posts sent")

    # -- 3. enrichment --------------------------------------------------------------------------

    def enrich(self) -> None:
        f = self.figures
        for label in ("first pass", "second pass"):
            step(f"Enriching contacts and visitors through the cache (job enrichment_refresh, {label})")
            meta = self._materialize("enrichment_refresh", "clay_enrichments")
            f.enrichment_passes.append(
                {
                    k: float(meta.get(k, 0))
                    for k in ("hits", "misses", "paid_calls", "credits", "spent_usd", "avoided_usd", "hit_rate")
                }
            )
        first, second = f.enrichment_passes
        f.check("paid lookups on the second pass", second["paid_calls"], 0, "nothing expired in between")
        credits = self.vendor_state("clay").stats.snapshot()["enrichment_credits"]
        f.check("enrichment credits paid", first["credits"] + second["credits"], credits, "Clay sandbox's charges")

    # -- 4. agents ------------------------------------------------------------------------------

    def agents_read(self) -> list[str]:
        ids = [c["id"] for c in agent.find_contacts(query="@", limit=500, store=self.store, settings=self.settings)]
        picks = [self.rng.choice(ids) for _ in range(200)]
        step("Agents read contacts: the Python API and MCP (local), and the same read at the vendor")
        python, found = timed("Python API (local)", [lambda i=i: agent.get_contact(i, store=self.store) for i in picks])
        mcp = self._mcp_reads(picks[:50])
        crm = registry.crm_provider(self.settings, self.store)
        try:
            vendor, _ = timed("GHL API (direct)", [lambda i=i: crm.get_contact(i) for i in picks[:15]])
        finally:
            close_provider(crm)
        self.figures.reads = [python, mcp, vendor]
        self.figures.check(
            "local reads that found their contact", sum(r is not None for r in found), len(picks), "contacts asked for"
        )
        return ids

    def _mcp_reads(self, ids: list[str]) -> Latency:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        samples: list[float] = []

        async def session() -> None:
            async with (
                httpx.AsyncClient(timeout=30) as http,
                streamable_http_client(f"{self.serve_url}/mcp", http_client=http) as (read, write, _),
                ClientSession(read, write) as mcp,
            ):
                await mcp.initialize()
                for contact_id in ids:
                    started = time.perf_counter()
                    result = await mcp.call_tool("contacts_get", {"contact_id": contact_id})
                    samples.append((time.perf_counter() - started) * 1000)
                    if result.isError:
                        raise RuntimeError(f"MCP contacts_get failed: {result.content}")

        anyio.run(session)
        return Latency("MCP over HTTP (local)", tuple(samples))

    def agents_write(self, ids: list[str], emails: int) -> None:
        step(f"Agents queue {emails} emails (the Python API) and time one synchronous send for comparison")
        targets = [ids[i % len(ids)] for i in range(emails)]
        queue = [
            lambda i=i, cid=cid: agent.enqueue_email(
                subject="Quick question",
                html=f"<p>Hi #{i}</p>",
                contact_id=cid,
                idempotency_key=f"demo:{i}",
                store=self.store,
                settings=self.settings,
            )
            for i, cid in enumerate(targets)
        ]
        enqueue, _ = timed("enqueue (Python API)", queue)
        email = registry.email_provider(self.settings, self.store)
        try:
            sends = [
                lambda i=i: email.send(
                    OutboundEmail(f"demo-direct:{i}", f"direct{i}@demo.example", "Direct", "<p>sent at once</p>")
                )
                for i in range(5)
            ]
            direct, _ = timed("synchronous send (GHL API)", sends)
        finally:
            close_provider(email)
        self.figures.enqueues = [enqueue, direct]
        self.figures.direct_sends = len(sends)

    def drain(self, emails: int) -> None:
        step("Draining the outbox (job send_outbox) under GHL's limit of 100 requests per 10 s")
        started = time.monotonic()
        with self._progress(lambda: f"sent {self._outbox().get('sent', 0):,} of {emails:,}"):
            result = self.defs.resolve_job_def("send_outbox").execute_in_process(
                instance=self.instance,
                run_config={**QUIET, "ops": {"send_ghl": {"config": {"concurrency": 8}}}},
                raise_on_error=False,
            )
        f = self.figures
        f.drain_seconds = time.monotonic() - started
        f.outbox = self._outbox()
        stats = self.vendor_state("ghl").stats.snapshot()
        f.check("the send_outbox run succeeded", result.success, True, "Dagster")
        f.check(
            "emails sent",
            f.outbox.get("sent", 0),
            stats["emails_accepted"] - f.direct_sends,
            "GHL sandbox's accepted emails (minus the direct sends)",
        )
        f.check("emails sent twice", stats["duplicate_sends"], 0, "GHL sandbox's duplicate detector")

    def count_vendor_calls(self) -> None:
        f = self.figures
        snapshots = {v: self.vendor_state(v).stats.snapshot() for v in ("ghl", "clay")}
        f.vendor_calls_made = sum(s["requests_total"] for s in snapshots.values())
        f.rate_limited = sum(s["rate_limited"] for s in snapshots.values())
        f.vendor_calls_avoided = {
            "agent reads answered locally": sum(len(r.samples_ms) for r in f.reads[:2]),
            "enrichments answered by the cache": int(sum(p["hits"] for p in f.enrichment_passes)),
        }
        f.check("429s met", f.rate_limited, 0, "GHL and Clay sandboxes")
        f.check(f"asset checks failed (of {self.checks_run} run)", self.checks_failed, [], "Dagster asset checks")

    # -- helpers --------------------------------------------------------------------------------

    def _materialize(self, job: str, asset: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
        run_config: dict[str, Any] = {**QUIET, **({"ops": {asset: {"config": config}}} if config else {})}
        result = self.defs.resolve_job_def(job).execute_in_process(instance=self.instance, run_config=run_config)
        self.checks_run += len(result.get_asset_check_evaluations())
        self.checks_failed += [f"{job}: {c.check_name}" for c in result.get_asset_check_evaluations() if not c.passed]
        return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}

    def _admin(self, vendor: str, path: str, body: dict[str, Any]) -> Any:
        answer = httpx.post(f"{self.urls[vendor]}/_sandbox/{path}", json=body, timeout=120)
        return answer.raise_for_status().json()

    def _outbox(self) -> dict[str, int]:
        with self.store.transaction() as tx:
            return outbox_q.count_by_status(tx)

    @contextmanager
    def _progress(self, line: Callable[[], str]) -> Iterator[None]:
        """Print ``line()`` every second on one terminal line while the block runs."""
        done = threading.Event()

        def show() -> None:
            while not done.wait(1.0):
                print(f"\r   {line()}", end="", flush=True)

        painter = threading.Thread(target=show, daemon=True)
        painter.start()
        try:
            yield
        finally:
            done.set()
            painter.join()
            print(f"\r   {line()}", flush=True)


def _live_contacts(book: Any) -> int:
    """Live contacts the GHL sandbox holds: its seeded ones, less those replaced or deleted, plus
    every stored (created or changed) one — the sandbox's own state, not our view of it."""
    stored, shadowed = book.overlay(None)
    return int(book.seeded.count - len(shadowed) + len(stored))


def step(text: str) -> None:
    print(f"-> {text}", flush=True)

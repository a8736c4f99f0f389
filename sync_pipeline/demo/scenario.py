"""`make demo`: the main jobs on the embedded default, against the local GHL sandbox, with a report.

What it does, in order, printing what happened at each step:
1. starts the GHL sandbox (real wire format and rate limits) and the webhook receiver on loopback;
2. materializes ``ghl_contacts`` (a full sync) with its checks, through Dagster;
3. changes contacts in the "CRM" (webhooks on, except one delete whose webhook is "lost"), then runs
   an incremental sync — far fewer calls than the full one — and the nightly reconciliation, which
   catches the lost delete;
4. an agent queues emails and a contact update (answered at once), the ``send_outbox`` job drains
   them; the sandbox confirms every email arrived exactly once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import httpx

from . import agent
from .defs.contacts.assets import ghl_contacts
from .defs.contacts.automation import ghl_reconcile_job
from .defs.contacts.checks import CHECKS
from .defs.outbox.job import send_outbox
from .defs.resources import ProvidersResource, StoreResource
from .settings import get_settings
from .status import collect_status, format_status
from .store import Store, ensure_migrated, open_store

# The report says what happened; Dagster's per-event lines stay in the run logs (see `make dev`).
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(*, contacts: int = 2000, emails: int = 100) -> int:
    """Run the demo scenario and print a report; 0 when every step did what it should."""
    from .sandbox import start_sandbox
    from .sandbox.server import ServerThread
    from .webhooks.app import build_app

    with start_sandbox(("ghl",), contacts=contacts, seed=7) as sandbox, _environment(sandbox.env):
        settings = get_settings()
        store = ensure_migrated(open_store(settings))
        receiver = ServerThread(build_app(store, settings), name="webhooks")
        hook_url = f"{receiver.start()}/webhooks/ghl"
        ghl_url = sandbox.urls["ghl"]
        httpx.post(f"{ghl_url}/_sandbox/webhooks", json={"url": hook_url}).raise_for_status()
        print(f"== sandbox GHL at {ghl_url} ({contacts} contacts), webhooks -> {hook_url}")
        print(f"== store {store.dialect} {store.url}")
        try:
            ok = _scenario(store, ghl_url, emails)
        finally:
            receiver.stop()
        stats = httpx.get(f"{ghl_url}/_sandbox/stats").json()
        print(
            "== sandbox says:",
            {k: stats.get(k) for k in ("requests_total", "rate_limited", "emails_accepted", "duplicate_sends")},
        )
        print(format_status(collect_status(store, settings)))
        ok = ok and stats.get("duplicate_sends", 0) == 0 and stats.get("rate_limited", 0) == 0
    print("== demo", "OK" if ok else "FAILED")
    return 0 if ok else 1


def _scenario(store: Store, ghl_url: str, emails: int) -> bool:
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    resources = {"store": StoreResource(), "providers": ProvidersResource()}

    full = _materialize_contacts(instance, resources, "full sync", full=True)
    contact_ids = [r["id"] for r in agent.find_contacts(query="@", limit=max(emails, 10), store=store)]
    mutate = {
        "random_updates": 20,
        "deletes": [contact_ids[0]],
        "creates": [{"firstName": "Demo", "lastName": "Newcomer", "email": "newcomer@demo.example"}],
    }
    httpx.post(f"{ghl_url}/_sandbox/contacts/mutate", json=mutate).raise_for_status()
    lost = contact_ids[1]
    httpx.post(f"{ghl_url}/_sandbox/contacts/mutate", json={"deletes": [lost], "emit_webhooks": False})
    time.sleep(0.5)  # let the sandbox deliver its webhooks
    incremental = _materialize_contacts(instance, resources, "incremental sync after 20 updates, 1 create, 2 deletes")
    print(f"   incremental sync used {incremental['api_calls']} API calls; the full sync used {full['api_calls']}")

    reconcile = ghl_reconcile_job.execute_in_process(instance=instance, resources=resources, run_config=QUIET)
    deleted = reconcile.output_for_node("reconcile_contacts")
    print(f"== reconciliation: {deleted} contact(s) deleted in GHL without a webhook were soft-deleted")
    lost_row = agent.get_contact(lost, store=store)

    started = time.perf_counter()
    jobs = [
        agent.enqueue_email(subject="Quick question", html=f"<p>Hi #{i}</p>", contact_id=cid, store=store)
        for i, cid in enumerate(contact_ids[2 : 2 + emails])
    ]
    agent.update_contact(contact_ids[2], first_name="Renamed", store=store)
    enqueue_ms = (time.perf_counter() - started) * 1000 / max(len(jobs) + 1, 1)
    print(
        f"== agent queued {len(jobs)} emails + 1 contact update, {enqueue_ms:.2f} ms per call; "
        f"its next read sees first_name={agent.get_contact(contact_ids[2], store=store)['first_name']!r}"
    )
    drained = send_outbox.execute_in_process(instance=instance, resources=resources, run_config=QUIET)
    report = drained.output_for_node("report_outbox")
    print(f"== send_outbox: {report}")
    statuses = {agent.job_status(j, store=store)["status"] for j in jobs}
    return (
        full["dagster/row_count"] > 0
        and incremental["api_calls"] < full["api_calls"]
        and deleted >= 1
        and lost_row is None
        and statuses == {"sent"}
    )


def _materialize_contacts(
    instance: dg.DagsterInstance, resources: dict[str, Any], label: str, *, full: bool = False
) -> dict[str, Any]:
    run_config = {**QUIET, "ops": {"ghl_contacts": {"config": {"full": full}}}}
    result = dg.materialize([ghl_contacts, *CHECKS], instance=instance, resources=resources, run_config=run_config)
    meta = {k: v.value for k, v in result.asset_materializations_for_node("ghl_contacts")[0].metadata.items()}
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    print(
        f"== ghl_contacts ({label}): {meta.get('dagster/row_count')} live rows; inserted {meta.get('rows_inserted')}, "
        f"updated {meta.get('rows_updated')}, unchanged {meta.get('rows_unchanged')}; "
        f"{meta.get('api_calls', 0)} API calls, {meta.get('api_rate_limited', 0)} 429s; "
        f"checks {'all passed' if all(checks.values()) else checks}"
    )
    meta.setdefault("api_calls", 0)
    return meta


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Point settings at the sandbox for the demo's duration."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()

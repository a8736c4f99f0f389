"""An agent's callback URL hears how its job ended, retried until delivered or given up."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sync_pipeline import agent, cli
from sync_pipeline.outbox.callbacks import MAX_ATTEMPTS, deliver_callbacks
from sync_pipeline.store import Store
from sync_pipeline.store import outbox as outbox_q


def _finished_job(store: Store, url: str, key: str, status: str = "sent") -> str:
    now = datetime.now(UTC)
    with store.transaction() as tx:
        job, _ = outbox_q.enqueue(
            tx, outbox_q.NewJob("send_email", "ghl", {}, key, to_email="a@b.com", callback_url=url), now
        )
        if status == "sent":
            outbox_q.mark_sent(tx, job, "msg-1", now)
        else:
            outbox_q.mark_final(tx, job, status, "rejected: invalid recipient", now)
    return job


def test_callbacks_are_posted_once_and_retried_on_failure(store: Store, webhook_sink) -> None:
    sent = _finished_job(store, webhook_sink.url, "k1")
    dead = _finished_job(store, webhook_sink.url, "k2", status="dead")
    webhook_sink.statuses = [200, 503]  # the second callback fails the first time
    assert deliver_callbacks(store) == {"delivered": 1, "retry": 1, "failed": 0}
    assert deliver_callbacks(store) == {"delivered": 1, "retry": 0, "failed": 0}
    assert deliver_callbacks(store) == {"delivered": 0, "retry": 0, "failed": 0}  # nothing left
    bodies = [json.loads(b) for b in webhook_sink.bodies()]
    assert {(b["job_id"], b["status"]) for b in bodies} == {(sent, "sent"), (dead, "dead")}
    assert next(b for b in bodies if b["job_id"] == sent)["provider_ref"] == "msg-1"
    assert next(b for b in bodies if b["job_id"] == dead)["error"] == "rejected: invalid recipient"


def test_unreachable_callback_gives_up_after_max_attempts(store: Store) -> None:
    job = _finished_job(store, "http://127.0.0.1:9/nowhere", "k3")
    for _ in range(MAX_ATTEMPTS):
        deliver_callbacks(store)
    with store.transaction() as tx:
        row = outbox_q.get_job(tx, job)
    assert (row["callback_status"], row["callback_attempts"]) == ("failed", MAX_ATTEMPTS)


def test_jobs_still_queued_get_no_callback_yet(store: Store, webhook_sink) -> None:
    with store.transaction() as tx:
        outbox_q.enqueue(
            tx, outbox_q.NewJob("send_email", "ghl", {}, "k4", callback_url=webhook_sink.url), datetime.now(UTC)
        )
    assert deliver_callbacks(store) == {"delivered": 0, "retry": 0, "failed": 0}


def test_cli_drain_delivers_callbacks(ready, webhook_sink, capsys) -> None:
    """`sync-pipeline outbox drain` ends as every drain does: each finished job's result reaches
    its callback URL (before, only the Dagster job delivered callbacks)."""
    to = agent.find_contacts(query="@", limit=1, store=ready.store, settings=ready.settings)[0]["email"]
    job = agent.enqueue_email(
        to, "Hi", "<p>x</p>", callback_url=webhook_sink.url, store=ready.store, settings=ready.settings
    )
    ready.store.close()  # the CLI opens the store itself
    assert cli.main(["outbox", "drain"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["sent"], report["callbacks_delivered"]) == (1, 1)
    [body] = [json.loads(b) for b in webhook_sink.bodies()]
    assert (body["job_id"], body["status"]) == (job, "sent")

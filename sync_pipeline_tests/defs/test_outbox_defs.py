"""The outbox Dagster definitions executed for real against the GHL sandbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline import agent
from sync_pipeline.defs.outbox.job import send_outbox
from sync_pipeline.defs.outbox.sensor import outbox_sensor
from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.status import collect_status, format_status
from sync_pipeline.store import outbox as outbox_q
from sync_pipeline.store.outbox import JobStatus
from sync_pipeline_tests.ghl_deployment import sync_with


def _resources(wired) -> dict:
    return {"store": StoreResource(db_url=wired.store.url), "providers": ProvidersResource()}


def get_send_outbox() -> dg.JobDefinition:
    """The job as the code location serves it (resources bound), for child processes to rebuild."""
    from sync_pipeline.definitions import defs

    return defs.resolve_job_def("send_outbox")


def test_send_outbox_job_drains_and_reports(wire) -> None:
    wired = wire(contacts=200)
    sync_with(wired, page_size=500)
    kw = {"store": wired.store, "settings": wired.settings}
    contacts = agent.find_contacts(query="@", limit=30, **kw)
    jobs = [agent.enqueue_email(subject="Hi", html="<p>x</p>", contact_id=c["id"], **kw) for c in contacts[:25]]
    agent.add_tags(contacts[0]["id"], ["drained"], **kw)
    with dg.instance_for_test() as instance:
        result = send_outbox.execute_in_process(
            instance=instance,
            resources=_resources(wired),
            run_config={"ops": {"plan_outbox": {"config": {"chunk_size": 10}}}},
        )
        assert result.success
        report = result.output_for_node("report_outbox")
        steps = {e.step_key for e in result.all_events if e.step_key}
    assert report["sent"] == 26 and report["dead"] == 0 and report["api_429s"] == 0
    assert report["send_email.sent"] == 25 and report["add_tags.sent"] == 1
    assert {"send_ghl[ghl_0]", "send_ghl[ghl_1]", "send_ghl[ghl_2]"} <= steps  # chunks fanned out
    assert {agent.job_status(j, **kw)["status"] for j in jobs} == {"sent"}
    assert wired.sandbox.admin("stats")["emails_accepted"] == 25


def test_send_outbox_multiprocess_runs_chunks_as_steps(wire) -> None:
    """Real multiprocess execution on the shared store: each chunk is a step in its own process."""
    wired = wire(contacts=100)
    sync_with(wired, page_size=500)
    kw = {"store": wired.store, "settings": wired.settings}
    for c in agent.find_contacts(query="@", limit=12, **kw):
        agent.enqueue_email(subject="Hi", html="<p>x</p>", contact_id=c["id"], **kw)
    wired.store.close()  # let the step processes have the DuckDB file
    with (
        dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance,
        dg.execute_job(
            dg.reconstructable(get_send_outbox),
            instance=instance,
            run_config={"ops": {"plan_outbox": {"config": {"chunk_size": 6}}}},
        ) as result,
    ):
        assert result.success
        report = result.output_for_node("report_outbox")
        send_steps = {e.step_key for e in result.all_events if e.step_key and e.step_key.startswith("send_ghl")}
    assert report["sent"] == 12 and len(send_steps) == 2
    assert wired.sandbox.admin("stats")["emails_accepted"] == 12


def test_outbox_sensor_requests_a_drain_only_when_jobs_are_due(wire) -> None:
    wired = wire(contacts=50)
    sync_with(wired, page_size=500)
    resources = _resources(wired)
    with dg.instance_for_test() as instance:
        idle = outbox_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        assert idle.run_requests == [] and "no outbox job is due" in idle.skip_message
        agent.enqueue_email("someone@example.com", "Hi", "<p>x</p>", store=wired.store, settings=wired.settings)
        due = outbox_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        assert len(due.run_requests) == 1 and due.run_requests[0].tags["sync_pipeline/due_jobs"] == "1"
        instance.create_run_for_job(job_def=send_outbox)  # a drain already queued
        busy = outbox_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
        assert busy.run_requests == [] and "still running" in busy.skip_message


def test_a_write_behind_an_unknown_job_is_not_due_and_says_why(wire) -> None:
    """The sensor asks the claim's own question: a CRM write queued behind an ``unknown`` write to
    the same contact can never be claimed, so no empty drain is started for it."""
    wired = wire(contacts=20)
    sync_with(wired, page_size=500)
    kw = {"store": wired.store, "settings": wired.settings}
    first, second = (c["id"] for c in agent.find_contacts(query="@", limit=2, **kw))
    stuck = agent.update_contact(first, first_name="Ann", **kw)
    waiting = agent.update_contact(first, first_name="Anne", **kw)
    behind_queued = agent.update_contact(second, first_name="Bo", **kw)
    agent.update_contact(second, first_name="Bob", **kw)  # waits behind a claimable job: plain order
    now = datetime.now(UTC)
    with wired.store.transaction() as tx:
        assert outbox_q.due_count(tx, now) == 2  # the head of each contact's queue
    claimed = outbox_q.claim(wired.store, owner="test", now=now, lease_until=now + timedelta(minutes=1), limit=1)
    assert [r["id"] for r in claimed] == [stuck]
    with wired.store.transaction() as tx:
        outbox_q.mark_final(tx, stuck, JobStatus.UNKNOWN, "vendor cannot tell whether it was sent", now)
        outbox_q.mark_sent(tx, behind_queued, "ref", now)  # its follower becomes claimable
        assert outbox_q.due_count(tx, now) == 1

    follower = outbox_q.claim(wired.store, owner="test", now=now, lease_until=now + timedelta(minutes=1), limit=5)
    with wired.store.transaction() as tx:
        outbox_q.mark_sent(tx, follower[0]["id"], "ref", now)
        assert outbox_q.due_count(tx, datetime.now(UTC)) == 0

    resources = _resources(wired)
    with dg.instance_for_test() as instance:
        tick = outbox_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
    assert tick.run_requests == []
    assert "no outbox job is due" in tick.skip_message
    assert f"job {waiting}" in tick.skip_message and f"waits for job {stuck}, which is unknown" in tick.skip_message

    status = collect_status(wired.store, wired.settings)
    assert [(b["job_id"], b["blocked_by"], b["blocked_by_status"]) for b in status["outbox_blocked"]] == [
        (waiting, stuck, "unknown")
    ]
    assert f"job {waiting} (update_contact) waits for job {stuck} [unknown]" in format_status(status)


def test_a_drain_that_ends_jobs_dead_fails_visibly_with_reasons(wire) -> None:
    """A job the vendor rejected needs a person: the run fails (not a green Success), the reason is
    logged at WARNING, and the counts ride on the failure's metadata."""
    wired = wire(contacts=20)
    sync_with(wired, page_size=500)
    kw = {"store": wired.store, "settings": wired.settings}
    fine, doomed = (c["id"] for c in agent.find_contacts(query="@", limit=2, **kw))
    agent.update_contact(fine, first_name="Kept", **kw)
    job = agent.update_contact(doomed, last_name="Never", **kw)
    wired.sandbox.admin("contacts/mutate", {"deletes": [doomed], "emit_webhooks": False})
    with dg.instance_for_test() as instance:
        result = send_outbox.execute_in_process(instance=instance, resources=_resources(wired), raise_on_error=False)
        assert not result.success
        records = instance.all_logs(result.run_id)
    warnings = [r.user_message for r in records if r.level == logging.WARNING]
    assert any(f"outbox job {job} (update_contact) ended dead: rejected" in w for w in warnings), warnings
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert (metadata["dead"].value, metadata["sent"].value) == (1, 1)
    assert agent.job_status(job, **kw)["status"] == "dead"

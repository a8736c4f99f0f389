"""The outbox Dagster definitions executed for real against the GHL sandbox."""

from __future__ import annotations

import dagster as dg

from sync_pipeline import agent
from sync_pipeline.defs.outbox.job import send_outbox
from sync_pipeline.defs.outbox.sensor import outbox_sensor
from sync_pipeline.defs.providers import ProvidersResource
from sync_pipeline.defs.resources import StoreResource
from sync_pipeline_tests.wiring import sync_with


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
            run_config={"ops": {"claim_outbox": {"config": {"chunk_size": 10}}}},
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
            run_config={"ops": {"claim_outbox": {"config": {"chunk_size": 4}}}},
        ) as result,
    ):
        assert result.success
        report = result.output_for_node("report_outbox")
        send_steps = {e.step_key for e in result.all_events if e.step_key and e.step_key.startswith("send_ghl")}
    assert report["sent"] == 12 and len(send_steps) == 3
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

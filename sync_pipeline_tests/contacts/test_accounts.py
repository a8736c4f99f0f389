"""One store, two CRM accounts (the demo's sandbox, then `make dev-sandbox`'s, or a changed
GHL_LOCATION_ID): each account syncs from its own position, and reads never mix them."""

from __future__ import annotations

import dagster as dg

from sync_pipeline import agent
from sync_pipeline.defs.contacts.automation import ghl_contacts_sensor
from sync_pipeline.defs.resources import ProvidersResource, StoreResource
from sync_pipeline.status import collect_status, format_status
from sync_pipeline_tests.contacts.test_contacts_sync import assert_converged
from sync_pipeline_tests.ghl_deployment import sync_with


def test_a_second_account_syncs_in_full_and_reads_never_mix(wire) -> None:
    first = wire(contacts=120, seed=1)
    report, _ = sync_with(first, page_size=100)
    assert report.counts.inserted == 120
    first_contacts = agent.find_contacts(query="@", limit=500, store=first.store)
    first_ids = {c["id"] for c in first_contacts}

    second = wire(contacts=300, seed=2)  # same store, another location
    assert second.settings.ghl_location_id != first.settings.ghl_location_id
    report, _ = sync_with(second, page_size=100)
    assert report.mode == "full" and report.counts.inserted == 300  # not resumed from the first cursor
    assert_converged(second)

    kw = {"store": second.store, "settings": second.settings}
    visible = {c["id"] for c in agent.find_contacts(query="@", limit=500, **kw)}
    assert len(visible) == 300 and not visible & first_ids
    assert agent.get_contact(next(iter(first_ids)), **kw) is None
    assert agent.find_contacts(email=first_contacts[0]["email"], **kw) == []  # a point lookup narrows too
    assert agent.find_contacts(email=first_contacts[0]["email"], store=first.store, settings=first.settings) == [
        first_contacts[0]
    ]

    status = collect_status(second.store, second.settings)
    by_account = {a["account"]: a for a in status["contacts_by_account"]}
    assert by_account[first.settings.ghl_location_id]["live"] == 120
    assert not by_account[first.settings.ghl_location_id]["configured"]
    assert by_account[second.settings.ghl_location_id]["configured"]
    assert "another account: agents do not read these" in format_status(status)

    resources = {"store": StoreResource(db_url=second.store.url), "providers": ProvidersResource()}
    with dg.instance_for_test() as instance:
        tick = ghl_contacts_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))
    assert tick.run_requests == []
    assert "contacts fresh" in tick.skip_message and "other accounts (120 of" in tick.skip_message

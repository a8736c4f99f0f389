"""A worker process of the single-flight test: enriches its share of emails against the Clay
sandbox through its own store connection, starting at an agreed moment, and prints its stats.

    python -m sync_pipeline_tests.enrichment.flight_worker SPEC_JSON
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from sync_pipeline.enrichment import Enricher
from sync_pipeline.providers.clay import ClayEnrichment
from sync_pipeline.settings import Secret
from sync_pipeline.store import Store, connect
from sync_pipeline.transport import CLAY_PROFILE, VendorClient, Window


def clay_on(store: Store, url: str, credentials: Mapping[str, str], **options: Any) -> ClayEnrichment:
    """A Clay provider on the sandbox at ``url``: limits far above what tests send (they measure
    the cache, not the limiter), results polled every 20 ms, limiter state in ``store``."""
    client = VendorClient(
        profile=CLAY_PROFILE,
        base_url=url,
        account=None,
        credentials=Secret(credentials["api_key"]),
        store=store,
        timeout=10.0,
        windows=(Window("second", 5_000, 1.0),),
    )
    options = {"poll_interval_s": 0.02, "max_wait_s": 30.0, **options}
    return ClayEnrichment(
        client,
        person_routine_id=credentials["person_routine_id"],
        company_routine_id=credentials["company_routine_id"],
        **options,
    )


def build(store: Store, spec: Mapping[str, Any], **options: Any) -> Enricher:
    """An enricher on ``store`` and the Clay sandbox the spec names."""
    return Enricher(store, [clay_on(store, spec["clay_url"], spec)], **{"wait_timeout_s": 60.0, **options})


def run(enricher: Enricher, emails: list[str], mode: str, start_at: float) -> dict[str, Any]:
    """Enrich ``emails`` one by one (an agent) or in batches of 25 (an asset run); return the stats."""
    time.sleep(max(0.0, start_at - time.time()))
    errors = []
    if mode == "single":
        for email in emails:
            try:
                enricher.lookup("person", email)
            except Exception as exc:  # reported, not raised: the test asserts there are none
                errors.append(f"{email}: {exc}")
    else:
        for start in range(0, len(emails), 25):
            outcomes = enricher.lookup_many("person", emails[start : start + 25])
            errors += [f"{k}: {v}" for k, v in outcomes.items() if isinstance(v, Exception)]
    return {**enricher.stats.as_metadata(), "errors": errors}


def main() -> None:
    spec = json.loads(sys.argv[1])
    store = connect(spec["db_url"])
    enricher = build(store, spec)
    try:
        print(json.dumps(run(enricher, spec["emails"], spec["mode"], spec["start_at"])))
    finally:
        enricher.close()
        store.close()


if __name__ == "__main__":
    main()

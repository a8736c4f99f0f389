"""ClayEnrichment and PdlEnrichment over real HTTP against their sandboxes: matches, real misses,
credits charged and priced, auth and credit errors, and 429s ridden out."""

from __future__ import annotations

import dataclasses

import pytest

from sync_pipeline.errors import AuthError, NotFound, PermanentVendorError, TransientVendorError
from sync_pipeline.settings import CLAY_USD_PER_CREDIT as CLAY_USD
from sync_pipeline.settings import PDL_USD_PER_CREDIT as PDL_USD
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

# Found and missed by every seed: "nobody" is the sandboxes' never-match prefix.
KNOWN, UNKNOWN = "ada.lovelace@northwind.com", "nobody@northwind.com"


# ---- Clay -------------------------------------------------------------------------------------


def test_clay_person_match_not_found_and_credits(make_clay, clay_sandbox: OutreachSandbox) -> None:
    clay = make_clay(clay_sandbox)

    hit = clay.enrich_person(" Ada.Lovelace@Northwind.com ")
    miss = clay.enrich_person(UNKNOWN)

    assert (hit.key, hit.found, hit.provider) == (KNOWN, True, "clay")
    assert hit.data["full_name"] == "Ada Lovelace" and hit.data["company_domain"] == "northwind.com"
    assert hit.cost_usd == pytest.approx(5 * CLAY_USD)
    assert (miss.found, dict(miss.data), miss.cost_usd) == (False, {}, pytest.approx(1 * CLAY_USD))
    assert clay_sandbox.stats()["enrichment_credits"] == 6.0


def test_clay_company_and_a_batch_of_people_in_one_run(make_clay, clay_sandbox: OutreachSandbox) -> None:
    clay = make_clay(clay_sandbox)

    company = clay.enrich_company("https://www.Northwind.com/about")
    people = clay.enrich_people([f"person{n}@example.com" for n in range(30)] + [UNKNOWN])

    assert company.key == "northwind.com" and company.found and company.data["name"] == "Northwind"
    assert [p.key for p in people][-1] == UNKNOWN and not people[-1].found
    runs = clay_sandbox.stats()["requests"]["POST /routines/{routine_id}/run"]
    assert runs == {"202": 2}  # one company run, one 31-row people run
    assert clay_sandbox.stats()["counters"]["rows_processed"] == 32


def test_clay_failed_row_and_a_run_that_outlasts_the_wait_are_transient(make_clay, outreach_sandbox_factory) -> None:
    from sync_pipeline.sandbox.clay.config import ClayConfig

    sandbox = outreach_sandbox_factory("clay", vendor_config=ClayConfig(processing_delay_s=0.05))
    with pytest.raises(TransientVendorError, match="timed out"):
        make_clay(sandbox).enrich_person("failing@acme.com")

    sandbox.admin("config", {"processing_delay_s": 60.0})
    with pytest.raises(TransientVendorError, match="still in progress"):
        make_clay(sandbox, max_wait_s=0.3).enrich_person(KNOWN)


def test_clay_bad_key_is_auth_error_and_exhausted_credits_are_permanent(
    make_clay, clay_sandbox: OutreachSandbox
) -> None:
    with pytest.raises(AuthError, match="CLAY_API_KEY"):
        make_clay(clay_sandbox, api_key="wrong").enrich_person(KNOWN)

    clay_sandbox.admin("config", {"credits_available": 3.0})
    with pytest.raises(PermanentVendorError) as raised:
        make_clay(clay_sandbox).enrich_person(KNOWN)
    assert raised.value.status == 402 and clay_sandbox.stats()["enrichment_credits"] == 0.0


def test_clay_429_with_retry_after_is_ridden_out(make_clay, clay_sandbox: OutreachSandbox) -> None:
    clay_sandbox.admin("faults", {"burst_429": 1})

    assert make_clay(clay_sandbox).enrich_person(KNOWN).found
    assert clay_sandbox.stats()["rate_limited"] == 1


# ---- PDL --------------------------------------------------------------------------------------


def test_pdl_person_match_and_a_404_miss_charged_nothing(make_pdl, pdl_sandbox: OutreachSandbox) -> None:
    pdl = make_pdl(pdl_sandbox)

    hit = pdl.enrich_person(KNOWN)
    miss = pdl.enrich_person(UNKNOWN)

    assert hit.found and hit.data["work_email"] == KNOWN and hit.data["likelihood"] == 8
    assert hit.cost_usd == pytest.approx(PDL_USD)
    assert (miss.found, miss.cost_usd) == (False, 0.0)
    assert pdl_sandbox.stats()["enrichment_credits"] == 1.0


def test_pdl_404_from_an_unknown_route_is_a_wrong_base_url_not_a_miss(make_pdl, pdl_sandbox: OutreachSandbox) -> None:
    misconfigured = dataclasses.replace(pdl_sandbox, url=f"{pdl_sandbox.url}/api")  # e.g. a copied path prefix

    with pytest.raises(PermanentVendorError, match="check PDL_BASE_URL") as wrong:
        make_pdl(misconfigured).enrich_person(KNOWN)
    assert wrong.value.status == 404 and not isinstance(wrong.value, NotFound)


def test_pdl_company_reads_the_top_level_fields(make_pdl, pdl_sandbox: OutreachSandbox) -> None:
    company = make_pdl(pdl_sandbox).enrich_company("WWW.northwind.com")

    assert company.key == "northwind.com" and company.found
    assert company.data["display_name"] == "Northwind" and "status" not in company.data


def test_pdl_rate_headers_are_read_in_the_minute_dict_style(make_pdl, pdl_sandbox: OutreachSandbox) -> None:
    pdl = make_pdl(pdl_sandbox)
    pdl.enrich_person(KNOWN)

    assert pdl._client.limiter.windows()["minute"] == "1000/60s"
    assert pdl_sandbox.exchanges[0].response_headers["x-ratelimit-remaining"] == "{'minute': 999}"


def test_pdl_bad_key_exhausted_credits_and_429(make_pdl, pdl_sandbox: OutreachSandbox) -> None:
    with pytest.raises(AuthError, match="PDL_API_KEY"):
        make_pdl(pdl_sandbox, api_key="wrong").enrich_person(KNOWN)

    pdl_sandbox.admin("faults", {"burst_429": 1})
    assert make_pdl(pdl_sandbox).enrich_person(KNOWN).found

    pdl_sandbox.admin("config", {"credits_available": 0})
    with pytest.raises(PermanentVendorError, match="account maximum") as raised:
        make_pdl(pdl_sandbox).enrich_person(KNOWN)
    assert raised.value.status == 402

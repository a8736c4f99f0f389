"""``sync_pipeline.agent.enrich`` and ``sync-pipeline enrich EMAIL`` with settings from the
environment, as an agent or a person runs them: cached answers with their freshness, user errors
in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sync_pipeline import agent
from sync_pipeline.agent.enrichment import close_enrichers
from sync_pipeline.cli import main
from sync_pipeline.settings import get_settings
from sync_pipeline.store import Store
from sync_pipeline_tests.enrichment.conftest import rows_processed
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox

ADA = "ada.lovelace@northwind.com"


@pytest.fixture
def env(store: Store, clay: OutreachSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Process settings pointing at ``store`` and the Clay sandbox (its exported environment)."""
    monkeypatch.setenv("SYNC_PIPELINE_DB", store.url)
    for key, value in clay.state.environment(clay.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLAY_MAX_WAIT_SECONDS", "10")
    monkeypatch.delenv("ENRICHMENT_DAILY_BUDGET_USD", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    close_enrichers()  # flush their vendor call ledgers while the store still exists
    get_settings.cache_clear()


def test_enrich_answers_with_freshness_and_cost_and_then_from_the_cache(env, clay: OutreachSandbox) -> None:
    first = agent.enrich(" Ada.Lovelace@Northwind.com")
    again = agent.enrich(ADA, max_age=timedelta(days=1))
    company = agent.enrich(domain="https://www.northwind.com/about")

    assert (first["key"], first["status"], first["cached"], first["provider"]) == (ADA, "hit", False, "clay")
    assert first["data"]["full_name"] == "Ada Lovelace" and first["cost_usd"] > 0
    assert first["expires_at"] - first["fetched_at"] >= timedelta(days=30)
    assert (again["cached"], again["fetched_at"]) == (True, first["fetched_at"])
    assert (company["kind"], company["key"], company["status"]) == ("company", "northwind.com", "hit")
    assert rows_processed(clay) == 2


def test_enrich_refuses_bad_arguments(env) -> None:
    with pytest.raises(agent.InvalidRequest, match="not both"):
        agent.enrich(ADA, domain="northwind.com")
    with pytest.raises(agent.InvalidRequest, match="not a valid email"):
        agent.enrich("ada@")
    with pytest.raises(agent.InvalidRequest, match="company domain"):
        agent.enrich(domain="localhost")
    with pytest.raises(agent.InvalidRequest, match="max_age"):
        agent.enrich(ADA, max_age=timedelta(0))


def test_cli_enrich_prints_the_answer_and_user_errors_are_one_line(env, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enrich", ADA]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["status"], answer["cached"]) == ("hit", False)

    assert main(["enrich", "ada@"]) == 2
    assert capsys.readouterr().err.count("\n") == 1

    env.setenv("ENRICHMENT_DAILY_BUDGET_USD", "0.20")  # Ada's lookup cost $0.25 today already
    get_settings.cache_clear()
    assert main(["enrich", ADA]) == 0  # cached answers are still served
    capsys.readouterr()
    assert main(["enrich", "grace.hopper@navy.example"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "daily enrichment budget reached" in err and "UTC" in err

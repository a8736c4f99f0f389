from __future__ import annotations

import pytest

from sync_pipeline.settings import Secret, Settings, SettingsError


def test_defaults_are_the_embedded_store_and_ghl_clay() -> None:
    s = Settings.from_env({})
    assert s.db_url.startswith("duckdb:///") and s.db_url.endswith(".sync_pipeline/sync_pipeline.duckdb")
    assert (s.crm_provider, s.email_provider, s.enrichment_provider) == ("ghl", "ghl", "clay")
    assert (s.enrichment_ttl_days, s.contacts_freshness_minutes) == (30, 15)


def test_provider_swap_is_configuration() -> None:
    s = Settings.from_env({"CRM_PROVIDER": "HubSpot", "EMAIL_PROVIDER": "instantly"})
    assert (s.crm_provider, s.email_provider) == ("hubspot", "instantly")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CRM_PROVIDER": "salesforce"}, "CRM_PROVIDER must be one of ghl, hubspot"),
        ({"ENRICHMENT_TTL_DAYS": "soon"}, "ENRICHMENT_TTL_DAYS must be a positive number"),
        ({"CONTACTS_FRESHNESS_MINUTES": "0"}, "CONTACTS_FRESHNESS_MINUTES must be a positive number"),
        ({"SYNC_PIPELINE_DB": "mysql://x"}, "SYNC_PIPELINE_DB must start with"),
        ({"GHL_BASE_URL": "services.leadconnectorhq.com"}, "GHL_BASE_URL must be an http"),
        ({"SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT": "lots"}, "SYNC_PIPELINE_DUCKDB_MEMORY_LIMIT must be a size"),
    ],
)
def test_bad_values_name_the_variable_to_fix(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_secrets_never_show_in_repr_or_redacted_view() -> None:
    s = Settings.from_env(
        {
            "GHL_API_KEY": "pit-very-secret",
            "RB2B_WEBHOOK_TOKEN": "tok-secret",
            "SYNC_PIPELINE_DB": "postgresql://app:pg-secret@db.example.com:5432/app",
        }
    )
    shown = repr(s) + str(s.redacted())
    for secret in ("pit-very-secret", "tok-secret", "pg-secret"):
        assert secret not in shown
    assert s.ghl_api_key.reveal() == "pit-very-secret"
    assert s.redacted()["GHL_API_KEY"] == "set"
    assert s.redacted()["SYNC_PIPELINE_DB"] == "postgresql://app:********@db.example.com:5432/app"
    assert str(Secret("x")) == "Secret('********')"

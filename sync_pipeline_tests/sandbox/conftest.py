"""The sandbox fixtures (defined in ``sync_pipeline_tests.sandbox_fixtures`` for the whole suite)."""

from sync_pipeline_tests.sandbox_fixtures import ghl_sandbox, ghl_sandbox_factory, webhook_sink

__all__ = ["ghl_sandbox", "ghl_sandbox_factory", "webhook_sink"]

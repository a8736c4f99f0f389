"""Agent tests: the enrichment tests' Clay sandbox (fast, limits far above what tests send), for the
enrichment tool."""

from sync_pipeline_tests.enrichment.conftest import clay  # noqa: F401  (a fixture, registered by import)

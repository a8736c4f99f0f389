"""Enrichment: the ``clay_enrichments`` and ``contact_profiles`` assets, their checks and automation."""

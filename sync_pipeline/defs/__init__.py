"""Dagster definitions: one folder per domain (``contacts/``, ``visitors/``, ``outbox/``), each with a
``definitions.py`` that :mod:`sync_pipeline.definitions` merges; ``resources.py`` holds what they share."""

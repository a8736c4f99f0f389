"""Asking one enricher for many keys: in runs of its batch size where it has a batch call (Clay's
routine runs take 100 items), one by one otherwise (PDL). Each key gets its answer or its error;
a whole run that fails (e.g. never completes) is that error for each of its keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import VendorError
from ..providers.base import EnrichmentProvider
from ..records import Enrichment, EnrichmentKind


def ask(provider: EnrichmentProvider, kind: EnrichmentKind, keys: Sequence[str]) -> dict[str, Enrichment | VendorError]:
    """``provider``'s answer (or error) for each key."""
    batch: Any = getattr(provider, "enrich_batch", None)
    answers: dict[str, Enrichment | VendorError] = {}
    if batch is not None:
        size = max(1, int(getattr(provider, "max_batch", 1)))
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            try:
                answers.update(zip(chunk, batch(kind, chunk), strict=True))
            except VendorError as exc:
                answers.update(dict.fromkeys(chunk, exc))
        return answers
    one = provider.enrich_person if kind == "person" else provider.enrich_company
    for key in keys:
        try:
            answers[key] = one(key)
        except VendorError as exc:
            answers[key] = exc
    return answers

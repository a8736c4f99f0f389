"""An outbox worker wired to the configured providers (``EMAIL_PROVIDER``, ``CRM_PROVIDER``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..providers import registry
from ..providers.lifecycle import close_provider
from ..settings import Settings
from ..store import Store
from .drain import DrainReport, drain
from .worker import OutboxWorker


@contextmanager
def configured_worker(
    store: Store, settings: Settings, vendor: str | None = None, **worker_options: Any
) -> Iterator[OutboxWorker]:
    """A worker for every configured provider (or only ``vendor``'s); their clients close on exit.

    Jobs queued for a provider that is no longer configured end ``dead`` with that reason.
    """
    email: dict[str, Any] = {}
    crm: dict[str, Any] = {}
    if vendor in (None, settings.email_provider):
        email[settings.email_provider] = registry.email_provider(settings, store)
    if vendor in (None, settings.crm_provider):
        crm[settings.crm_provider] = registry.crm_provider(settings, store)
    try:
        yield OutboxWorker(store, email=email, crm=crm, **worker_options)
    finally:
        for provider in [*email.values(), *crm.values()]:
            close_provider(provider)


def drain_configured(
    store: Store, settings: Settings, *, worker_options: dict[str, Any] | None = None, **drain_options: Any
) -> DrainReport:
    """Send every due job now, in this process (CLI, tests, single-process deployments)."""
    with configured_worker(store, settings, **(worker_options or {})) as worker:
        return drain(worker, **drain_options)

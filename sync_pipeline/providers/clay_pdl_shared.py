"""What the Clay, People Data Labs and Instantly providers share: cache keys and the settings that
are read here until they move into :mod:`sync_pipeline.settings`.

Pending settings (the lead moves them into ``Settings``; until then they are read from the
environment at ``from_settings`` time, with a :class:`SettingsError` naming the variable):
``INSTANTLY_CAMPAIGN_ID``, ``INSTANTLY_EACCOUNT``, ``CLAY_PERSON_ROUTINE_ID``,
``CLAY_COMPANY_ROUTINE_ID``, ``CLAY_USD_PER_CREDIT``, ``CLAY_MAX_WAIT_SECONDS``, ``PDL_USD_PER_CREDIT``.
"""

from __future__ import annotations

import os

from ..settings import SettingsError


def email_key(email: str) -> str:
    """The cache key of a person: the trimmed, lower-cased address."""
    return email.strip().lower()


def domain_key(value: str) -> str:
    """The cache key of a company: ``https://www.Acme.com/about`` → ``acme.com``."""
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0]
    return host.removeprefix("www.")


def env_text(name: str, *, purpose: str, required: bool = True) -> str | None:
    """A pending text setting; raises :class:`SettingsError` naming ``name`` when required and unset."""
    value = os.environ.get(name, "").strip()
    if not value and required:
        raise SettingsError(f"{name} is not set; {purpose}")
    return value or None


def env_number(name: str, default: float) -> float:
    """A pending positive number setting, ``default`` when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise SettingsError(f"{name} must be a positive number; got {raw!r}")
    return value

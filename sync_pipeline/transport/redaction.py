"""Keeping credentials out of exceptions, logs, reprs and the call ledger.

Known secrets (the client's credential) are replaced wherever they appear; patterns catch the
credential-shaped text a vendor may echo back (bearer tokens, ``api_key=`` query parameters,
GHL private integration tokens) even when it is not ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "********"

_PATTERNS = (
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(\b(?:api[_-]?key|access[_-]?token|token|secret|password|key)=)[^&\s\"'<>]+"),
    re.compile(r"(?i)(\"?(?:api[_-]?key|access[_-]?token|authorization)\"?\s*:\s*\"?)[^\"\s,}]+"),
    re.compile(r"()\bpit-[0-9a-fA-F-]{8,}"),
)
# Shorter values would mask ordinary words; no real credential is this short.
_MIN_SECRET_LEN = 6


class Redactor:
    """Masks the given secrets and anything credential-shaped in a piece of text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secret(s))"

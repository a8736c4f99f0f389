"""The outbox's idempotency key carried inside an email's HTML, for vendors that keep no key.

Neither GHL nor Instantly accepts an idempotency key for a send, so after a lost answer the outbox
asks the vendor whether the email went out (``EmailProvider.lookup``). An HTML comment at the end
of the body (invisible to the reader) travels with the stored email and tells our sends apart
exactly, even two identical emails to one contact. UNCONFIRMED for both vendors: that stored bodies
keep HTML comments; each provider says what it falls back to when one does not.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"<!-- sync-pipeline-key: (.+?) -->")


def key_marker(key: str) -> str:
    """The HTML comment that carries ``key``."""
    return f"<!-- sync-pipeline-key: {key} -->"


def with_key_marker(html: str, key: str) -> str:
    """``html`` with ``key``'s marker appended."""
    return f"{html}\n{key_marker(key)}"


def marked_key(html: str | None) -> str | None:
    """The key a stored body carries, or None when it carries none (never marked, or stripped)."""
    found = _MARKER.search(html or "")
    return found.group(1) if found else None

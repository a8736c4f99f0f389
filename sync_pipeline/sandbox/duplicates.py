"""Counting duplicate sends exactly, the figure the outbox is judged by.

A send repeats an earlier one when it carries the same idempotency marker (a header the sandbox
reads even though the real vendor may ignore it), or when the same recipient gets the same subject
and body again within the window. Every email vendor sandbox uses this one detector.
"""

from __future__ import annotations

import hashlib
import threading

from sync_pipeline.sandbox.clock import Clock


class DuplicateSendDetector:
    """Remembers every send's marker and content fingerprint; thread-safe."""

    def __init__(self, clock: Clock, window_s: float) -> None:
        self._clock = clock
        self.window_s = window_s
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._markers: set[str] = set()
            self._content_seen_at: dict[bytes, float] = {}

    def observe(self, *, marker: str | None, recipient: str, subject: str, body: str) -> str | None:
        """Record one accepted send; return why it is a duplicate (``idempotency_key`` or
        ``same_content``) or None when it is the first of its kind."""
        fingerprint = hashlib.sha256("\x00".join((recipient.lower(), subject, body)).encode()).digest()
        now = self._clock.now()
        with self._lock:
            reason = None
            if marker is not None and marker in self._markers:
                reason = "idempotency_key"
            else:
                previous = self._content_seen_at.get(fingerprint)
                if previous is not None and now - previous <= self.window_s:
                    reason = "same_content"
            if marker is not None:
                self._markers.add(marker)
            self._content_seen_at[fingerprint] = now
            return reason

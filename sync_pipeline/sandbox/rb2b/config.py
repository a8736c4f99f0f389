"""Settings of the RB2B sender (vendor reference section 3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rb2bConfig:
    """Where the sender posts and how it judges the receiver; change with ``POST /_sandbox/config``."""

    # The receiver's URL without the token, e.g. http://127.0.0.1:8000/webhooks/rb2b.
    target_url: str | None = None
    # 3P: RB2B's integration takes only a URL, so the secret travels as ?token= in it.
    token: str = "sandbox-rb2b-token"
    # DOC: anything but HTTP 200, or no answer within 15 s, disconnects the integration (no retry:
    # UNCONFIRMED, as is the absence of a signature).
    response_deadline_s: float = 15.0

"""GHL timestamps: ISO-8601 with milliseconds and ``Z`` on the wire, epoch milliseconds in cursors."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_from_ms(ms: int) -> str:
    """``2024-06-06T18:54:57.221Z`` for epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_iso(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 timestamp (``Z`` or an offset; naive means UTC)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def ms_from_value(value: object) -> int:
    """Epoch milliseconds from a number (already ms) or an ISO string; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        return int(value) if value.isdigit() else ms_from_iso(value)
    raise ValueError(f"not a timestamp: {value!r}")

"""What the MCP tools answer: one output model per kind of answer (each becomes the tool's
``outputSchema``), and the ``freshness`` block every answer carries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field


class Freshness(BaseModel):
    """How fresh an answer is: when it was read, from where, and how old the data behind it is."""

    answered_at: datetime
    source: str
    data_as_of: datetime | None = Field(description="oldest time the data shown was confirmed at its source")
    age_seconds: int | None
    note: str = Field(description="how this data is kept fresh; how to get fresher")


class ContactsPage(BaseModel):
    contacts: list[dict[str, Any]]
    next_cursor: str | None = Field(description="pass as cursor to get the next page; null: no more")
    freshness: Freshness


class ContactAnswer(BaseModel):
    contact: dict[str, Any]
    freshness: Freshness


class ProfileAnswer(BaseModel):
    profile: dict[str, Any]
    freshness: Freshness


class VisitorsPage(BaseModel):
    visitors: list[dict[str, Any]]
    next_cursor: str | None = Field(description="pass as cursor to get the next page; null: no more")
    uncounted_events: int = Field(description="visits landed since the last count; they appear after the next run")
    freshness: Freshness


class EnrichmentAnswer(BaseModel):
    enrichment: dict[str, Any]
    freshness: Freshness


class QueuedJob(BaseModel):
    job_id: str
    action: str
    status: str = Field(description="queued, sending, sent, retry, dead or unknown")
    idempotency_key: str


class WriteAnswer(BaseModel):
    jobs: list[QueuedJob]
    already_queued: bool = Field(description="true: the key was used before; these are the jobs that call queued")
    next_step: str
    freshness: Freshness


class JobsAnswer(BaseModel):
    jobs: list[dict[str, Any]]
    not_found: list[str] = Field(description="job ids no outbox job has")
    freshness: Freshness


class StatusAnswer(BaseModel):
    status: dict[str, Any]
    freshness: Freshness


def freshness(source: str, data_as_of: datetime | None, note: str) -> Freshness:
    """The freshness block of an answer read now from ``source``, whose data dates from ``data_as_of``."""
    now = datetime.now(UTC)
    age = None if data_as_of is None else max(0, int((now - data_as_of).total_seconds()))
    return Freshness(answered_at=now, source=source, data_as_of=data_as_of, age_seconds=age, note=note)


def oldest(value: Any, keys: Sequence[str]) -> datetime | None:
    """The earliest timestamp under any of ``keys`` anywhere in ``value`` (ISO text or datetime)."""
    found: list[datetime] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                if key in keys and child:
                    stamp = child if isinstance(child, datetime) else _parse_time(child)
                    if stamp is not None:
                        found.append(stamp)
                else:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return min(found, default=None)


def _parse_time(text: Any) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)

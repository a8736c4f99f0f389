"""What a webhook handler answers the vendor: an HTTP status and a short detail for the body."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """The HTTP ``status`` to answer a delivery with, and a ``detail`` saying what became of it."""

    status: int
    detail: str

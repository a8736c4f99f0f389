"""Deterministic identifiers and pseudo-random bytes derived from a seed.

Every vendor sandbox derives ids, keys and seeded records from ``(seed, purpose, …)`` through these
functions, so the same seed always produces the same account, the same records and the same ids.
"""

from __future__ import annotations

import hashlib
import string

BASE62 = string.digits + string.ascii_letters


def digest(*parts: object, size: int = 32) -> bytes:
    """``size`` pseudo-random bytes fixed by ``parts`` (BLAKE2b; cheap enough to call per record)."""
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=size).digest()


def to_base62(value: int, width: int) -> str:
    """``value`` in base 62, left-padded with ``0`` to ``width`` characters."""
    chars = []
    rest = value
    while rest:
        rest, digit = divmod(rest, 62)
        chars.append(BASE62[digit])
    text = "".join(reversed(chars))
    if len(text) > width:
        raise ValueError(f"{value} does not fit in {width} base-62 characters")
    return text.rjust(width, "0")


def from_base62(text: str) -> int:
    """Inverse of :func:`to_base62`; raises ValueError on a character outside ``[0-9A-Za-z]``."""
    value = 0
    for char in text:
        index = BASE62.find(char)
        if index < 0:
            raise ValueError(f"{char!r} is not a base-62 character")
        value = value * 62 + index
    return value


def token(*parts: object, length: int = 20) -> str:
    """A ``length``-character alphanumeric id fixed by ``parts`` (e.g. a vendor account or record id)."""
    if not 0 < length <= 64:
        raise ValueError("token length must be between 1 and 64")
    return "".join(BASE62[b % 62] for b in digest(*parts, size=length))

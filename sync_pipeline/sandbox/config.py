"""Configuration every vendor sandbox shares: latency, faults, webhooks, duplicate-send window.

All records are frozen dataclasses. Admin endpoints and the CLI change them with :func:`updated`,
which validates a JSON-like mapping against the dataclass fields, so a typo in a test or on the
command line fails with the field's name instead of being ignored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class SandboxConfigError(ValueError):
    """A sandbox setting is unknown, out of range or has the wrong type; the message names it.

    Raised by :func:`invalid_setting` when one setting is at fault: ``setting`` names it (e.g.
    ``faults.error_rate``) and ``problem`` says what is wrong, so a front end can name the setting
    its own way (the CLI names its flag).
    """

    def __init__(self, message: str, *, setting: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.problem = problem or message


def invalid_setting(setting: str, problem: str) -> SandboxConfigError:
    """The error for one bad setting: ``invalid_setting("contacts", "must be >= 0; got -5")``."""
    return SandboxConfigError(f"{setting} {problem}", setting=setting, problem=problem)


@dataclass(frozen=True)
class LatencyConfig:
    """Added to every vendor request before it is handled: uniform between ``min_ms`` and ``max_ms``."""

    min_ms: float = 0.0
    max_ms: float = 0.0

    def __post_init__(self) -> None:
        # Written as "not >=" so that NaN fails too.
        if not self.min_ms >= 0:
            raise invalid_setting("latency.min_ms", f"must be >= 0; got {self.min_ms}")
        if not self.max_ms >= self.min_ms:
            raise invalid_setting("latency.max_ms", f"must be >= the minimum latency {self.min_ms}; got {self.max_ms}")


@dataclass(frozen=True)
class FaultConfig:
    """Faults injected into vendor requests (never into ``/_sandbox/`` admin requests).

    Rates are probabilities per request, drawn from a generator seeded by the sandbox seed. The
    ``*_next`` counts (and ``burst_429``) hit the next N requests deterministically, before any rate.

    * ``error``: a 5xx (``error_status``) with the vendor's error body; the request is not handled.
    * ``burst_429``: a 429 with the vendor's body and ``Retry-After: burst_retry_after_s``.
    * ``timeout``: hang ``timeout_s`` (longer than a client's timeout), then close the connection;
      the request is not handled.
    * ``drop``: close the TCP connection without any response; the request is not handled.
    * ``lost_response``: handle the request (a send goes out, a contact changes), then close the
      connection without a response: the case idempotency keys exist for.
    """

    error_rate: float = 0.0
    error_status: int = 500
    drop_rate: float = 0.0
    timeout_rate: float = 0.0
    lost_response_rate: float = 0.0
    timeout_s: float = 30.0
    burst_429: int = 0
    burst_retry_after_s: float = 1.0
    error_next: int = 0
    drop_next: int = 0
    timeout_next: int = 0
    lost_response_next: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "timeout_rate", "lost_response_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise invalid_setting(f"faults.{name}", f"must be between 0 and 1; got {getattr(self, name)}")
        if not 500 <= self.error_status <= 599:
            raise invalid_setting("faults.error_status", f"must be a 5xx status; got {self.error_status}")
        for name in ("burst_429", "error_next", "drop_next", "timeout_next", "lost_response_next"):
            if getattr(self, name) < 0:
                raise invalid_setting(f"faults.{name}", f"must be >= 0; got {getattr(self, name)}")


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how a sandbox delivers the webhooks it emits.

    ``retry_statuses``: the receiver answers that earn a retry (GHL: only 429). Intervals default
    to a fraction of a second so tests see every retry; the real GHL waits 10 minutes.
    """

    url: str | None = None
    max_retries: int = 6
    retry_interval_s: float = 0.2
    retry_jitter_s: float = 0.0
    timeout_s: float = 10.0
    retry_statuses: tuple[int, ...] = (429,)


@dataclass(frozen=True)
class SandboxConfig:
    """Settings every vendor sandbox honours; vendor-specific settings live in the vendor's config."""

    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    duplicate_window_s: float = 86_400.0


RATE_WINDOWS_HINT = " (rate windows: POST /_sandbox/rate-limits)"


def refuse_fixed(changes: Mapping[str, Any], fixed: Iterable[str], hint: str = "") -> None:
    """Refuse a runtime config change touching settings a vendor reads once at start; ``hint`` says
    where to change them instead (e.g. :data:`RATE_WINDOWS_HINT`)."""
    refused = set(fixed) & set(changes)
    if refused:
        raise SandboxConfigError(f"{', '.join(sorted(refused))} cannot change while running{hint}")


def updated(instance: T, changes: Mapping[str, Any]) -> T:
    """A copy of the dataclass ``instance`` with ``changes`` applied after checking names and types.

    Numbers given as ``int`` for a ``float`` field are accepted; lists become tuples for tuple
    fields. Raises :class:`SandboxConfigError` naming the offending key.
    """
    known = {f.name: f for f in dataclasses.fields(instance)}  # type: ignore[arg-type]
    coerced: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in known:
            raise SandboxConfigError(f"unknown setting {key!r}; known: {', '.join(sorted(known))}")
        coerced[key] = _coerce(key, str(known[key].type), value)
    try:
        return dataclasses.replace(instance, **coerced)  # type: ignore[type-var]
    except TypeError as exc:
        raise SandboxConfigError(str(exc)) from None


def _coerce(key: str, annotation: str, value: Any) -> Any:
    optional = "None" in annotation
    if value is None:
        if optional:
            return None
        raise SandboxConfigError(f"{key} cannot be null")
    base = annotation.replace("| None", "").strip()
    if base == "bool":
        if not isinstance(value, bool):
            raise SandboxConfigError(f"{key} must be true or false; got {value!r}")
        return value
    if base in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SandboxConfigError(f"{key} must be a number; got {value!r}")
        if base == "int" and value != int(value):
            raise SandboxConfigError(f"{key} must be a whole number; got {value!r}")
        return int(value) if base == "int" else float(value)
    if base == "str":
        if not isinstance(value, str):
            raise SandboxConfigError(f"{key} must be a string; got {value!r}")
        return value
    if base.startswith("tuple"):
        if not isinstance(value, list | tuple):
            raise SandboxConfigError(f"{key} must be a list; got {value!r}")
        return tuple(value)
    return value

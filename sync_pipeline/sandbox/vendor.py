"""The contract a vendor sandbox implements to plug into the core.

A vendor (GHL, Instantly, Clay, …) subclasses :class:`VendorSandbox`, lists its routes and says how
its wire format renders rate-limit headers, 429s and 5xx bodies. The core
(:func:`sync_pipeline.sandbox.app.build_app`) wraps those routes with latency and fault injection,
rate limiting, stats and the ``/_sandbox/`` admin endpoints, and the launcher serves the result.
To add a vendor: subclass, then register the class in
:data:`sync_pipeline.sandbox.launcher.VENDOR_FACTORIES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from sync_pipeline.sandbox.clock import Clock, SystemClock
from sync_pipeline.sandbox.config import SandboxConfig, SandboxConfigError, updated
from sync_pipeline.sandbox.duplicates import DuplicateSendDetector
from sync_pipeline.sandbox.faults import FaultInjector
from sync_pipeline.sandbox.ratelimit import RateDecision, RateLimiter, RateWindow
from sync_pipeline.sandbox.stats import SandboxStats
from sync_pipeline.sandbox.webhooks import WebhookDispatcher


@dataclass(frozen=True)
class SandboxOptions:
    """What every vendor sandbox is built from.

    ``vendor_config`` is the vendor's own frozen config dataclass (e.g. ``GhlConfig``), or None for
    its defaults.
    """

    seed: int = 1
    contacts: int = 10_000
    config: SandboxConfig = field(default_factory=SandboxConfig)
    clock: Clock = field(default_factory=SystemClock)
    vendor_config: Any = None


class VendorSandbox(ABC):
    """One vendor's in-memory state and HTTP surface.

    Subclasses set ``name`` and ``config_type`` and implement the abstract methods. The base
    class owns what every vendor shares: ``stats``, ``faults``, ``limiter``, ``webhooks`` and
    ``duplicates``. Handlers may run on the server's event loop while tests read state from another
    thread, so subclasses guard their records with a lock.
    """

    name: ClassVar[str]
    config_type: ClassVar[type]

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.clock = options.clock
        self.config = options.vendor_config if options.vendor_config is not None else self.config_type()
        if not isinstance(self.config, self.config_type):
            raise SandboxConfigError(f"{self.name} sandbox needs a {self.config_type.__name__}")
        self._initial_config = self.config
        self.stats = SandboxStats(self.name)
        self.faults = FaultInjector(options.config.faults, options.config.latency, seed=options.seed)
        self.limiter = RateLimiter(self.rate_windows(), self.clock)
        self.webhooks = WebhookDispatcher(options.config.webhooks, self.stats, seed=options.seed)
        self.duplicates = DuplicateSendDetector(self.clock, options.config.duplicate_window_s)

    # ---- what a vendor must provide -----------------------------------------------------------

    @abstractmethod
    def routes(self) -> Sequence[BaseRoute]:
        """The vendor's API routes (Starlette ``Route`` objects), matched in order."""

    @abstractmethod
    def rate_windows(self) -> Sequence[RateWindow]:
        """The rate-limit windows from the vendor config (called at start and on reset)."""

    @abstractmethod
    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        """Headers the vendor puts on every response (empty when it sends none)."""

    @abstractmethod
    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """The vendor's 429; ``retry_after_s`` is set for injected bursts, None for the limiter."""

    @abstractmethod
    def server_error_response(self, status: int) -> Response:
        """The vendor's 5xx body for an injected error."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """Account ids, keys and public keys the sandbox accepts (written to the CLI's urls file)."""

    @abstractmethod
    def environment(self, base_url: str) -> dict[str, str]:
        """The ``sync_pipeline`` settings (environment variables) that point a client at this sandbox."""

    @abstractmethod
    def reset_data(self) -> None:
        """Back to the freshly seeded records (called by ``POST /_sandbox/reset``)."""

    # ---- hooks with defaults ------------------------------------------------------------------

    def guard(self, connection: HTTPConnection) -> Response | None:
        """Reject a request before routing (auth, required headers); None lets it through."""
        return None

    def not_found_response(self, method: str, path: str) -> Response:
        """The vendor's answer to a path it does not serve."""
        return PlainTextResponse("Not Found", status_code=404)

    def rate_limit_key(self, connection: HTTPConnection) -> str:
        """The bucket a request counts against; the sandbox serves one account by default."""
        return "account"

    def admin_routes(self) -> Sequence[BaseRoute]:
        """Vendor-specific routes under ``/_sandbox/`` (e.g. mutating CRM records)."""
        return ()

    def configure(self, changes: Mapping[str, Any]) -> Any:
        """Change vendor settings at run time (``POST /_sandbox/config``); returns the new config."""
        self.config = updated(self.config, changes)
        return self.config

    # ---- shared behaviour ---------------------------------------------------------------------

    def reset(self) -> None:
        """Seeded records, zero stats, empty rate windows and the constructor's faults and settings."""
        self.config = self._initial_config
        self.reset_data()
        self.stats.reset()
        self.faults.reset()
        self.limiter.configure(self.rate_windows())
        self.webhooks.reset()
        self.duplicates.reset()

    def close(self) -> None:
        """Stop background work (webhook delivery)."""
        self.webhooks.stop()

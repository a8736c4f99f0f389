"""Local HTTP sandboxes that speak each vendor's real wire format, so nothing ever calls a vendor.

Public API (see :mod:`~sync_pipeline.sandbox.launcher`)::

    from sync_pipeline.sandbox import start_sandbox, SandboxConfig, FaultConfig, LatencyConfig

    with start_sandbox(("ghl",), contacts=10_000, seed=1) as sandbox:
        sandbox.urls["ghl"], sandbox.credentials["ghl"], sandbox.env, sandbox.state("ghl")

``serve_sandbox`` is the blocking entry point behind ``sync-pipeline sandbox``. A vendor plugs in by
subclassing :class:`~sync_pipeline.sandbox.vendor.VendorSandbox` and registering it in
``launcher.VENDOR_FACTORIES``; the core adds latency and faults, rate limiting on the sandbox
clock, stats, webhook delivery and the ``/_sandbox/`` admin endpoints (:mod:`.admin`).
"""

from sync_pipeline.sandbox.clock import Clock, ManualClock, SystemClock
from sync_pipeline.sandbox.config import (
    FaultConfig,
    LatencyConfig,
    SandboxConfig,
    SandboxConfigError,
    WebhookConfig,
)
from sync_pipeline.sandbox.launcher import (
    VENDOR_FACTORIES,
    RunningSandbox,
    available_vendors,
    serve_sandbox,
    start_sandbox,
)
from sync_pipeline.sandbox.ratelimit import RateWindow
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox

__all__ = [
    "VENDOR_FACTORIES",
    "Clock",
    "FaultConfig",
    "LatencyConfig",
    "ManualClock",
    "RateWindow",
    "RunningSandbox",
    "SandboxConfig",
    "SandboxConfigError",
    "SandboxOptions",
    "SystemClock",
    "VendorSandbox",
    "WebhookConfig",
    "available_vendors",
    "serve_sandbox",
    "start_sandbox",
]

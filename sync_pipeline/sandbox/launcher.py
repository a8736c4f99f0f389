"""Starting vendor sandboxes: in this process for tests and the demo, or blocking for the CLI.

In-process::

    with start_sandbox(("ghl",), contacts=20_000, seed=7) as sandbox:
        sandbox.urls["ghl"]                  # http://127.0.0.1:PORT
        sandbox.credentials["ghl"]           # api_key, location_id, webhook_public_key, ...
        sandbox.env                          # GHL_BASE_URL=..., GHL_API_KEY=..., ...
        sandbox.state("ghl").stats.snapshot()

From ``sync-pipeline sandbox``: :func:`serve_sandbox` starts the same servers, prints the base URLs,
writes them with the credentials as JSON and blocks until interrupted. ``sync-pipeline sandbox --
COMMAND`` (:func:`run_with_sandbox`) instead runs COMMAND with the sandbox's environment and stops
the servers when it exits: any command gets every vendor setting this way, so Dagster's sensors and
jobs reach vendors without any setting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from sync_pipeline.sandbox.clay.sandbox import ClaySandbox
from sync_pipeline.sandbox.clock import Clock, SystemClock
from sync_pipeline.sandbox.config import SandboxConfig, invalid_setting
from sync_pipeline.sandbox.ghl.sandbox import GhlSandbox
from sync_pipeline.sandbox.hubspot.sandbox import HubSpotSandbox
from sync_pipeline.sandbox.instantly.sandbox import InstantlySandbox
from sync_pipeline.sandbox.pdl.sandbox import PdlSandbox
from sync_pipeline.sandbox.pipeline import SandboxPipeline
from sync_pipeline.sandbox.rb2b.sandbox import Rb2bSandbox
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox

# Every vendor the launcher can start. A new vendor sandbox registers its class here.
VENDOR_FACTORIES: dict[str, Callable[[SandboxOptions], VendorSandbox]] = {
    "ghl": GhlSandbox,
    "hubspot": HubSpotSandbox,
    "instantly": InstantlySandbox,
    "clay": ClaySandbox,
    "pdl": PdlSandbox,
    "rb2b": Rb2bSandbox,
}


class RunningSandbox:
    """Servers started by :func:`start_sandbox`; a context manager that stops them on exit."""

    def __init__(self, vendors: Mapping[str, VendorSandbox], servers: Mapping[str, ServerThread]) -> None:
        self._vendors = dict(vendors)
        self._servers = dict(servers)
        self.urls: dict[str, str] = {name: server.url for name, server in self._servers.items()}

    @property
    def credentials(self) -> dict[str, dict[str, str]]:
        """Per vendor: the account ids, keys and public keys the sandbox accepts."""
        return {name: vendor.credentials() for name, vendor in self._vendors.items()}

    @property
    def env(self) -> dict[str, str]:
        """The environment variables that point sync_pipeline at these servers."""
        env: dict[str, str] = {}
        for name, vendor in self._vendors.items():
            env.update(vendor.environment(self.urls[name]))
        return env

    def state(self, vendor: str) -> VendorSandbox:
        """The live in-memory state of one vendor (records, stats, faults, webhooks) for tests."""
        return self._vendors[vendor]

    def describe(self) -> dict[str, Any]:
        """``{"urls", "credentials", "env"}``, the document written to the urls file."""
        return {"urls": self.urls, "credentials": self.credentials, "env": self.env}

    def write_urls_file(self, path: Path) -> None:
        """Write :meth:`describe` as JSON; a path that cannot be written is a bad ``urls_file`` setting."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.describe(), indent=2) + "\n")
        except OSError as exc:
            raise invalid_setting("urls_file", f"cannot be written to {path} ({exc.strerror})") from None

    def stop(self) -> None:
        for server in self._servers.values():
            server.begin_stop()
        for server in self._servers.values():
            server.stop()
        for vendor in self._vendors.values():
            vendor.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def available_vendors() -> tuple[str, ...]:
    return tuple(VENDOR_FACTORIES)


def start_sandbox(
    vendors: Iterable[str] = ("ghl",),
    *,
    contacts: int = 10_000,
    seed: int = 1,
    config: SandboxConfig | None = None,
    vendor_configs: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
) -> RunningSandbox:
    """Start one loopback server per vendor in background threads and return once all accept requests.

    ``config`` applies to every vendor; ``vendor_configs`` maps a vendor name to its own config
    dataclass (e.g. ``{"ghl": GhlConfig(search_index_lag_s=2)}``); ``ports`` pins ports (default:
    free ports).
    """
    names = tuple(dict.fromkeys(vendors))
    unknown = [n for n in names if n not in VENDOR_FACTORIES]
    if unknown:
        named = ", ".join(map(repr, unknown))
        raise invalid_setting("vendors", f"names unknown vendor(s) {named}; available: {', '.join(VENDOR_FACTORIES)}")
    if contacts < 0:
        raise invalid_setting("contacts", f"must be >= 0; got {contacts}")
    shared_clock = clock or SystemClock()
    built: dict[str, VendorSandbox] = {}
    servers: dict[str, ServerThread] = {}
    try:
        for name in names:
            options = SandboxOptions(
                seed=seed,
                contacts=contacts,
                config=config or SandboxConfig(),
                clock=shared_clock,
                vendor_config=(vendor_configs or {}).get(name),
            )
            built[name] = VENDOR_FACTORIES[name](options)
            servers[name] = ServerThread(
                SandboxPipeline(built[name]), host=host, port=(ports or {}).get(name, 0), name=name
            )
            servers[name].start()
    except BaseException:
        RunningSandbox(built, servers).stop()
        raise
    return RunningSandbox(built, servers)


def serve_sandbox(
    vendors: Iterable[str] = ("ghl",),
    *,
    urls_file: Path | None = None,
    out: Callable[[str], None] = print,
    **start_options: Any,
) -> None:
    """Start the sandboxes, print their base URLs, write ``urls_file``, block until SIGINT/SIGTERM.

    ``start_options`` are passed to :func:`start_sandbox` (``contacts``, ``seed``, ``config``, …).
    """
    stopped = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start_sandbox(vendors, **start_options) as sandbox:
            _announce(sandbox, urls_file, out)
            out("sandbox running; press Ctrl-C to stop")
            sys.stdout.flush()
            while not stopped.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_with_sandbox(
    vendors: Iterable[str],
    command: list[str],
    *,
    urls_file: Path | None = None,
    out: Callable[[str], None] = print,
    **start_options: Any,
) -> int:
    """Start the sandboxes, run ``command`` with their environment, stop them; return its exit code.

    Ctrl-C reaches the command from the terminal (same process group) and is ignored here, so the
    command shuts down in its own way; a SIGTERM sent to this process is passed on to it.
    """
    with start_sandbox(vendors, **start_options) as sandbox:
        _announce(sandbox, urls_file, out)
        out(f"running {' '.join(command)} with the sandbox's environment")
        sys.stdout.flush()
        child = subprocess.Popen(command, env={**os.environ, **sandbox.env})
        previous = {
            signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
            signal.SIGTERM: signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate()),
        }
        try:
            return child.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _announce(sandbox: RunningSandbox, urls_file: Path | None, out: Callable[[str], None]) -> None:
    """Print each vendor's base URL; write them with the credentials and env to ``urls_file``."""
    for name, url in sandbox.urls.items():
        out(f"{name}: {url}")
    if urls_file is not None:
        sandbox.write_urls_file(urls_file)
        out(f"wrote {urls_file}")

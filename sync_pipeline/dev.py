"""`make dev` (``sync-pipeline dev``): the Dagster UI on live sandbox vendors, nothing to configure.

It starts the GHL, Instantly and Clay sandboxes and the RB2B sender, the receiver with the MCP
server (``sync-pipeline serve``'s app) wired to them — GHL sends its contact webhooks there, RB2B
posts a few visitors every ``visitors_every_s`` — and ``dg dev`` with every setting pointing at
them, so the RUNNING sensors sync contacts, count visitors, enrich and send live. Ctrl-C (or the UI
process ending) stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from .settings import environment, get_settings
from .store import ensure_migrated, open_store

VENDORS = ("ghl", "instantly", "clay", "rb2b")


def run_dev(
    *,
    ui_port: int = 3000,
    serve_port: int = 8787,
    contacts: int = 2000,
    seed: int = 1,
    visitors_every_s: float = 20.0,
    visitors_per_burst: int = 3,
) -> int:
    """Serve until interrupted; the exit code is the UI's (0 after Ctrl-C)."""
    from .sandbox import start_sandbox
    from .sandbox.server import ServerThread
    from .serve import build_serve_app

    with start_sandbox(VENDORS, contacts=contacts, seed=seed) as sandbox:
        # The sandbox accepts any RB2B token; this run's own one keeps the receiver authenticated.
        env = {**sandbox.env, "RB2B_WEBHOOK_TOKEN": secrets.token_urlsafe(16)}
        with environment(env):
            settings = get_settings()
            server = ServerThread(
                build_serve_app(ensure_migrated(open_store(settings)), settings),
                port=serve_port,
                name="serve",
                lifespan=True,
            )
            serve_url = server.start()
            try:
                _wire_webhooks(sandbox.urls, serve_url, settings.rb2b_webhook_token.reveal())
                print(f"sandbox vendors: {', '.join(f'{v} {u}' for v, u in sandbox.urls.items())}", flush=True)
                print(f"receiver and MCP: {serve_url}/webhooks/*, {serve_url}/mcp", flush=True)
                print(f"Dagster UI: http://127.0.0.1:{ui_port} (Ctrl-C stops everything)", flush=True)
                command, cwd = ui_command(ui_port)
                return _run_ui(
                    command,
                    cwd,
                    {**os.environ, **env},
                    lambda: _send_visitors(sandbox.urls["rb2b"], visitors_per_burst),
                    visitors_every_s,
                )
            finally:
                server.stop()


def ui_command(port: int) -> tuple[list[str], Path | None]:
    """The UI command on loopback and where to run it: ``dg dev`` in the project (a checkout, where
    ``pyproject.toml`` says ``[tool.dg]``), else ``dagster dev`` on the installed module."""
    bin_dir = Path(sys.executable).parent
    project = Path(__file__).resolve().parents[1]
    if "[tool.dg]" in _read(project / "pyproject.toml") and (bin_dir / "dg").exists():
        return [str(bin_dir / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)], project
    module = ["-m", "sync_pipeline.definitions"]
    return [str(bin_dir / "dagster"), "dev", *module, "--host", "127.0.0.1", "--port", str(port)], None


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _wire_webhooks(urls: dict[str, str], serve_url: str, rb2b_token: str) -> None:
    httpx.post(f"{urls['ghl']}/_sandbox/webhooks", json={"url": f"{serve_url}/webhooks/ghl"}).raise_for_status()
    httpx.post(
        f"{urls['rb2b']}/_sandbox/config", json={"target_url": f"{serve_url}/webhooks/rb2b", "token": rb2b_token}
    ).raise_for_status()


def _send_visitors(rb2b_url: str, count: int) -> None:
    try:
        httpx.post(f"{rb2b_url}/_sandbox/rb2b/send", json={"count": count}, timeout=30).raise_for_status()
    except httpx.HTTPError as exc:  # the UI keeps running; the next burst tries again
        print(f"RB2B sandbox: could not send visitors ({type(exc).__name__})", file=sys.stderr, flush=True)


def _run_ui(
    command: Sequence[str], cwd: Path | None, env: dict[str, str], tick: Callable[[], None], every_s: float
) -> int:
    """Run the UI in its own process group; call ``tick`` at once and every ``every_s`` while it runs."""
    ui = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)
    try:
        next_tick = time.monotonic()  # the first visitors arrive while the UI starts
        while ui.poll() is None:
            time.sleep(0.2)
            if time.monotonic() >= next_tick:
                tick()
                next_tick = time.monotonic() + every_s
        return ui.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(ui)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (dg dev and the code server, daemon and webserver it started)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

"""The receiver as a user runs it: ``sync-pipeline webhooks serve`` in a process of its own, on a
free loopback port (also used by ``bench/bench_webhooks.py``)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SERVE = (str(Path(sys.executable).with_name("sync-pipeline")), "webhooks", "serve")


@dataclass(frozen=True)
class ReceiverProcess:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def receiver_process(
    env: Mapping[str, str], log: Path, command: Sequence[str] = SERVE, start_timeout_s: float = 30.0
) -> Iterator[ReceiverProcess]:
    """Run ``command --port P`` with ``env`` (output to ``log``) until it answers ``/healthz``; stop it
    (SIGTERM, then SIGKILL) afterwards unless it has already ended."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("w") as out:
        process = subprocess.Popen([*command, "--port", str(port)], env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the receiver did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield ReceiverProcess(url, process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL after 30 s; nothing if it has already ended."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""The GHL sandbox in a process of its own, as the vendor is: its CPU is not the benchmark's or the timed test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sync_pipeline_tests.webhooks.receiver_process import stop


@dataclass(frozen=True)
class SandboxProcess:
    """The GHL sandbox running in a process of its own: its base URL and the env pointing at it."""

    url: str
    env: dict[str, str]

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call one ``/_sandbox/`` admin endpoint (GET without a body, POST with one)."""
        target = f"{self.url}/_sandbox/{path}"
        answer = httpx.get(target, timeout=120) if body is None else httpx.post(target, json=body, timeout=120)
        return answer.raise_for_status().json()


@contextmanager
def ghl_sandbox_process(contacts: int, directory: Path, *, seed: int = 3) -> Iterator[SandboxProcess]:
    """``sync-pipeline sandbox`` (GHL, ``contacts`` seeded) in its own process, as the vendor is."""
    urls_file = directory / f"sandbox-{os.getpid()}-{time.monotonic_ns()}.json"
    command = [sys.executable, "-m", "sync_pipeline.cli", "sandbox", "--vendors", "ghl", "--contacts", str(contacts)]
    command += ["--seed", str(seed), "--urls-file", str(urls_file)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not urls_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the GHL sandbox did not start")
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written in one go, but let the writer finish it
        described = json.loads(urls_file.read_text())
        yield SandboxProcess(described["urls"]["ghl"], described["env"])
    finally:
        stop(proc)

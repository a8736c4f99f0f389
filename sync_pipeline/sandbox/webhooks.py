"""Delivering the webhooks a vendor sandbox emits, in a background thread.

The vendor builds the exact bytes and headers (its envelope and signatures); the dispatcher POSTs
them to the current target URL and retries only on the statuses the vendor retries on (GHL: 429
only, 6 times), spaced by ``retry_interval_s``. Any other answer, a timeout or a refused connection
is final, as with the real vendor: that is how webhooks get lost.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from sync_pipeline.sandbox.config import WebhookConfig
from sync_pipeline.sandbox.stats import SandboxStats


@dataclass(frozen=True)
class WebhookDelivery:
    """The final outcome of one emitted webhook (after any retries)."""

    event: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    attempts: int
    status: int | None  # the receiver's last status; None when it could not be reached
    delivered: bool
    error: str | None = None


@dataclass
class _Job:
    event: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    attempts: int = 0


class WebhookDispatcher:
    """Queues, sends and retries webhooks; ``deliveries`` keeps the last outcomes for tests."""

    def __init__(self, config: WebhookConfig, stats: SandboxStats, *, seed: int = 0) -> None:
        self._initial = config
        self.config = config
        self._stats = stats
        self._random = random.Random(seed)
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, _Job]] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.deliveries: deque[WebhookDelivery] = deque(maxlen=10_000)

    def reset(self) -> None:
        """Forget queued webhooks and past deliveries; back to the constructor settings."""
        with self._cond:
            self._queue.clear()
            self.deliveries.clear()
            self.config = self._initial

    def configure(self, config: WebhookConfig) -> None:
        with self._cond:
            self.config = config

    def emit(self, event: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """Queue one webhook for the current target; False (and counted) when there is no target."""
        self._stats.record_webhook("emitted")
        url = self.config.url
        if not url:
            self._stats.record_webhook("no_target")
            return False
        self._schedule(_Job(event, url, body, dict(headers)), delay_s=0.0)
        return True

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Block until nothing is queued or being sent (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _schedule(self, job: _Job, delay_s: float) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + delay_s, next(self._sequence), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        with httpx.Client() as client:
            while True:
                with self._cond:
                    while not self._stopping and (not self._queue or self._queue[0][0] > time.monotonic()):
                        wait = self._queue[0][0] - time.monotonic() if self._queue else None
                        self._cond.wait(wait)
                    if self._stopping:
                        return
                    _, _, job = heapq.heappop(self._queue)
                    self._in_flight += 1
                    config = self.config
                try:
                    self._attempt(client, job, config)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _attempt(self, client: httpx.Client, job: _Job, config: WebhookConfig) -> None:
        job.attempts += 1
        status, error = None, None
        try:
            status = client.post(job.url, content=job.body, headers=job.headers, timeout=config.timeout_s).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status in config.retry_statuses and job.attempts <= config.max_retries:
            self._stats.record_webhook("retried")
            jitter = self._random.uniform(0, config.retry_jitter_s) if config.retry_jitter_s else 0.0
            self._schedule(job, config.retry_interval_s + jitter)
            return
        delivered = status is not None and 200 <= status < 300
        self._stats.record_webhook("delivered" if delivered else "failed")
        self.deliveries.append(
            WebhookDelivery(job.event, job.url, job.body, job.headers, job.attempts, status, delivered, error)
        )

"""Posting visitor payloads the way RB2B does: one JSON POST per visitor, no retry, and the
integration disconnects on the first answer that is not HTTP 200 or takes longer than the deadline
(DOC support.rb2b.com 14300384). A disconnected sender sends nothing until reconnected."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from sync_pipeline.sandbox.config import SandboxConfigError
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.rb2b.config import Rb2bConfig
from sync_pipeline.sandbox.rb2b.payloads import visitor_payload
from sync_pipeline.sandbox.stats import SandboxStats


@dataclass
class SenderState:
    connected: bool = True
    disconnected_reason: str | None = None
    sent: int = 0  # payloads the receiver accepted
    next_index: int = 0  # the next seeded visitor to send

    def as_json(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "disconnected_reason": self.disconnected_reason,
            "sent": self.sent,
            "next_index": self.next_index,
        }


class Rb2bSender:
    """Sends the seeded visitors in order; ``state`` says whether the integration is still connected."""

    def __init__(self, people: SeededPeople, stats: SandboxStats) -> None:
        self._people = people
        self._stats = stats
        self._lock = threading.Lock()
        self.state = SenderState()

    def reset(self) -> None:
        with self._lock:
            self.state = SenderState()

    def reconnect(self) -> None:
        """What a person does in the RB2B dashboard after fixing the receiver."""
        with self._lock:
            self.state.connected, self.state.disconnected_reason = True, None

    async def send(self, count: int, config: Rb2bConfig) -> int:
        """Post up to ``count`` visitors; returns how many were accepted before any disconnect."""
        if not config.target_url:
            raise SandboxConfigError("set target_url first (POST /_sandbox/config)")
        accepted = 0
        async with httpx.AsyncClient(timeout=config.response_deadline_s) as client:
            for _ in range(count):
                with self._lock:
                    if not self.state.connected:
                        break
                    index = self.state.next_index
                    self.state.next_index += 1
                problem = await self._post(client, config, visitor_payload(self._people, index))
                if problem is not None:
                    self._disconnect(problem)
                    break
                accepted += 1
                with self._lock:
                    self.state.sent += 1
        return accepted

    async def _post(self, client: httpx.AsyncClient, config: Rb2bConfig, payload: dict[str, Any]) -> str | None:
        """None when the receiver answered 200 in time, else why RB2B would disconnect."""
        self._stats.record_webhook("emitted")
        try:
            response = await asyncio.wait_for(
                client.post(config.target_url or "", params={"token": config.token}, json=payload),
                timeout=config.response_deadline_s,
            )
        except (TimeoutError, httpx.TimeoutException):
            problem = f"no response within {config.response_deadline_s:g} s"
        except httpx.HTTPError as exc:
            problem = f"receiver unreachable ({type(exc).__name__})"
        else:
            if response.status_code == 200:
                self._stats.record_webhook("delivered")
                self._stats.increment("visitors_sent")
                return None
            problem = f"receiver answered {response.status_code}"
        self._stats.record_webhook("failed")
        return problem

    def _disconnect(self, reason: str) -> None:
        with self._lock:
            self.state.connected, self.state.disconnected_reason = False, reason
        self._stats.increment("disconnected")

"""A small GHL-like vendor on loopback for transport tests: real HTTP, no mocks of httpx.

It enforces a fixed window (``limit`` requests per ``period_s``, counted from server start, so its
phase is unrelated to the client's), answers with GHL's rate headers, 429s past the limit, and
plays scripted faults (``503``, ``429`` with Retry-After, a hang past the client timeout, a dropped
connection, or any status and body) for the next requests. Every arrival is recorded so tests can
count requests per window.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

GOOD_TOKEN = "pit-0f3e9a1c-5b7d-4e2a-9c8b-d41f00c0ffee"


@dataclass(frozen=True)
class Fault:
    """One scripted answer: ``kind`` is ``status`` (with ``status``/``body``), ``hang`` or ``drop``."""

    kind: str
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def answer(cls, status: int, body: Any = None, **headers: str) -> Fault:
        return cls(
            "status",
            status,
            body if body is not None else {"statusCode": status, "message": "scripted"},
            headers,
        )


HANG = Fault("hang")
DROP = Fault("drop")


@dataclass(frozen=True)
class Arrival:
    at: float
    method: str
    path: str
    status: int | None  # None: hung or dropped


class FakeVendor:
    """State and ASGI app of the fake vendor; start it with :func:`serve`."""

    def __init__(self, *, limit: int = 20, period_s: float = 1.0, hang_s: float = 0.5) -> None:
        self.limit = limit
        self.period_s = period_s
        self.hang_s = hang_s
        self.script: deque[Fault] = deque()
        self.arrivals: list[Arrival] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PUT", "DELETE"])])

    # -- what tests read -------------------------------------------------------------------

    def per_window(self) -> Counter[int]:
        """Arrivals per fixed window of the server."""
        return Counter(int((a.at - self.started) // self.period_s) for a in self.arrivals)

    def statuses(self) -> Counter[int | None]:
        return Counter(a.status for a in self.arrivals)

    def max_in_any_period(self) -> int:
        """The most arrivals inside any sliding stretch of one period (stricter than fixed windows)."""
        times = sorted(a.at for a in self.arrivals)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= self.period_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- the vendor --------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        now = time.monotonic()
        window = int((now - self.started) // self.period_s)
        with self._lock:
            fault = self.script.popleft() if self.script else None
            used = sum(1 for a in self.arrivals if int((a.at - self.started) // self.period_s) == window) + 1
            status = self._status(request, fault, used)
            self.arrivals.append(Arrival(now, request.method, request.scope["raw_path"].decode(), status))
        headers = {
            "X-RateLimit-Max": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Interval-Milliseconds": str(int(self.period_s * 1000)),
            "X-RateLimit-Limit-Daily": "200000",
            "X-RateLimit-Daily-Remaining": str(200000 - len(self.arrivals)),
        }
        if fault is not None and fault.kind == "hang":
            await asyncio.sleep(self.hang_s)
            return JSONResponse({"late": True}, headers=headers)
        if fault is not None and fault.kind == "drop":
            return _DroppedConnection()
        if fault is not None:
            return JSONResponse(fault.body, status_code=fault.status, headers={**headers, **fault.headers})
        if status == 401:
            echoed = request.headers.get("authorization", "")
            return JSONResponse(
                {
                    "statusCode": 401,
                    "message": f"Invalid token: {echoed} is invalid",
                    "error": "Unauthorized",
                },
                status_code=401,
            )
        if status == 429:
            return JSONResponse(
                {"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"},
                status_code=429,
                headers=headers,
            )
        return JSONResponse(self._body(request), headers=headers)

    def _status(self, request: Request, fault: Fault | None, used: int) -> int | None:
        if fault is not None:
            return fault.status if fault.kind == "status" else None
        if request.headers.get("authorization") != f"Bearer {GOOD_TOKEN}":
            return 401
        return 429 if used > self.limit else 200

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        path = request.url.path
        if path.startswith("/contacts/") and request.method == "GET":
            return {"contact": {"id": path.rsplit("/", 1)[-1]}}
        return {"ok": True, "path": path}


class _DroppedConnection(Response):
    """Starts a response, then dies: the client sees the connection close mid-answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        raise ConnectionAbortedError("fake vendor dropped the connection")


@contextmanager
def serve(vendor: FakeVendor) -> Iterator[str]:
    """Run ``vendor`` on a free loopback port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        vendor.app, log_level="critical", lifespan="off", access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fake-vendor", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("fake vendor did not start")
        time.sleep(0.01)
    vendor.started = time.monotonic()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()

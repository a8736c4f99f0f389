"""The Clay Public API v0 sandbox (vendor reference 4.2, SPEC ``clay-com-public-api-openapi.json``).

* ``clay-api-key`` header; errors are bare ``{"message": …}`` bodies.
* ``POST /routines/{routine_id}/run`` with 1-100 ``{"id", "inputs"}`` items → 202
  ``{"routine_run_id", "status": "in_progress"}``; 402 when the workspace lacks the credits.
* ``GET /routines/run/{routine_run_id}/results?cursor=&limit=`` → 202 ``RunResultsInProgress``
  until ``processing_delay_s`` passed, then 200 ``RunResultsComplete`` (``cursor`` only while more
  pages remain).
* 429 with ``Retry-After`` (and the X-RateLimit-* trio while ``advertise_rate_headers``).
* Credits per row are charged when a run starts (``enrichment_credits`` in ``/_sandbox/stats``).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sync_pipeline.sandbox.clay.config import ClayConfig
from sync_pipeline.sandbox.clay.runs import Run, run_items
from sync_pipeline.sandbox.identifiers import token
from sync_pipeline.sandbox.pdl.people import SeededPeople
from sync_pipeline.sandbox.rate_headers import retry_after_headers
from sync_pipeline.sandbox.ratelimit import RateDecision, RateWindow
from sync_pipeline.sandbox.routing import Handler, answering
from sync_pipeline.sandbox.vendor import SandboxOptions, VendorSandbox

MAX_ITEMS = 100


def clay_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Clay's error body: a bare ``{"message": …}``."""
    return JSONResponse({"message": message}, status_code=status, headers=headers)


class _ClayError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ClaySandbox(VendorSandbox):
    """Clay routines over the seeded people; ``runs`` holds every run started."""

    name = "clay"
    config_type = ClayConfig
    config: ClayConfig

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        self._lock = threading.Lock()
        self.reset_data()

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/routines/{routine_id}/run", self._guarded(self._run), methods=["POST"]),
            Route("/routines/run/{routine_run_id}/results", self._guarded(self._results), methods=["GET"]),
        ]

    def rate_windows(self) -> Sequence[RateWindow]:
        return self.config.rate_windows

    def rate_limit_headers(self, decision: RateDecision) -> Mapping[str, str]:
        if not self.config.advertise_rate_headers or not decision.windows:
            return {}
        state = min(decision.windows.values(), key=lambda s: s.remaining)
        return {
            "X-RateLimit-Limit": str(state.window.limit),
            "X-RateLimit-Remaining": str(max(0, state.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.clock.now() + state.reset_in_s)),
        }

    def rate_limited_response(self, decision: RateDecision, retry_after_s: float | None) -> Response:
        """DOC: every 429 carries Retry-After (seconds)."""
        return clay_error(429, "Rate limit exceeded", retry_after_headers(retry_after_s, decision))

    def server_error_response(self, status: int) -> Response:
        return clay_error(status, "Internal server error")

    def not_found_response(self, method: str, path: str) -> Response:
        return clay_error(404, "Not found")

    def guard(self, connection: HTTPConnection) -> Response | None:
        if connection.headers.get("clay-api-key") != self.config.api_key:
            return clay_error(401, "Authentication failed")
        return None

    def credentials(self) -> dict[str, str]:
        return {
            "api_key": self.config.api_key,
            "person_routine_id": self.config.person_routine_id,
            "company_routine_id": self.config.company_routine_id,
        }

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "CLAY_BASE_URL": base_url,
            "CLAY_API_KEY": self.config.api_key,
            "CLAY_PERSON_ROUTINE_ID": self.config.person_routine_id,
            "CLAY_COMPANY_ROUTINE_ID": self.config.company_routine_id,
        }

    def reset_data(self) -> None:
        with self._lock:
            self.runs: dict[str, Run] = {}
            self.credits_left = self.config.credits_available

    def configure(self, changes: Mapping[str, Any]) -> ClayConfig:
        config = super().configure(changes)
        if "credits_available" in changes:
            with self._lock:
                self.credits_left = config.credits_available
        return config

    # ---- handlers -----------------------------------------------------------------------------

    def _guarded(self, handler: Handler) -> Handler:
        """The handler with :class:`_ClayError` answered as Clay's bare ``{"message"}`` body."""
        return answering(handler, _ClayError, lambda exc: clay_error(exc.status, str(exc)))

    async def _run(self, request: Request) -> Response:
        routine_id = request.path_params["routine_id"]
        kinds = {self.config.person_routine_id: "person", self.config.company_routine_id: "company"}
        if routine_id not in kinds:
            raise _ClayError(404, f"Routine {routine_id} not found")
        items = _validated_items(await request.body())
        people = SeededPeople(self.options.seed, self.config.miss_rate, self.config.miss_prefix)
        results, credits = run_items(kinds[routine_id], items, people, self.config)
        with self._lock:
            if self.credits_left is not None:
                if self.credits_left < credits:
                    raise _ClayError(402, "Your workspace is out of data credits; top up or upgrade the plan")
                self.credits_left -= credits
            run_id = f"run_{token(self.options.seed, 'clay-run', len(self.runs), length=16)}"
            self.runs[run_id] = Run(run_id, self.clock.now(), tuple(results), credits)
        self.stats.charge_credits(credits)
        self.stats.increment("rows_processed", len(results))
        return JSONResponse({"routine_run_id": run_id, "status": "in_progress"}, status_code=202)

    async def _results(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["routine_run_id"])
        if run is None:
            raise _ClayError(404, "Routine run not found")
        total = len(run.items)
        if self.clock.now() - run.started_at < self.config.processing_delay_s:
            body = {"routine_run_id": run.id, "total": total, "finished": 0, "status": "in_progress"}
            return JSONResponse(body, status_code=202)
        limit = _int_query(request, "limit", self.config.results_limit_default, 1, MAX_ITEMS)
        start = _cursor_offset(request.query_params.get("cursor"), total)
        page: dict[str, Any] = {
            "routine_run_id": run.id,
            "total": total,
            "finished": total,
            "status": "complete",
            "data": list(run.items[start : start + limit]),
        }
        if start + limit < total:
            page["cursor"] = token("cursor", run.id, length=8) + str(start + limit)
        return JSONResponse(page)


def _validated_items(raw: bytes) -> list[dict[str, Any]]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise _ClayError(400, "Validation failed: body is not valid JSON") from None
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise _ClayError(400, f"Validation failed: items must be an array of 1-{MAX_ITEMS} entries")
    for n, item in enumerate(items):
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and 1 <= len(item["id"]) <= 64
            and isinstance(item.get("inputs"), dict)
        )
        if not ok:
            raise _ClayError(400, f"Validation failed: items[{n}] needs an id (1-64 chars) and an inputs object")
    return items


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise _ClayError(400, f"Validation failed: {name} must be an integer between {low} and {high}")
    return int(raw)


def _cursor_offset(cursor: str | None, total: int) -> int:
    """Cursors are opaque to clients: 8 characters then the offset."""
    if not cursor:
        return 0
    tail = cursor[8:]
    if not tail.isdigit() or int(tail) > total:
        raise _ClayError(400, "Validation failed: cursor is invalid")
    return int(tail)

"""What every GHL route handler shares: reading the JSON body and turning raised errors into GHL bodies."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sync_pipeline.sandbox.ghl.errors import GhlRequestError, trace_id
from sync_pipeline.sandbox.routing import Handler, answering


def ghl_route(path: str, handler: Handler, methods: list[str]) -> Route:
    """A route whose handler may raise :class:`GhlRequestError` to answer an error body."""
    return Route(path, answering(handler, GhlRequestError, GhlRequestError.response), methods=methods)


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or the 400 GHL's body parser answers."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise GhlRequestError(400, f"Unexpected token in JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise GhlRequestError(400, "Request body must be a JSON object")
    return data


def ok(body: dict[str, Any], status: int = 200) -> JSONResponse:
    """A success body with the ``traceId`` GHL adds to every response."""
    return JSONResponse({**body, "traceId": trace_id()}, status_code=status)


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``; 422 otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise GhlRequestError(422, [f"{name} must be a number conforming to the specified constraints"]) from None
    if value < low:
        raise GhlRequestError(422, [f"{name} must not be less than {low}"])
    if value > high:
        raise GhlRequestError(422, [f"{name} must not be greater than {high}"])
    return value

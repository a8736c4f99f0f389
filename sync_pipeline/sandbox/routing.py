"""Answering an error a route handler raises, for every vendor's routes and the admin routes.

Validation deep inside a handler raises the vendor's error instead of passing a response back up;
the wrapper here turns it into the vendor's error body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Exception)


def answering(handler: Handler, error: type[E], respond: Callable[[E], Response]) -> Handler:
    """``handler`` with a raised ``error`` answered by ``respond(exc)``."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except error as exc:
            return respond(exc)

    return endpoint

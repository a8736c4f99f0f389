"""Closing a client's TCP connection without sending any HTTP response.

ASGI has no message for "drop this connection": an app that returns without responding makes
uvicorn answer 500. uvicorn does pass its per-request ``RequestResponseCycle.send`` bound method as
the ASGI ``send`` callable, and that cycle holds the connection's asyncio transport; closing the
transport before ``http.response.start`` makes the client see the server hang up (httpx raises
``RemoteProtocolError: Server disconnected without sending a response``). The sandbox pipeline is
the outermost ASGI app, so the ``send`` it receives is uvicorn's own.
"""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Send


class ConnectionDropUnsupported(RuntimeError):
    """The ASGI server is not uvicorn, so the connection cannot be dropped."""


async def hang(receive: Receive, seconds: float) -> None:
    """Answer nothing for ``seconds``, or until the client gives up and disconnects."""
    try:
        async with asyncio.timeout(seconds):
            await _disconnected(receive)
    except TimeoutError:
        pass


async def drop_connection(send: Send, receive: Receive) -> None:
    """Close the connection behind ``send`` and wait until the server has noticed."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionDropUnsupported("dropping connections needs the sandbox to be served by uvicorn")
    transport.close()
    # uvicorn marks the cycle disconnected in connection_lost (a later loop turn); until then it
    # would still try to answer 500 when the app returns. receive() reports the disconnect.
    async with asyncio.timeout(5):
        await _disconnected(receive)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

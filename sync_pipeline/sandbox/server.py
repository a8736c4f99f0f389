"""Serving an ASGI app with uvicorn on a loopback port, in a background thread of this process."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp


class SandboxServerError(RuntimeError):
    """A sandbox server could not start (port taken, app failed to load)."""


class ServerThread:
    """One uvicorn server in a daemon thread. ``port=0`` picks a free port; read it from ``url``.

    ``lifespan=True`` runs the app's startup and shutdown hooks (an app that starts workers there,
    such as the receiver with the MCP server); the vendor sandboxes have none.
    """

    def __init__(
        self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, name: str = "sandbox", lifespan: bool = False
    ) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise SandboxServerError(f"cannot listen on {host}:{port}: {exc}") from exc
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on" if lifespan else "off",
            timeout_graceful_shutdown=1,  # a request hanging in a timeout fault must not block stop()
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=f"{name}-server", daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> str:
        """Start serving; return the base URL once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SandboxServerError(f"sandbox server at {self.url} did not start")
            time.sleep(0.005)
        return self.url

    def begin_stop(self) -> None:
        """Ask the server to stop without waiting: uvicorn notices on its next tick and then winds
        down for another 0.1 s, so servers stopped together take that time once, not once each."""
        self._server.should_exit = True

    def stop(self) -> None:
        self.begin_stop()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout=5)
        self._socket.close()

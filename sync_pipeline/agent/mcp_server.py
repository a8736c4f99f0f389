"""The MCP server: the tools of :mod:`.mcp_tools` behind one gate (per-client rate limit, errors an
agent can act on), built on the official SDK's ``FastMCP`` (``mcp`` v1 line). Served over stdio by
``sync-pipeline mcp`` and over streamable HTTP at ``/mcp`` by ``sync-pipeline serve``
(:mod:`sync_pipeline.serve`).

Failures come back as tool errors (``isError``) whose text says what went wrong and what to do;
an unexpected one is logged here with its traceback and the agent gets a short reference to it.
"""

from __future__ import annotations

import ipaddress
import logging
import uuid
from typing import Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from ..enrichment import EnrichmentError, EnrichmentFailed
from ..errors import RateLimited, VendorError
from ..settings import Settings, SettingsError, get_settings
from ..store import Store, StoreError
from ..store.errors import StoreBusy
from .errors import InvalidRequest, UnknownContact
from .mcp_limits import CallLimited, CallLimiter
from .mcp_tools import ToolFailure, Tools

log = logging.getLogger(__name__)

SERVER_NAME = "sync_pipeline"
INSTRUCTIONS = (
    "Local mirror of the sales stack's CRM contacts, website visitors (RB2B) and enrichment cache, "
    "plus an outbox for vendor writes. Reads answer in milliseconds from local tables and say how "
    "fresh they are. Writes (emails, contact changes) are queued and answered at once with a job id: "
    "always pass an idempotency_key you can repeat on retry (the same key returns the same job), then "
    "follow the job with outbox_job_status."
)


class AgentMCP(FastMCP):
    """FastMCP with one gate in front of every tool: the per-client rate limit, then errors an
    agent can act on (the SDK's own text for a failed tool is "Error executing tool X: …", with
    pydantic's full report for bad arguments)."""

    def __init__(self, limiter: CallLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter

    async def list_tools(self) -> list[MCPTool]:
        # pydantic titles every property after its name ("Contact Id"): tokens in every agent's
        # context that say nothing the name does not.
        return [
            tool.model_copy(
                update={
                    "inputSchema": _untitled(tool.inputSchema),
                    "outputSchema": tool.outputSchema and _untitled(tool.outputSchema),
                }
            )
            for tool in await super().list_tools()
        ]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        try:
            self.limiter.acquire(client_key(self.get_context()))
        except CallLimited as exc:
            raise ToolError(str(exc)) from None
        try:
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            if exc.__cause__ is None:  # the SDK's own, e.g. an unknown tool name
                raise ToolError(f"{exc}; the tools this server has are in tools/list") from None
            raise ToolError(explain(name, exc.__cause__)) from None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to listen on) is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _transport_security(host: str) -> TransportSecuritySettings:
    """On loopback, where no token is asked for, only requests naming a loopback Host (and Origin,
    when a browser sends one) are served: a web page cannot reach the server through DNS rebinding.
    Beyond loopback the bearer token guards every request and the Host is whatever clients use."""
    if not is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = sorted({"127.0.0.1", "localhost", "[::1]", f"[{host.strip('[]')}]" if ":" in host else host})
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{name}:*" for name in names],
        allowed_origins=[f"http://{name}:*" for name in names],
    )


def client_key(ctx: Any) -> str:
    """Whom a call counts against: its MCP session over HTTP, the process over stdio."""
    try:
        request = ctx.request_context.request
    except ValueError:  # no request in flight (a direct call)
        return "process"
    headers = getattr(request, "headers", None)
    if headers is None:
        return "process"
    session = headers.get("mcp-session-id")
    if session:
        return f"session:{session}"
    client = getattr(request, "client", None)
    return f"http:{client.host if client else 'unknown'}"


def explain(tool: str, exc: BaseException) -> str:
    """The tool error text for ``exc``: what went wrong and what to do, never a traceback."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()
        )
        return f"invalid arguments: {problems}. Fix them and call {tool} again (see its input schema)."
    if isinstance(exc, ToolFailure):
        return str(exc)
    if isinstance(exc, UnknownContact):
        return f"{exc}; find the contact's id with contacts_find"
    if isinstance(exc, InvalidRequest):
        return f"{str(exc).rstrip('.')}. Fix the arguments and call {tool} again."
    if isinstance(exc, EnrichmentFailed):
        return f"the enrichment vendor failed: {exc}; nothing was cached, so calling again retries"
    if isinstance(exc, EnrichmentError):  # the budget, or another caller's lookup still running
        return str(exc)
    if isinstance(exc, RateLimited):
        wait = f"{exc.retry_after:.0f} s" if exc.retry_after else "a minute"
        return f"the vendor is rate-limiting us ({exc}); retry in {wait}, or use the local answer"
    if isinstance(exc, VendorError):
        return f"the vendor call failed: {exc}"
    if isinstance(exc, StoreBusy):
        return f"the local store is busy ({exc}); retry in a few seconds"
    if isinstance(exc, StoreError | SettingsError):
        return f"the server is misconfigured: {exc}. Tell its operator (`sync-pipeline status` shows the setup)."
    ref = uuid.uuid4().hex[:8]
    log.error("MCP tool %s failed unexpectedly (ref %s)", tool, ref, exc_info=exc)
    return (
        f"{tool} failed unexpectedly (server log ref {ref}); retry once, then check pipeline_status "
        "or tell the server's operator"
    )


def build_server(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    limiter: CallLimiter | None = None,
    host: str = "127.0.0.1",
) -> AgentMCP:
    """The MCP server over one store (opened on first use when not given) and one rate limiter.

    ``host`` is where HTTP is served: on loopback the SDK's DNS-rebinding protection (Host and
    Origin checks) stays on; elsewhere the bearer token (:mod:`sync_pipeline.serve`) guards it.
    """
    settings = settings or get_settings()
    limiter = limiter or CallLimiter(settings.mcp_rate_limit_per_minute)
    security = _transport_security(host)
    server = AgentMCP(
        limiter,
        name=SERVER_NAME,
        instructions=INSTRUCTIONS,
        host=host,
        transport_security=security,
        log_level="WARNING",
    )
    tools = Tools(settings, store)
    for fn, hints, title in tools.registry():
        server.add_tool(fn, name=fn.__name__, title=title, annotations=hints, structured_output=True)
    return server


def _untitled(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema without ``title`` keywords (property names, which may be "title", are kept)."""

    def strip(node: Any, *, names: bool = False) -> Any:
        if isinstance(node, list):
            return [strip(n) for n in node]
        if not isinstance(node, dict):
            return node
        if names:  # a "properties" or "$defs" mapping: keys are names, values are schemas
            return {k: strip(v) for k, v in node.items()}
        return {k: strip(v, names=k in ("properties", "$defs")) for k, v in node.items() if k != "title"}

    return strip(schema)

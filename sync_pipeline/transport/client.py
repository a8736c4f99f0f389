"""``VendorClient``: the one HTTP client every vendor call goes through.

The layers sit around one request path, httpx style::

    auth (profile header) → retries → shared rate limiter → call ledger → network

so a provider module only says which path to call with what payload. Synchronous and
thread-safe: Dagster ops are sync and fan out with threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from ..errors import AuthError, NotFound
from ..settings import Secret, Settings, SettingsError, env_name
from ..store import Store
from .call import EXTENSION, IDEMPOTENT_METHODS, CallContext
from .ledger import CallLedger, LedgerTransport
from .limiter import RateLimitTransport, SharedRateLimiter
from .profiles import VendorProfile, Window
from .redaction import Redactor
from .retries import RetryPolicy, RetryTransport
from .stats import TransportCounters, TransportStats
from .vendor_errors import error_for_response, error_for_transport

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "default"


class _ProfileAuth(httpx.Auth):
    """Puts the credential in the profile's header, the last moment it is revealed."""

    def __init__(self, profile: VendorProfile, credentials: Secret) -> None:
        self._header = profile.auth_header
        self._format = profile.auth_format
        self._credentials = credentials

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._format.format(secret=self._credentials.reveal())
        yield request

    def __repr__(self) -> str:
        return f"_ProfileAuth({self._header}: ********)"


class VendorClient:
    """Calls one vendor account with rate limiting, retries, the ledger and redaction built in.

    ``account`` keys the shared rate limit (GHL location id, Instantly workspace id; None for a
    single-account vendor). ``windows`` overrides the profile's limits (e.g. a PDL free plan).
    Each call returns a 2xx :class:`httpx.Response` or raises a
    :class:`~sync_pipeline.errors.VendorError` subclass.
    """

    def __init__(
        self,
        *,
        profile: VendorProfile,
        base_url: str,
        account: str | None,
        credentials: Secret,
        store: Store,
        default_headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        windows: Sequence[Window] | None = None,
        ledger: CallLedger | None = None,
    ) -> None:
        self.profile = profile
        self.account = account
        self._credentials = credentials
        self._redact = Redactor([credentials.reveal()])
        self._retry = retry or RetryPolicy()
        self._counters = TransportCounters()
        self._owns_ledger = ledger is None
        self._ledger = ledger or CallLedger(store)
        self.limiter = SharedRateLimiter(
            store,
            provider=profile.name,
            account=account or DEFAULT_ACCOUNT,
            windows=tuple(windows or profile.windows),
            rate_headers=profile.rate_headers,
            counters=self._counters,
        )
        network = LedgerTransport(
            httpx.HTTPTransport(retries=0),
            self._ledger,
            self._counters,
            provider=profile.name,
            account=account,
        )
        self._http = httpx.Client(
            base_url=base_url,
            auth=_ProfileAuth(profile, credentials),
            headers=dict(default_headers or {}),
            timeout=timeout,
            follow_redirects=False,
            transport=RetryTransport(
                RateLimitTransport(network, self.limiter, self._counters), self._retry, self._counters
            ),
        )

    @classmethod
    def for_profile(
        cls,
        profile: VendorProfile,
        settings: Settings,
        store: Store,
        *,
        bucket: str | None = None,
        windows: Sequence[Window] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> VendorClient:
        """The client of ``profile``'s vendor as ``settings`` configure it.

        The base URL, credential and account are the settings the profile names. ``bucket`` names a
        rate-limit bucket of its own within the account (e.g. ``"search"`` for an endpoint limited
        apart from the rest); ``windows`` replace the profile's limits.
        """
        account = _setting(settings, profile.account_setting) if profile.account_setting else None
        if bucket:
            account = f"{account}:{bucket}" if account else bucket
        return cls(
            profile=profile,
            base_url=_setting(settings, profile.base_url_setting),
            account=account or None,
            credentials=_setting(settings, profile.credential_setting),
            store=store,
            default_headers=default_headers,
            windows=windows,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, str | int] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        idempotency_key: str | None = None,
        cost_usd: float = 0.0,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one call; return its 2xx response.

        ``path`` is a template (``/contacts/{contactId}``) filled from ``path_params``; the template,
        not the filled path, is what the ledger and error messages show, so put ids in
        ``path_params`` and everything else in ``params``. POST and PATCH are retried after an
        ambiguous failure only with ``idempotent=True`` or an ``idempotency_key`` (sent as the
        profile's idempotency header where the vendor has one). ``cost_usd`` is charged in the
        ledger to the attempt that succeeds. The response's ``extensions["sync_pipeline.call"]``
        is the call's :class:`CallContext` (attempts, retries, 429s, limiter wait).
        """
        method = method.upper()
        if not self._credentials:
            raise AuthError(
                self.profile.name,
                f"{self.profile.credential_setting} is not set; {self.profile.display_name} needs it",
            )
        call = CallContext(
            method=method,
            endpoint=path,
            idempotent=bool(idempotent or idempotency_key or (idempotent is None and method in IDEMPOTENT_METHODS)),
            cost_usd=cost_usd,
            deadline=time.monotonic() + self._retry.max_elapsed_s,
        )
        headers = dict(headers or {})
        if idempotency_key and self.profile.idempotency_header:
            headers[self.profile.idempotency_header] = idempotency_key
        self._counters.add(calls=1)
        try:
            response = self._http.request(
                method,
                _fill(path, path_params),
                params=params,
                json=json,
                content=content,
                headers=headers,
                timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                extensions={EXTENSION: call},
            )
        except httpx.TransportError as exc:
            error = error_for_transport(self.profile, call, exc, self._redact)
            log.warning("%s", error)
            raise error from None
        response.extensions = {**response.extensions, EXTENSION: call}
        if response.is_success:
            return response
        error = error_for_response(self.profile, call, response, self._redact)
        # A missing record is an everyday answer (callers turn it into None), not a warning.
        log.log(logging.INFO if isinstance(error, NotFound) else logging.WARNING, "%s", error)
        raise error

    def stats(self) -> TransportStats:
        """Counters since this client was created, for Dagster metadata (no secrets)."""
        return self._counters.snapshot(self.limiter.windows())

    def flush(self) -> None:
        """Write buffered ledger rows now."""
        self._ledger.flush()

    def close(self) -> None:
        """Close connections and flush the ledger (closes it too when this client created it)."""
        self._http.close()
        if self._owns_ledger:
            self._ledger.close()
        else:
            self._ledger.flush()

    def __enter__(self) -> VendorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        base_url = _scrub(str(self._http.base_url))
        return f"VendorClient(provider={self.profile.name!r}, account={self.account!r}, base_url={base_url!r})"


def _setting(settings: Settings, variable: str) -> Any:
    """The value ``settings`` read from the environment variable ``variable``."""
    field = variable.lower()  # every Settings field is its variable's name in lower case
    try:
        known = env_name(field) == variable
    except KeyError:
        known = False
    if not known:
        raise SettingsError(f"no setting is read from {variable}; the transport profile names it by mistake")
    return getattr(settings, field)


def _fill(template: str, path_params: Mapping[str, str | int] | None) -> str:
    """Fill a path template, escaping each value so an id can never change the path's shape."""
    if "?" in template:
        raise ValueError(f"path template {template!r} has a query string; pass query values as params=")
    try:
        return template.format_map({k: quote(str(v), safe="") for k, v in (path_params or {}).items()})
    except (KeyError, IndexError) as exc:
        raise ValueError(f"path template {template!r} needs path_params[{exc.args[0]!r}]") from None


def _scrub(url: str) -> str:
    """The base URL without userinfo or query, which could hold credentials."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))

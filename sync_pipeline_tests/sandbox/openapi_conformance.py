"""Validating recorded sandbox exchanges against a vendor's published OpenAPI with openapi-core.

Each exchange is checked twice: the request (what our client or test sent) against the operation's
parameters, body schema and security, and the response against the operation's declared status and
body schema. The spec's server URL (with Clay's ``/public/v0``) stands in for the sandbox's base URL.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import Exchange

VENDOR_APIS = Path("/work/shared/vendor-apis")
SPECS = {
    "instantly": VENDOR_APIS / "instantly" / "instantly-ai-api-v2-openapi.json",
    "clay": VENDOR_APIS / "clay" / "clay-com-public-api-openapi.json",
}


@cache
def openapi(vendor: str) -> tuple[OpenAPI, str]:
    """The vendor's spec (not itself re-validated: 2 MB) and its server URL."""
    spec = json.loads(SPECS[vendor].read_text())
    return OpenAPI(SchemaPath.from_dict(spec), config=Config(spec_validator_cls=None)), spec["servers"][0]["url"]


def validate_exchange(vendor: str, exchange: Exchange, *, request: bool = True) -> None:
    """Raise openapi-core's validation error when the request or response breaks the spec."""
    api, server = openapi(vendor)
    parts = urlsplit(server)
    mock_request = MockRequest(
        f"{parts.scheme}://{parts.netloc}",
        exchange.method.lower(),
        parts.path + exchange.path,
        args=dict(parse_qsl(exchange.query, keep_blank_values=True)),
        data=exchange.body or None,
        headers=exchange.headers,
        content_type=exchange.headers.get("content-type", "application/json").split(";")[0],
    )
    if request:
        api.validate_request(mock_request)
    assert exchange.status is not None, f"{exchange.method} {exchange.path} got no response"
    mock_response = MockResponse(
        exchange.response_body,
        status_code=exchange.status,
        headers=exchange.response_headers,
        content_type=exchange.response_headers.get("content-type", "application/json").split(";")[0],
    )
    api.validate_response(mock_request, mock_response)

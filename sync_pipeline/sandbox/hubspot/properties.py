"""The sandbox portal's contact properties API, for the tags property: its options can be read and
replaced, and contact writes are checked against them.

HubSpot (DOC, properties v3): ``GET /crm/v3/properties/contacts/{name}`` answers the property with
its ``options``; ``PATCH`` the same path with ``{"options": [...]}`` *replaces* them (there is no
way to append one, so a client sends the whole list). A contact write whose enumeration value is
not an option answers 400 ``INVALID_OPTION`` (OBS: ``"<v> was not one of the allowed options:
[...]"``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sync_pipeline.sandbox.hubspot.errors import HubSpotRequestError, invalid_property
from sync_pipeline.sandbox.hubspot.routes import hubspot_route, read_json
from sync_pipeline.sandbox.hubspot.search import validation_error

if TYPE_CHECKING:
    from sync_pipeline.sandbox.hubspot.sandbox import HubSpotSandbox

BASE = "/crm/v3/properties/contacts"


class TagOptions:
    """The options of the portal's tags property (thread-safe)."""

    def __init__(self, initial: Iterable[str]) -> None:
        self._initial = tuple(initial)
        self._lock = threading.Lock()
        self._options: list[dict[str, Any]] = []
        self.reset()

    def values(self) -> list[str]:
        with self._lock:
            return [o["value"] for o in self._options]

    def as_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(o) for o in self._options]

    def replace(self, options: Sequence[Any]) -> None:
        """Replace every option, as HubSpot's PATCH does; each needs a ``label`` and a ``value``."""
        parsed = []
        for order, option in enumerate(options):
            if not isinstance(option, dict) or not option.get("value") or not option.get("label"):
                raise validation_error("every option needs a label and a value")
            parsed.append({**_option(str(option["value"]), order), **_known_fields(option)})
        with self._lock:
            self._options = parsed

    def check(self, name: str, value: str | None) -> None:
        """Raise HubSpot's ``INVALID_OPTION`` for a ``;``-separated value holding a non-option."""
        allowed = self.values()
        for given in (value or "").split(";"):
            if given and given not in allowed:
                listed = ", ".join(allowed)
                message = f"{given} was not one of the allowed options: [{listed}]"
                raise invalid_property(name, "INVALID_OPTION", message)

    def reset(self) -> None:
        """Back to the seed's options."""
        with self._lock:
            self._options = [_option(value, order) for order, value in enumerate(self._initial)]


def property_routes(sandbox: HubSpotSandbox) -> list[Route]:
    def tags_property(request: Request) -> str:
        name = request.path_params["propertyName"]
        if name != sandbox.config.tags_property:
            message = f"Unable to find property {name} for object type contacts"
            raise HubSpotRequestError(404, message, "OBJECT_NOT_FOUND")
        return name

    def describe(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "label": "Sync tags",
            "type": "enumeration",
            "fieldType": "checkbox",
            "groupName": "contactinformation",
            "options": sandbox.tag_options.as_json(),
            "hidden": False,
            "formField": False,
        }

    async def get(request: Request) -> Response:
        return JSONResponse(describe(tags_property(request)))

    async def update(request: Request) -> Response:
        name = tags_property(request)
        body = await read_json(request)
        if "options" in body:
            if not isinstance(body["options"], list):
                raise validation_error("options must be a list")
            sandbox.tag_options.replace(body["options"])
        return JSONResponse(describe(name))

    return [
        hubspot_route(f"{BASE}/{{propertyName}}", get, ["GET"]),
        hubspot_route(f"{BASE}/{{propertyName}}", update, ["PATCH"]),
    ]


def _option(value: str, order: int) -> dict[str, Any]:
    return {"label": value, "value": value, "displayOrder": order, "hidden": False}


def _known_fields(option: dict[str, Any]) -> dict[str, Any]:
    return {k: option[k] for k in ("label", "description", "displayOrder", "hidden") if k in option}

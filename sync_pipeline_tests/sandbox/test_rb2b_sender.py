"""The RB2B sandbox sender: seeded visitor payloads posted with the token in the query, and RB2B's
disconnect on the first non-200 or too-slow answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync_pipeline.providers.rb2b import Rb2bVisitors
from sync_pipeline.sandbox.server import ServerThread
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox


def test_sends_every_variant_with_the_token_and_they_normalize(rb2b_sender: OutreachSandbox, webhook_sink) -> None:
    rb2b_sender.admin("config", {"target_url": webhook_sink.url})

    answer = rb2b_sender.admin("rb2b/send", {"count": 5})

    assert (answer["accepted"], answer["connected"]) == (5, True)
    bodies = [json.loads(body) for body in webhook_sink.bodies()]
    visitors = [Rb2bVisitors().normalize(body) for body in bodies]
    assert [v.is_company_only for v in visitors] == [False, True, False, False, False]
    assert visitors[2].is_repeat_visit is True and bodies[3]["Seen At"].endswith(":00.00+00.00")
    assert isinstance(bodies[4]["Employee Count"], str)
    assert all(headers["content-type"] == "application/json" for _, headers in webhook_sink.received)
    assert rb2b_sender.stats()["counters"] == {"visitors_sent": 5}


def test_token_travels_in_the_query(rb2b_sender: OutreachSandbox, seen_queries: tuple[str, list[str]]) -> None:
    url, queries = seen_queries
    rb2b_sender.admin("config", {"target_url": url})
    rb2b_sender.admin("rb2b/send", {"count": 1})
    assert parse_qs(urlsplit(queries[0]).query) == {"token": [rb2b_sender.credentials["webhook_token"]]}


def test_first_non_200_disconnects_and_nothing_more_is_sent(rb2b_sender: OutreachSandbox, webhook_sink) -> None:
    rb2b_sender.admin("config", {"target_url": webhook_sink.url})
    webhook_sink.statuses = [200, 201]  # anything but 200 counts as a failure, even a 2xx

    answer = rb2b_sender.admin("rb2b/send", {"count": 5})
    later = rb2b_sender.admin("rb2b/send", {"count": 5})

    assert (answer["accepted"], answer["connected"]) == (1, False)
    assert answer["disconnected_reason"] == "receiver answered 201"
    assert later["accepted"] == 0 and len(webhook_sink.received) == 2
    stats = rb2b_sender.stats()
    assert stats["counters"] == {"visitors_sent": 1, "disconnected": 1}
    assert (stats["webhooks"]["delivered"], stats["webhooks"]["failed"]) == (1, 1)

    assert rb2b_sender.admin("rb2b/reconnect", {})["connected"] is True
    assert rb2b_sender.admin("rb2b/send", {"count": 1})["accepted"] == 1


def test_a_slow_receiver_disconnects(rb2b_sender: OutreachSandbox, slow_receiver: str) -> None:
    rb2b_sender.admin("config", {"target_url": slow_receiver, "response_deadline_s": 0.2})

    answer = rb2b_sender.admin("rb2b/send", {"count": 3})

    assert (answer["accepted"], answer["connected"]) == (0, False)
    assert answer["disconnected_reason"] == "no response within 0.2 s"
    assert rb2b_sender.admin("rb2b/status")["connected"] is False


@pytest.fixture
def slow_receiver() -> Iterator[str]:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return Response()

    server = ServerThread(Starlette(routes=[Route("/hook", slow, methods=["POST"])]), name="slow-receiver")
    yield server.start() + "/hook"
    server.stop()


@pytest.fixture
def seen_queries() -> Iterator[tuple[str, list[str]]]:
    queries: list[str] = []

    async def record(request: Request) -> Response:
        queries.append(str(request.url))
        return Response()

    server = ServerThread(Starlette(routes=[Route("/hook", record, methods=["POST"])]), name="query-receiver")
    yield server.start() + "/hook", queries
    server.stop()

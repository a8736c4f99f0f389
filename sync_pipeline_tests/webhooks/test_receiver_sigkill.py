"""A 200 means durable: ``sync-pipeline webhooks serve`` SIGKILLed in the middle of a burst of RB2B
deliveries has every delivery it answered 200 for in ``visitor_events``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path

import httpx

from sync_pipeline.store import connect
from sync_pipeline_tests.webhooks.receiver_process import receiver_process

TOKEN = "sigkill-test-token"
SENDERS = 24  # concurrent connections, as RB2B and two other vendors in a burst would open
ANSWERED_BEFORE_KILL = 150
MAX_DELIVERIES = 3_000


def test_every_delivery_answered_200_survives_a_sigkill_mid_burst(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SYNC_PIPELINE_DB": db_url, "RB2B_WEBHOOK_TOKEN": TOKEN}
    with receiver_process(env, tmp_path / "receiver.log") as receiver:
        answered, failed = asyncio.run(_burst_then_kill(receiver.url, receiver.process))
    assert receiver.process.returncode == -signal.SIGKILL
    assert len(answered) >= ANSWERED_BEFORE_KILL and failed > 0, (len(answered), failed)  # killed mid-burst

    store = connect(db_url)
    try:
        with store.transaction() as tx:
            stored = {r["event_id"] for r in tx.fetchall("SELECT event_id FROM visitor_events")}
    finally:
        store.close()
    assert answered <= stored, f"{len(answered - stored)} deliveries answered 200 are not in visitor_events"


async def _burst_then_kill(base: str, receiver: subprocess.Popen[bytes]) -> tuple[set[str], int]:
    """Post unique visits from ``SENDERS`` connections; SIGKILL the receiver once enough are answered.
    Returns the event ids (body digests) answered 200, and how many posts got no answer."""
    answered: set[str] = set()
    failed = 0
    counter = iter(range(MAX_DELIVERIES))
    enough = asyncio.Event()

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal failed
        for n in counter:
            body = json.dumps({"Business Email": f"v{n}@acme.example", "Captured URL": f"https://x.example/{n}"})
            try:
                response = await client.post(f"/webhooks/rb2b?token={TOKEN}", content=body)
            except httpx.HTTPError:
                failed += 1
                return
            assert response.status_code == 200, response.text
            answered.add(hashlib.sha256(body.encode()).hexdigest())
            if len(answered) >= ANSWERED_BEFORE_KILL:
                enough.set()

    limits = httpx.Limits(max_connections=SENDERS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=15) as client:
        senders = [asyncio.create_task(sender(client)) for _ in range(SENDERS)]
        await asyncio.wait_for(enough.wait(), timeout=60)
        receiver.send_signal(signal.SIGKILL)
        await asyncio.gather(*senders)
    return answered, failed

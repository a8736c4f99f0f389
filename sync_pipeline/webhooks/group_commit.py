"""Group commit: concurrent deliveries share one store transaction and are answered after it commits.

A commit is the expensive part of storing a delivery (DuckDB and Postgres both flush their log to
disk), so committing once per request caps a receiver at a few hundred deliveries a second and
makes a burst queue up behind one commit each. Here requests put their parsed delivery on a queue
and wait; one writer thread takes everything queued (up to ``max_batch``), lands it in one
transaction with batched queries, commits, and only then answers every request — so a 200 still
means "durable". If the batch transaction fails, its deliveries are landed one by one, so one bad
delivery cannot fail the others; one that still fails is quarantined with the error, and only when
even that cannot be stored is the answer a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ..store import Store, StoreBusy, StoreConfigError, Transaction
from .answer import Answer
from .delivery import Delivery, Rejected

log = logging.getLogger(__name__)

STORE_DOWN = "the store is unavailable"
# The store could not even be reached (the DuckDB file stayed busy, the database is unreachable).
_STORE_UNREACHABLE = (StoreBusy, StoreConfigError)


def land_batch(tx: Transaction, deliveries: Sequence[Delivery]) -> list[Answer]:
    """Land ``deliveries`` in ``tx``, each kind with one call; answers in the order given."""
    groups: dict[Hashable, list[int]] = {}
    for i, delivery in enumerate(deliveries):
        groups.setdefault(delivery.batch_key(), []).append(i)
    answers: list[Answer | None] = [None] * len(deliveries)
    for indexes in groups.values():
        group = [deliveries[i] for i in indexes]
        for i, answer in zip(indexes, type(group[0]).land(tx, group), strict=True):
            answers[i] = answer
    return [a for a in answers if a is not None]


def land_one(store: Store, accepted: Answer | Delivery) -> Answer:
    """Land one delivery in a transaction of its own (an :class:`Answer` passes through).

    A delivery that cannot be landed is quarantined with the error, so an authenticated delivery is
    still kept; a 503 only when the store cannot take even that.
    """
    if isinstance(accepted, Answer):
        return accepted
    try:
        with store.transaction() as tx:
            return land_batch(tx, [accepted])[0]
    except _STORE_UNREACHABLE as exc:
        log.error("could not store a %s delivery: %s", accepted.source, _describe(exc))
        return accepted.unavailable(STORE_DOWN)
    except Exception as exc:
        problem = _describe(exc)
    if isinstance(accepted, Rejected):
        log.error("could not quarantine a %s delivery: %s", accepted.source, problem)
        return accepted.unavailable(STORE_DOWN)
    log.warning("could not land a %s delivery (%s); quarantining it", accepted.source, problem)
    return land_one(store, accepted.rejected(f"not landed: {problem}"))


@dataclass
class _Pending:
    delivery: Delivery
    future: asyncio.Future[Answer]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    """Lands deliveries handed to :meth:`answer` in shared transactions on one writer thread.

    The writer starts with the first delivery and ends after ``idle_exit_s`` without any, so an
    idle receiver holds no thread (and a DuckDB store can hand its file to other processes).
    """

    def __init__(
        self, store: Store, *, max_batch: int = 256, linger_s: float = 0.005, idle_exit_s: float = 2.0
    ) -> None:
        self._store = store
        self._max_batch = max_batch
        self._linger_s = linger_s
        self._idle_exit_s = idle_exit_s
        self._expected = 1  # deliveries to wait for before landing (briefly)
        self._wanted = 0  # queue length at which a submitter wakes the writer; 0: it is busy
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False

    async def answer(self, accepted: Answer | Delivery) -> Answer:
        """The answer for a delivery once it is committed (an :class:`Answer` passes through)."""
        if isinstance(accepted, Answer):
            return accepted
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        with self._wake:
            if self._closed:
                return accepted.unavailable("the receiver is shutting down")
            self._queue.append(_Pending(accepted, future, loop))
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="webhook-group-commit", daemon=True)
                self._writer.start()
            elif self._wanted and len(self._queue) >= self._wanted:
                self._wake.notify()
        return await future

    def close(self, timeout_s: float = 30.0) -> None:
        """Land what is queued, then stop; later deliveries are answered 503."""
        with self._wake:
            self._closed = True
            writer = self._writer
            self._wake.notify()
        if writer is not None:
            writer.join(timeout_s)

    def _write(self) -> None:
        while True:
            with self._wake:
                batch = self._next_batch()
                if not batch:
                    self._writer = None
                    return
            try:
                answers = self._land([p.delivery for p in batch])
            except BaseException:
                log.exception("group commit failed unexpectedly; answering its %d deliveries 503", len(batch))
                answers = [p.delivery.unavailable(STORE_DOWN) for p in batch]
            _resolve(batch, answers)
            with self._wake:
                # The senders just answered are likely to send again, joining those already queued.
                self._expected = min(len(batch) + len(self._queue), self._max_batch)

    def _next_batch(self) -> list[_Pending]:
        """The next deliveries to land (the lock held); none after ``idle_exit_s`` without any.

        Once one is queued, wait briefly (``linger_s``) until as many are queued as were waiting at
        the last commit: a commit costs about the same for 1 delivery or 50. Submitters wake this
        thread only when that many are there, not for each delivery.
        """
        self._wanted = 1
        if not self._queue and not self._wake.wait_for(lambda: self._queue or self._closed, self._idle_exit_s):
            return []
        self._wanted = self._expected
        deadline = time.monotonic() + self._linger_s
        while len(self._queue) < self._expected and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wake.wait(remaining)
        self._wanted = 0  # landing: nobody needs to wake this thread
        return [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]

    def _land(self, deliveries: list[Delivery]) -> list[Answer]:
        try:
            with self._store.transaction() as tx:
                return land_batch(tx, deliveries)
        except _STORE_UNREACHABLE as exc:  # no delivery's fault: trying each alone would only wait longer
            log.error("could not store %d deliveries: %s", len(deliveries), _describe(exc))
            return [d.unavailable(STORE_DOWN) for d in deliveries]
        except Exception as exc:
            log.warning("%d deliveries failed together (%s); landing each alone", len(deliveries), _describe(exc))
        return [land_one(self._store, d) for d in deliveries]


def _resolve(batch: list[_Pending], answers: list[Answer]) -> None:
    """Hand each answer to its request's event loop: one wake-up per loop, not per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Answer], Answer]]] = {}
    for pending, answer in zip(batch, answers, strict=True):
        by_loop.setdefault(pending.loop, []).append((pending.future, answer))
    for loop, results in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers any more
            loop.call_soon_threadsafe(_set_results, results)


def _set_results(results: list[tuple[asyncio.Future[Answer], Answer]]) -> None:
    for future, answer in results:
        if not future.done():  # a request whose client went away may have been cancelled
            future.set_result(answer)


def _describe(exc: BaseException) -> str:
    """The exception's type and first line: store errors can carry row values, never more."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__

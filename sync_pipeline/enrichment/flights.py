"""Single flight inside one process: of the threads wanting the same key at once, one goes on to
claim it in the store (which makes it single across processes) and the others wait on an event,
then read the answer it stored — no polling, no second claim."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field


@dataclass
class Flight:
    """One key being resolved by one thread of this process."""

    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None  # the owner's failure, handed to those who waited for it


class LocalFlights:
    """The keys threads of this process are resolving, by scope (store and kind) and key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[tuple[Hashable, str], Flight] = {}

    def start(self, scope: Hashable, keys: Iterable[str]) -> tuple[list[str], dict[str, Flight]]:
        """Take every key nobody here resolves yet: (keys now owned, flights of the others)."""
        owned: list[str] = []
        joined: dict[str, Flight] = {}
        with self._lock:
            for key in keys:
                flight = self._flights.get((scope, key))
                if flight is None:
                    self._flights[(scope, key)] = Flight()
                    owned.append(key)
                else:
                    joined[key] = flight
        return owned, joined

    def finish(self, scope: Hashable, keys: Iterable[str], errors: Mapping[str, Exception]) -> None:
        """End the owner's flights; waiters wake up (and get ``errors[key]`` where it failed)."""
        with self._lock:
            ended = [(key, self._flights.pop((scope, key), None)) for key in keys]
        for key, flight in ended:
            if flight is not None:
                flight.error = errors.get(key)
                flight.done.set()


# One registry per process: every Enricher of the process shares it.
FLIGHTS = LocalFlights()

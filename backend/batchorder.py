"""Each gateway's batches stored in the order it sent them, with two of them in flight.

A gateway sends its next batch while the backend stores the one before (gateway/forwarder.py):
the backend then parses it and starts its time-series write meanwhile. But two requests that
arrive together race for the ingest's lock, and a batch judged before the one sent ahead of it
makes that one's readings late for the alert tracks (the fault campaign opened some lamp
faults twice). So a batch names the batch it follows (``after``, that batch's ``key``), and
its transaction waits until that one is stored. If that one failed, or never came (refused
before the ingest: a 429, a 413, a 422; another backend behind a balancer), this one is
refused with a 409 and stores nothing: the gateway sends everything again from its spool's
head, in order.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

BUSY, DONE, FAILED = "busy", "done", "failed"


class OutOfOrder(Exception):
    """The batch this one follows was not stored (or not seen): this one is refused."""


class BatchOrder:
    def __init__(
        self,
        *,
        busy_wait_s: float = 30.0,
        unseen_wait_s: float = 2.0,
        remember: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.busy_wait_s = busy_wait_s  # the one before is being stored: as long as a request
        self.unseen_wait_s = unseen_wait_s  # not seen yet: sent together, it is a moment behind
        self._remember = remember  # batches' outcomes kept, all gateways together (tiny)
        self._clock = clock
        self._changed = threading.Condition()
        self._state: OrderedDict[tuple[str, str], str] = OrderedDict()

    def begin(self, gateway: str, key: str | None, after: str | None = None) -> None:
        """The batch arrived: a batch that follows it may wait for it from now. One that names
        itself as the batch it follows would wait for itself: refused at once."""
        if after is not None and after == key:
            raise OutOfOrder(f"batch {key!r} names itself as the batch it follows")
        if key is not None:
            with self._changed:
                self._set((gateway, key), BUSY)

    def wait_for(self, gateway: str, after: str | None) -> None:
        """Return once the batch ``after`` is stored; OutOfOrder if it failed or is not seen."""
        if after is None:
            return
        start = self._clock()
        with self._changed:
            while True:
                state = self._state.get((gateway, after))
                if state == DONE:
                    return
                if state == FAILED:
                    raise OutOfOrder(f"batch {after!r}, sent before this one, was not stored")
                waited = self._clock() - start
                limit = self.busy_wait_s if state == BUSY else self.unseen_wait_s
                if waited >= limit:
                    seen = "is still being stored" if state == BUSY else "never arrived here"
                    raise OutOfOrder(f"batch {after!r}, sent before this one, {seen}")
                self._changed.wait(limit - waited)

    def end(self, gateway: str, key: str | None, stored: bool) -> None:
        if key is not None:
            with self._changed:
                self._set((gateway, key), DONE if stored else FAILED)
                self._changed.notify_all()

    def _set(self, name: tuple[str, str], state: str) -> None:
        self._state[name] = state
        self._state.move_to_end(name)
        while len(self._state) > self._remember:
            self._state.popitem(last=False)

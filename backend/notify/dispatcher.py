"""The dispatcher: sends what is due in the outbox, retrying with capped exponential backoff.

Delivery: at least once to the carrier, exactly once to the phone when the carrier honours
the ``Idempotency-Key`` (the message id). Each attempt runs in three steps:

1. claim, in its own transaction: count the attempt and move the message's next attempt to
   now + backoff. From here a crash, a kill or a hung request only delays the message until
   that time, and another dispatcher cannot take it meanwhile;
2. send, outside any transaction (a slow carrier must not hold the database);
3. record the outcome, in its own transaction: sent, failed (rejected), or the error.

A crash between the carrier's accept and step 3 sends the message again at the claimed time,
with the same key: the carrier drops the repeat. Without a key-honouring carrier that window,
and only it, can produce a duplicate SMS; no window loses one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from sqlalchemy import Engine

from . import outbox
from .outbox import OutboxEntry
from .providers import Provider, ProviderRejected, ProviderUnavailable

log = logging.getLogger(__name__)

Outcome = Literal["sent", "unavailable", "rejected", "skipped"]


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        provider: Provider,
        clock: Callable[[], float],
        *,
        retry_min_s: float = 15.0,
        retry_max_s: float = 600.0,
        poll_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.clock = clock
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.poll_s = poll_s
        self.batch = batch
        # While the carrier is down, probe it with one message at a time, backing off as for
        # a message, instead of trying every due message on every poll.
        self._failures = 0
        self._paused_until = 0.0
        self._woken = threading.Event()

    def wake(self) -> None:
        """New messages are committed: look now instead of at the next poll."""
        self._woken.set()

    def backoff(self, attempt: int) -> float:
        """Pause after the ``attempt``-th try (1-based): retry_min_s, doubling up to retry_max_s."""
        return float(min(self.retry_max_s, self.retry_min_s * 2 ** min(attempt - 1, 32)))

    def run_once(self, now: float) -> int:
        """Send what is due at ``now``; returns how many were sent."""
        if now < self._paused_until:
            return 0
        with self.engine.connect() as conn:
            entries = outbox.due(conn, now, self.batch)
        sent = 0
        for entry in entries:
            outcome = self._attempt(entry, now)
            if outcome == "unavailable":
                self._failures += 1
                self._paused_until = now + self.backoff(self._failures)
                break
            if outcome == "sent":
                sent += 1
            if outcome != "skipped":
                self._failures = 0  # the carrier answered
        return sent

    def run(self, stop: threading.Event, owns: Callable[[], bool] = lambda: True) -> None:
        """Poll until ``stop`` is set, sending while this backend ``owns`` the dispatcher (one
        backend of several: backend/replicas.py); meant for a thread of its own."""
        while not stop.is_set():
            try:
                if owns():
                    self.run_once(self.clock())
            except Exception:
                # Keep the thread alive: a message being sent is claimed, so it is retried.
                log.exception("SMS dispatcher: unexpected error; carrying on")
            # A wake-up or the poll interval, whichever comes first; stop ends the wait too,
            # since close() wakes the dispatcher after setting it.
            self._woken.wait(self.poll_s)
            self._woken.clear()

    def _attempt(self, entry: OutboxEntry, now: float) -> Outcome:
        message = entry.sms
        retry_at = now + self.backoff(entry.attempts + 1)
        with self.engine.begin() as conn:
            if not outbox.claim(conn, message.id, now, retry_at):
                return "skipped"  # another dispatcher has it
        try:
            ref = self.provider.send(message)
        except ProviderUnavailable as err:
            log.warning("SMS %s not sent, next try at %.0f: %s", message.id, retry_at, err)
            with self.engine.begin() as conn:
                outbox.mark_retry(conn, message.id, str(err), retry_at)
            return "unavailable"
        except ProviderRejected as err:
            log.error("SMS %s to %s rejected: %s", message.id, message.to, err)
            with self.engine.begin() as conn:
                outbox.mark_failed(conn, message.id, str(err))
            return "rejected"
        with self.engine.begin() as conn:
            outbox.mark_sent(conn, message.id, ref, now)
        return "sent"

"""From spool to backend: batches over HTTP with a bearer token, retried until stored.

An entry leaves the spool only after the backend answered 200 for the batch that carried it.
The backend's ingest is idempotent, so a batch resent after a lost answer is harmless.
A 429 (over the ingest rate) waits as long as its Retry-After says; a 413 (body too large)
halves the batch until it fits. Either way the entries stay in the spool until stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass

import httpx

from .spool import Entry, Spool

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
JSON = {"Content-Type": "application/json"}


@dataclass(slots=True)
class ForwardStats:
    batches: int = 0
    forwarded: int = 0
    failures: int = 0
    rate_limited: int = 0
    last_error: str = ""


PLURAL = {"reading": "readings", "status": "statuses", "rejection": "rejections"}


def batch_body(gateway_id: str, entries: list[Entry]) -> bytes:
    """The JSON of one batch, assembled from the spooled JSON texts without parsing them."""
    parts: dict[str, list[str]] = {"readings": [], "statuses": [], "rejections": []}
    for entry in entries:
        parts[PLURAL[entry.kind]].append(entry.text)
    lists = ",".join(f'"{name}":[{",".join(texts)}]' for name, texts in parts.items())
    return f'{{"gateway":{json.dumps(gateway_id)},{lists}}}'.encode()


class Forwarder:
    def __init__(
        self,
        spool: Spool,
        *,
        gateway_id: str,
        backend_url: str,
        token: str,
        batch_max: int = 2000,
        retry_max_s: float = 30.0,
        timeout_s: float = 30.0,
    ) -> None:
        self.spool = spool
        self.gateway_id = gateway_id
        self.batch_max = batch_max
        self.retry_max_s = retry_max_s
        self.stats = ForwardStats()
        self._size = batch_max  # halved after a 413, doubled back after each success
        self._pause_s = 0.0  # the backend's Retry-After
        self._http = httpx.Client(
            base_url=backend_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def run(self, stop: threading.Event) -> None:
        delay = 0.0
        while not stop.is_set():
            entries = self.spool.peek(self._size)
            if not entries:
                stop.wait(0.05)
                continue
            if self.send(entries):
                delay = 0.0
                continue
            if self._size < len(entries):  # a 413: resend at once, halved
                continue
            if self._pause_s:  # a 429: the backend said how long to wait
                stop.wait(self._pause_s)
                self._pause_s = 0.0
                continue
            delay = min(max(delay * 2, 0.25), self.retry_max_s)
            stop.wait(delay)

    def send(self, entries: list[Entry]) -> bool:
        """Post one batch; True when the backend stored it and the spool forgot it."""
        try:
            response = self._http.post(
                INGEST_PATH, content=batch_body(self.gateway_id, entries), headers=JSON
            )
        except httpx.HTTPError as err:
            return self._failed(f"backend unreachable: {err}")
        if response.status_code == 429:
            self.stats.rate_limited += 1
            self._pause_s = _retry_after(response)
        elif response.status_code == 413:
            self._size = max(1, len(entries) // 2)
        if response.status_code != 200:
            return self._failed(f"backend answered {response.status_code}: {response.text[:300]}")
        try:
            self.spool.remove_through(entries[-1].id)
        except sqlite3.Error as err:  # a full disk can refuse even a delete; resent is harmless
            return self._failed(f"spool cannot forget a stored batch: {err}")
        self.stats.batches += 1
        self.stats.forwarded += len(entries)
        self._size = min(self.batch_max, self._size * 2)
        return True

    def _failed(self, reason: str) -> bool:
        self.stats.failures += 1
        if reason != self.stats.last_error:
            log.warning("%s; the batch stays in the spool and is retried", reason)
        self.stats.last_error = reason
        return False

    def close(self) -> None:
        self._http.close()


def _retry_after(response: httpx.Response) -> float:
    """Seconds from a Retry-After header (a number), at most 300; 1 when absent or unreadable."""
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), 300.0)
    except ValueError:
        return 1.0

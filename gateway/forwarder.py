"""From spool to backend: batches over HTTP with a bearer token, retried until stored.

An entry leaves the spool only after the backend answered 200 for the batch that carried it.
The backend's ingest is idempotent, so a batch resent after a lost answer is harmless.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from .spool import Entry, Spool

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"


@dataclass(slots=True)
class ForwardStats:
    batches: int = 0
    forwarded: int = 0
    failures: int = 0
    last_error: str = ""


def batch_body(gateway_id: str, entries: list[Entry]) -> dict[str, Any]:
    body: dict[str, Any] = {"gateway": gateway_id, "readings": [], "statuses": [], "rejections": []}
    plural = {"reading": "readings", "status": "statuses", "rejection": "rejections"}
    for entry in entries:
        body[plural[entry.kind]].append(entry.body)
    return body


class Forwarder:
    def __init__(
        self,
        spool: Spool,
        *,
        gateway_id: str,
        backend_url: str,
        token: str,
        batch_max: int = 500,
        retry_max_s: float = 30.0,
        timeout_s: float = 30.0,
    ) -> None:
        self.spool = spool
        self.gateway_id = gateway_id
        self.batch_max = batch_max
        self.retry_max_s = retry_max_s
        self.stats = ForwardStats()
        self._http = httpx.Client(
            base_url=backend_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def run(self, stop: threading.Event) -> None:
        delay = 0.0
        while not stop.is_set():
            entries = self.spool.peek(self.batch_max)
            if not entries:
                stop.wait(0.05)
                continue
            if self.send(entries):
                delay = 0.0
                continue
            delay = min(max(delay * 2, 0.25), self.retry_max_s)
            stop.wait(delay)

    def send(self, entries: list[Entry]) -> bool:
        """Post one batch; True when the backend stored it and the spool forgot it."""
        try:
            response = self._http.post(INGEST_PATH, json=batch_body(self.gateway_id, entries))
        except httpx.HTTPError as err:
            return self._failed(f"backend unreachable: {err}")
        if response.status_code != 200:
            return self._failed(f"backend answered {response.status_code}: {response.text[:300]}")
        self.spool.remove_through(entries[-1].id)
        self.stats.batches += 1
        self.stats.forwarded += len(entries)
        return True

    def _failed(self, reason: str) -> bool:
        self.stats.failures += 1
        if reason != self.stats.last_error:
            log.warning("%s; the batch stays in the spool and is retried", reason)
        self.stats.last_error = reason
        return False

    def close(self) -> None:
        self._http.close()

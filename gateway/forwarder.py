"""From spool to backend: batches over HTTP with a bearer token, retried until stored.

An entry leaves the spool only after the backend answered 200 for the batch that carried it.
The backend's ingest is idempotent, so a batch resent after a lost answer is harmless.
A 429 (over the ingest rate) waits as long as its Retry-After says; a 413 (body too large)
halves the batch until it fits. Either way the entries stay in the spool until stored.

What the backend refuses of a stored batch (a reading of an unknown device, a wrong kind) it
names in its answer, and the gateway makes those dead letters itself, from the message's bytes
kept beside each item in the spool: the refused items are replaced by their dead letters, in
their places, and the batch is sent again (the rest of it is stored already; storing is
idempotent).

A 422 says the backend refuses something in the batch for good: resent as it is, it would be
refused forever and hold back everything behind it. The batch is halved until the one entry
refused is found, and that entry is set aside: replaced, in its place in the spool, by an
``unprocessable`` dead letter that quotes it and the backend's answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from sangsach.contract import Reason, topic

from .spool import Entry, Origin, Spool
from .validate import KEPT_PAYLOAD_CHARS, MAX_DETAIL_CHARS, Incoming, kept_payload
from .validate import letter_id as message_letter_id

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
JSON = {"Content-Type": "application/json"}


@dataclass(slots=True)
class ForwardStats:
    batches: int = 0
    forwarded: int = 0
    failures: int = 0
    rate_limited: int = 0
    set_aside: int = 0  # entries the backend refused for good, kept as dead letters instead
    refused: int = 0  # readings and statuses the backend refused, kept as dead letters made here
    last_error: str = ""


Posted = httpx.Response | str  # the backend's answer, or why there was none
SINGLE_AFTER_409_S = 300.0  # one batch in flight for this long after the backend lost their order


@dataclass(frozen=True, slots=True)
class Flight:
    """A batch sent and not yet answered."""

    entries: list[Entry]
    key: str | None  # its name, for the batch sent after it (None: one at a time)
    posted: Future[Posted]


PLURAL = {"reading": "readings", "status": "statuses", "rejection": "rejections"}


def batch_body(
    gateway_id: str, entries: list[Entry], key: str | None = None, after: str | None = None
) -> bytes:
    """The JSON of one batch, assembled from the spooled JSON texts without parsing them. The
    gateway makes the dead letters of what the backend refuses (``letters``). ``key`` names
    the batch, ``after`` the batch in flight it must be stored after (backend/batchorder.py)."""
    parts: dict[str, list[str]] = {"readings": [], "statuses": [], "rejections": []}
    for entry in entries:
        parts[PLURAL[entry.kind]].append(entry.text)
    lists = ",".join(f'"{name}":[{",".join(texts)}]' for name, texts in parts.items())
    order = "".join(f',"{n}":"{v}"' for n, v in (("key", key), ("after", after)) if v)
    return f'{{"gateway":{json.dumps(gateway_id)},"letters":"gateway"{order},{lists}}}'.encode()


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
        window: int = 2,
    ) -> None:
        self.spool = spool
        self.gateway_id = gateway_id
        self.batch_max = batch_max
        self.retry_max_s = retry_max_s
        self.window = max(1, window)  # batches in flight at most (docs/decisions.md)
        self._ordered = False  # the backend keeps a gateway's batches in order (its answers)
        self._single_until = 0.0  # one batch at a time until then (after a 409)
        self.stats = ForwardStats()
        self._size = batch_max  # halved after a 413, doubled back after each success
        self._pause_s = 0.0  # the backend's Retry-After
        self._refused: tuple[Entry, str] | None = None  # the one entry a 422 refused, and why
        self._again = False  # refused items became dead letters: send the batch again at once
        # Posts the batches in flight while the forwarder's thread reads the next.
        self._sender = ThreadPoolExecutor(self.window, thread_name_prefix="forward-post")
        self._http = httpx.Client(
            base_url=backend_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def run(self, stop: threading.Event) -> None:
        """Forward until stopped, up to ``window`` batches in flight, in the spool's order.

        While the backend stores a batch, the next is on its way: the backend parses it and
        starts its time-series write meanwhile, and stores it after the one before (each batch
        names the one it follows; backend/batchorder.py). Only with a backend that says it
        keeps that order (``ordered`` in its answers); one batch at a time before that.
        Nothing changes about what is kept: answers are taken in the order the batches were
        sent, an entry is deleted only after its batch's 200 and every batch's before it, and
        after any other answer the batches behind it are let land, their answers set aside,
        and everything is read again from the spool's head (storing again changes nothing).
        """
        delay = 0.0
        flying: deque[Flight] = deque()
        while not stop.is_set():
            while len(flying) < self._window_now():
                last = flying[-1] if flying else None
                entries = self.spool.peek(self._size, after=last.entries[-1].id if last else 0)
                if not entries:
                    break
                key = secrets.token_hex(8) if self._ordered else None
                body = batch_body(self.gateway_id, entries, key, last.key if last else None)
                flying.append(Flight(entries, key, self._sender.submit(self._post, body)))
            if not flying:
                stop.wait(0.05)
                continue
            head = flying.popleft()
            entries = head.entries
            # A batch stored whose delete the spool refuses (a full disk) counts as a failure.
            if self._accepted(entries, head.posted.result()) and self._forget(entries):
                delay = 0.0
                continue
            for later in flying:  # sent after a batch not stored: from the head again
                later.posted.result()
            flying.clear()
            if (
                self._again
                or self._size < len(entries)
                or (self._refused is not None and self._set_aside(*self._refused))
            ):  # refused items made dead letters; a 413 or a 422: halved; a 409; resend at once
                self._again = False
                continue
            if self._pause_s:  # a 429: the backend said how long to wait
                stop.wait(self._pause_s)
                self._pause_s = 0.0
                continue
            delay = min(max(delay * 2, 0.25), self.retry_max_s)
            stop.wait(delay)

    def _window_now(self) -> int:
        """Batches in flight at most: one until the backend keeps their order, and for a while
        after it could not (a 409 for the oldest batch in flight)."""
        if not self._ordered or time.monotonic() < self._single_until:
            return 1
        return self.window

    def _post(self, body: bytes) -> Posted:
        try:
            return self._http.post(INGEST_PATH, content=body, headers=JSON)
        except httpx.HTTPError as err:
            return f"backend unreachable: {err}"

    def _accepted(self, entries: list[Entry], answer: Posted) -> bool:
        """Whether the backend stored the batch; else why not, noted for the retry."""
        if isinstance(answer, str):
            return self._failed(answer)
        if answer.status_code == 429:
            self.stats.rate_limited += 1
            self._pause_s = _retry_after(answer)
        elif answer.status_code == 413:
            self._size = max(1, len(entries) // 2)
        elif answer.status_code == 422:  # refused for good: find the entry, set it aside
            self._size = max(1, len(entries) // 2)
            self._refused = (entries[0], answer.text) if len(entries) == 1 else None
        elif answer.status_code == 409:  # the batch it follows was not stored there
            # The oldest batch in flight follows one already stored: the backend lost track of
            # it (a restart), or another backend took it (several behind a balancer).
            log.warning("the backend did not keep this gateway's batches in order; one batch "
                        "at a time for %.0f s: %s", SINGLE_AFTER_409_S, answer.text[:300])  # fmt: skip
            self._single_until = time.monotonic() + SINGLE_AFTER_409_S
            self._again = True
        if answer.status_code != 200:
            return self._failed(f"backend answered {answer.status_code}: {answer.text[:300]}")
        data = _answer(answer)
        self._ordered = data.get("ordered") is True
        refused = _refusals(data)
        if refused:
            return self._letters_for(entries, refused)
        self.stats.batches += 1
        self.stats.forwarded += len(entries)
        self._size = min(self.batch_max, self._size * 2)
        return True

    def _letters_for(self, entries: list[Entry], refused: list[dict[str, Any]]) -> bool:
        """Replace the items the backend refused by their dead letters; False, with the batch
        to be sent again at once (its other items are stored; storing again changes nothing)."""
        pools = {
            kind: [entry for entry in entries if entry.kind == kind]
            for kind in ("reading", "status")
        }
        chosen: list[tuple[Entry, dict[str, Any]]] = []
        for refusal in refused:
            pool, index = pools.get(str(refusal.get("kind")), []), refusal.get("index")
            if not isinstance(index, int) or not 0 <= index < len(pool):
                return self._failed(f"the backend refused an item the batch has not: {refusal}")
            chosen.append((pool[index], refusal))
        try:
            origins = self.spool.origins([entry.id for entry, _ in chosen])
            self.spool.replace_many(
                (entry.id, "rejection", refused_letter(entry, origins.get(entry.id), refusal))
                for entry, refusal in chosen
            )
        except sqlite3.Error as err:
            return self._failed(f"spool cannot keep the backend's refusals: {err}")
        self.stats.refused += len(chosen)
        self._again = True
        return False

    def _set_aside(self, entry: Entry, why: str) -> bool:
        """Replace an entry the backend refuses by a dead letter quoting it; False when that
        entry is such a letter already (then nothing more can be done than retry, loudly)."""
        self._refused = None
        letter = set_aside_letter(entry, why)
        if entry.kind == "rejection" and entry.body.get("id") == letter["id"]:
            log.error("the backend refuses even the dead letter of a refused entry: %s", why)
            return False
        try:
            self.spool.replace(entry.id, "rejection", letter)
        except sqlite3.Error as err:
            return self._failed(f"spool cannot set aside a refused entry: {err}")
        self.stats.set_aside += 1
        log.error("the backend refuses spooled entry %d for good; kept as a dead letter: %s",
                  entry.id, why[:300])  # fmt: skip
        return True

    def _forget(self, entries: list[Entry]) -> bool:
        """Delete a stored batch from the spool. If the disk refuses even that, the entries
        stay and go again with a later batch: resent is harmless."""
        try:
            self.spool.remove_through(entries[-1].id)
        except sqlite3.Error as err:
            return self._failed(f"spool cannot forget a stored batch: {err}")
        return True

    def _failed(self, reason: str) -> bool:
        self.stats.failures += 1
        if reason != self.stats.last_error:
            log.warning("%s; the batch stays in the spool and is retried", reason)
        self.stats.last_error = reason
        return False

    def close(self) -> None:
        self._sender.shutdown(wait=True)
        self._http.close()


def _retry_after(response: httpx.Response) -> float:
    """Seconds from a Retry-After header (a number), at most 300; 1 when absent or unreadable."""
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), 300.0)
    except ValueError:
        return 1.0


def _answer(answer: httpx.Response) -> dict[str, Any]:
    """The backend's answer to a stored batch, as a dict (empty if it is not one)."""
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _refusals(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The items the backend refused, from its answer (none from an older backend)."""
    refused = data.get("refused")
    return [r for r in refused if isinstance(r, dict)] if isinstance(refused, list) else []


def refused_letter(entry: Entry, origin: Origin | None, refusal: dict[str, Any]) -> dict[str, Any]:
    """The dead letter of a reading or status the backend refused: the message's id, bytes and
    size as the gateway got them (kept with the message's first item); for a later item of a
    batch, the message's id with the item itself, so that the first one's letter stands."""
    body = entry.body
    device = str(body.get("id"))
    where = topic(device, "status" if entry.kind == "status" else "telemetry")
    if origin is not None and origin.raw is not None:
        payload, size = kept_payload(Incoming(where, origin.raw, 0.0)), len(origin.raw)
    else:
        sent = {k: v for k, v in body.items() if k not in ("received_at", "retained")}
        payload = json.dumps(sent, separators=(",", ":"), ensure_ascii=False)
        size = len(payload.encode(errors="backslashreplace"))
    if origin is not None and origin.raw_id is not None:
        letter_id = origin.raw_id
    elif origin is not None and origin.raw is not None:
        # A message of one item: its id as intake would have made it. Its topic is the one the
        # item names: intake takes no other (validate.py; a reading's id is its topic's).
        letter_id = message_letter_id(Incoming(where, origin.raw, 0.0))
    else:  # from a spool of an older gateway: named by topic and the item's bytes
        named = f"{where}\0{payload}".encode(errors="backslashreplace")
        letter_id = hashlib.sha256(named).hexdigest()[:32]
    received = body.get("received_at")
    return {
        "id": letter_id,
        "topic": where,
        "device_id": _clean(device, 64),
        "reason": str(refusal.get("reason")),
        "detail": _clean(str(refusal.get("detail", "")), MAX_DETAIL_CHARS),
        "payload": _clean(payload, KEPT_PAYLOAD_CHARS),
        "payload_bytes": size,
        "received_at": float(received) if isinstance(received, int | float) else time.time(),
        "messages": 1,
    }


def set_aside_letter(entry: Entry, why: str) -> dict[str, Any]:
    """An ``unprocessable`` dead letter standing for a spooled entry the backend refuses: the
    entry's text as its payload, the backend's answer as its detail, every field within the
    backend's limits and valid UTF-8, so that this one is taken."""
    try:
        body = json.loads(entry.text)
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    device = body.get("device_id") if entry.kind == "rejection" else body.get("id")
    topic = body.get("topic") if entry.kind == "rejection" else None
    if not isinstance(topic, str):
        channel = "status" if entry.kind == "status" else "telemetry"
        topic = f"sangsach/v1/{device}/{channel}" if isinstance(device, str) else "(unknown)"
    received = body.get("received_at")
    if not isinstance(received, int | float) or isinstance(received, bool) or received < 0:
        received = time.time()
    detail = f"the backend refused this spooled {entry.kind} for good (422): {why}"
    return {
        "id": hashlib.sha256(
            b"set-aside\0" + entry.text.encode(errors="backslashreplace")
        ).hexdigest()[:32],
        "topic": _clean(topic, 1024),
        "device_id": _clean(device, 64) if isinstance(device, str) else None,
        "reason": str(Reason.UNPROCESSABLE),
        "detail": _clean(detail, MAX_DETAIL_CHARS),
        "payload": _clean(entry.text, KEPT_PAYLOAD_CHARS),
        "payload_bytes": min(len(entry.text.encode(errors="backslashreplace")), 2**31),
        "received_at": float(received),
        "messages": 1,
    }


def _clean(text: str, limit: int) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")[:limit]

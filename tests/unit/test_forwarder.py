"""The forwarder keeps up to two batches in flight, each naming the one it follows, once the
backend says it keeps them in that order; yet it deletes an entry only after its batch's 200 and
every batch's before it, and after a failure starts again from the spool's head.

The backend here is a small real HTTP server answering each batch with a scripted status,
chosen by the batch's first seq (two batches in flight may reach it in either order).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sangsach.gateway.forwarder import Forwarder, refused_letter
from sangsach.gateway.spool import Entry, Origin, Spool


@dataclass
class Seen:
    seqs: list[int]
    status: int
    spooled: set[int]  # the seqs the spool held as the batch arrived
    key: str | None
    after: str | None


class Backend(ThreadingHTTPServer):
    """Answers a batch with the next status scripted for its first seq (200 once spent), after
    ``delay_s``, saying whether it keeps a gateway's batches in order (``ordered``)."""

    def __init__(
        self, spool: Spool, script: dict[int, list[int]], delay_s: float, ordered: bool
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spool = spool
        self.script = script
        self.delay_s = delay_s
        self.ordered = ordered
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.stored: set[int] = set()  # seqs of batches answered 200
        self.in_flight = 0
        self.most_in_flight = 0


def _spooled(spool: Spool) -> set[int]:
    return {json.loads(entry.text)["seq"] for entry in spool.peek(10_000)}


class _Handler(BaseHTTPRequestHandler):
    server: Backend

    def do_POST(self) -> None:
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seqs = [r["seq"] for r in body["readings"]]
        with server.lock:
            server.in_flight += 1
            server.most_in_flight = max(server.most_in_flight, server.in_flight)
        time.sleep(server.delay_s)
        with server.lock:
            statuses = server.script.get(seqs[0], [])
            status = statuses.pop(0) if statuses else 200
            seen = Seen(seqs, status, _spooled(server.spool), body.get("key"), body.get("after"))
            server.seen.append(seen)
            if status == 200:
                server.stored.update(seqs)
            server.in_flight -= 1
        answer = json.dumps({"ordered": True} if server.ordered else {}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite")
    yield spool
    spool.close()


def _forward(
    spool: Spool,
    script: dict[int, list[int]],
    batch_max: int,
    delay_s: float = 0.0,
    ordered: bool = True,
) -> tuple[Backend, Forwarder]:
    backend = Backend(spool, script, delay_s, ordered)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    forwarder = Forwarder(
        spool, gateway_id="gw-1", backend_url=f"http://127.0.0.1:{backend.server_port}",
        token="t", batch_max=batch_max, retry_max_s=0.3,
    )  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=forwarder.run, args=(stop,))
    runner.start()
    try:
        for _ in range(200):
            if len(spool) == 0:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        runner.join(timeout=10)
        forwarder.close()
        backend.shutdown()
        backend.server_close()
    return backend, forwarder


def _deleted_only_once_stored_in_order(backend: Backend, every: set[int]) -> None:
    """At every request, whatever had left the spool was stored, and so was every seq below
    it: deletes go in the spool's order, each after its batch's 200 and the batches before."""
    for seen in backend.seen:
        gone = every - seen.spooled
        assert gone <= backend.stored, (seen, gone)
        assert not gone or max(gone) < min(seen.spooled, default=max(every) + 1), (seen, gone)


def _fill(spool: Spool, count: int) -> set[int]:
    every = set(range(1, count + 1))
    spool.append([("reading", {"seq": i}) for i in sorted(every)])
    return every


def test_batches_go_two_at_a_time_each_naming_the_one_before(spool: Spool) -> None:
    every = _fill(spool, 10)
    backend, _ = _forward(spool, {}, batch_max=3, delay_s=0.05)
    assert sorted(seen.seqs for seen in backend.seen) == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
    assert backend.most_in_flight == 2  # the next batch was on its way, never a third
    by_first = {seen.seqs[0]: seen for seen in backend.seen}
    # The first goes alone (the backend has not said it keeps the order yet), unnamed.
    assert (by_first[1].key, by_first[1].after) == (None, None)
    assert by_first[4].key and by_first[7].key and by_first[10].key
    assert by_first[7].after == by_first[4].key and by_first[10].after == by_first[7].key
    _deleted_only_once_stored_in_order(backend, every)
    assert len(spool) == 0


def test_a_backend_that_does_not_keep_the_order_gets_one_batch_at_a_time(spool: Spool) -> None:
    every = _fill(spool, 7)
    backend, _ = _forward(spool, {}, batch_max=2, delay_s=0.02, ordered=False)
    assert [seen.seqs for seen in backend.seen] == [[1, 2], [3, 4], [5, 6], [7]]
    assert backend.most_in_flight == 1
    assert all(seen.key is None and seen.after is None for seen in backend.seen)
    _deleted_only_once_stored_in_order(backend, every)


def test_a_failed_batch_is_sent_again_with_the_one_behind_it(spool: Spool) -> None:
    every = _fill(spool, 9)
    backend, _ = _forward(spool, {5: [503]}, batch_max=2, delay_s=0.02)
    by_batch: dict[int, list[int]] = {}
    for seen in backend.seen:
        by_batch.setdefault(seen.seqs[0], []).append(seen.status)
    assert by_batch[5] == [503, 200]  # sent again from the spool's head
    # The batch behind the failed one may have been stored already: it is sent again, and
    # its entries stayed in the spool until then (storing again changes nothing).
    assert len(by_batch[7]) == 2 and by_batch[7][-1] == 200
    _deleted_only_once_stored_in_order(backend, every)
    assert backend.stored == every and len(spool) == 0


def test_a_batch_behind_one_not_stored_never_leaves_the_spool_first(spool: Spool) -> None:
    """The batch behind is stored while the one before keeps failing: nothing is deleted."""
    every = _fill(spool, 6)
    backend, _ = _forward(spool, {3: [503, 503, 503]}, batch_max=2, delay_s=0.01)
    failures = [n for n, seen in enumerate(backend.seen) if seen.status == 503]
    assert len(failures) == 3
    early = [(seen.seqs, seen.status) for seen in backend.seen[: failures[-1]]]
    assert ([5, 6], 200) in early, "the case this test is for did not happen"
    _deleted_only_once_stored_in_order(backend, every)
    assert len(spool) == 0


def test_a_409_for_the_oldest_batch_means_one_at_a_time_for_a_while(spool: Spool) -> None:
    """The backend lost the batch this one follows (a restart; another backend behind a
    balancer took it): sent again at once, and no second batch in flight for a while."""
    every = _fill(spool, 12)
    backend, forwarder = _forward(spool, {5: [409]}, batch_max=2, delay_s=0.02)
    statuses = [(seen.seqs[0], seen.status) for seen in backend.seen]
    assert (5, 409) in statuses and statuses.count((5, 200)) == 1
    after = statuses.index((5, 200))
    assert all(seen.after is None for seen in backend.seen[after:])
    assert forwarder._window_now() == 1
    _deleted_only_once_stored_in_order(backend, every)
    assert backend.stored == every and len(spool) == 0


def test_the_letter_of_a_refused_item_is_its_message_with_the_gateways_bytes() -> None:
    reading = {"id": "lamp-x-01", "kind": "lamp", "boot": 1, "seq": 2, "ts": 5, "on": True,
               "synced": True, "received_at": 7.5}  # fmt: skip
    entry = Entry(3, "reading", json.dumps(reading))
    refusal = {"kind": "reading", "index": 0, "reason": "unknown_device", "detail": "not here"}
    raw = b'{"id": "lamp-x-01",  "kind": "lamp"}'
    first = refused_letter(entry, Origin("m" * 32, raw), refusal)
    assert (first["id"], first["payload"], first["payload_bytes"]) == (
        "m" * 32,
        raw.decode(),
        len(raw),
    )
    assert (first["topic"], first["reason"], first["received_at"]) == (
        "sangsach/v1/lamp-x-01/telemetry", "unknown_device", 7.5,
    )  # fmt: skip
    later = refused_letter(entry, Origin("m" * 32, None), refusal)  # a later item of the batch
    assert later["id"] == "m" * 32 and "received_at" not in later["payload"]
    older = refused_letter(entry, None, refusal)  # from a spool of an older gateway
    assert older["id"] != "m" * 32 and older["id"] == refused_letter(entry, None, refusal)["id"]


def test_a_refused_message_of_one_item_gets_the_id_intake_would_have_made() -> None:
    """Intake leaves the dead-letter id of a one-item message unmade (most messages are one
    reading, none is refused); made when the backend refuses the item, it is the id intake made
    before: the message's topic and bytes, so a redelivery still makes no second letter."""
    from sangsach.gateway.dedup import RecentKeys
    from sangsach.gateway.intake import Intake
    from sangsach.gateway.validate import Incoming, Limits, Validator, letter_id

    now = time.time()
    for topic, body in (
        ("sangsach/v1/lamp-x-01/telemetry",
         {"id": "lamp-x-01", "kind": "lamp", "boot": 1, "seq": 2, "ts": int(now), "on": True}),
        ("sangsach/v1/bin-x-01/status", {"id": "bin-x-01", "state": "online"}),
    ):  # fmt: skip
        msg = Incoming(topic, json.dumps(body).encode(), now)
        intake = Intake(Validator(Limits()), RecentKeys(1000), None, lambda m, g: None)  # type: ignore[arg-type]
        [(kind, item, origin)] = intake.process([msg])  # type: ignore[misc]
        assert origin == Origin(None, msg.payload)
        refusal = {"kind": kind, "index": 0, "reason": "unknown_device", "detail": "not here"}
        letter = refused_letter(Entry(1, kind, json.dumps(item)), origin, refusal)
        assert letter["id"] == letter_id(msg) and letter["topic"] == topic

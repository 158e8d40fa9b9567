"""The forwarder reads the next batch while one is in flight, yet deletes an entry only after
its batch's 200, and after a failure starts again from the spool's head.

The backend here is a small real HTTP server answering a scripted list of statuses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sangsach.gateway.forwarder import Forwarder, refused_letter
from sangsach.gateway.spool import Entry, Origin, Spool


class Backend(ThreadingHTTPServer):
    """Answers each ingest with the next scripted status (200 once the script is spent) and
    records, per request, the seqs it carried and how many entries the spool held then."""

    def __init__(self, spool: Spool, script: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spool = spool
        self.script = script
        self.seen: list[tuple[list[int], int, int]] = []  # (seqs, status, spool rows)


class _Handler(BaseHTTPRequestHandler):
    server: Backend

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = self.server.script.pop(0) if self.server.script else 200
        seqs = [r["seq"] for r in body["readings"]]
        self.server.seen.append((seqs, status, len(self.server.spool)))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    spool = Spool(tmp_path / "spool.sqlite")
    yield spool
    spool.close()


def _forward(spool: Spool, script: list[int], batch_max: int) -> Backend:
    backend = Backend(spool, script)
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
    return backend


def test_batches_go_in_order_and_leave_the_spool_only_once_stored(spool: Spool) -> None:
    spool.append([("reading", {"seq": i}) for i in range(1, 8)])
    backend = _forward(spool, [], batch_max=3)
    assert [seqs for seqs, _, _ in backend.seen] == [[1, 2, 3], [4, 5, 6], [7]]
    # As each batch arrived the spool still held every entry not yet answered 200 (the one
    # before may or may not be deleted yet: the next batch goes first).
    stored = 0
    for seqs, _, rows in backend.seen:
        assert rows >= 7 - stored, (seqs, rows)
        stored += len(seqs)
    assert len(spool) == 0


def test_a_failed_batch_is_sent_again_and_the_batch_read_ahead_waits(spool: Spool) -> None:
    spool.append([("reading", {"seq": i}) for i in range(1, 6)])
    backend = _forward(spool, [200, 503], batch_max=2)
    sent = [(seqs, status) for seqs, status, _ in backend.seen]
    assert sent == [([1, 2], 200), ([3, 4], 503), ([3, 4], 200), ([5], 200)]
    assert len(spool) == 0


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

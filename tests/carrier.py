"""A real HTTP server on a loopback port standing in for the SMS carrier."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from sangsach.localbroker import free_port

REFUSED_NUMBER = "+84900000400"


class Carrier:
    """An SMS carrier on a loopback port. A repeated ``Idempotency-Key`` gets the first answer
    again and no second SMS; ``delivered`` counts the SMS that reached a phone."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/send"
        self.mode: Literal["up", "busy"] = "up"
        self.lock = threading.Lock()
        self.delivered: Counter[str] = Counter()  # phone deliveries per key
        self.accepted: Counter[str] = Counter()  # 2xx answers per key
        self.requests: list[str] = []
        self.arrived_at: dict[str, float] = {}  # first request per key, Unix seconds
        self.payloads: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        carrier = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                payload = json.loads(self.rfile.read(length))
                code, answer = carrier.handle(self.headers["Idempotency-Key"], payload)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads the counters, not the access log

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()  # the port refuses connections from here on
        self._server = None

    def handle(self, key: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests.append(key)
            self.arrived_at.setdefault(key, time.time())
            if self.mode == "busy":
                return 503, {"error": "try again later"}
            if payload["to"] == REFUSED_NUMBER:
                return 400, {"error": "number not in service"}
            if not self.delivered[key]:
                self.delivered[key] += 1
                self.payloads[key] = payload
            self.accepted[key] += 1
            return 200, {"id": f"c-{key}"}

"""The link under MicroPython: the broker goes away and comes back; the readings buffered in
flash meanwhile reach the real gateway and backend in order, each stored once. A broker that
trickles bytes cannot hold a loop step past its network budget."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sangsach.localbroker import LocalBroker
from tests.firmware.conftest import HEAP, MICROPYTHON, ROOT, Device, Watcher, node_settings
from tests.harness import Stack, wait_until

HERE = Path(__file__).parent
LAMP = "lamp-dong-ha-002"


def test_broker_down_and_back_buffered_readings_arrive_in_order_once(
    broker: LocalBroker, stack: Stack, watcher: Watcher, devices: Callable[..., Device]
) -> None:
    settings = node_settings(
        LAMP, "lamp", broker.port, report_interval_s=10, backoff_cap_ms=20000, batch_max=8
    )
    node = devices(settings, speed=50, start_ts=time.time() - 3600, lux=3.0)
    node.start()
    watcher.wait_readings(LAMP, lambda rs: len(rs) >= 5, "readings before the outage")

    broker.stop()  # about 200 simulated seconds without a broker: some 20 readings in flash
    time.sleep(4)
    during = len([line for line in node.lines if line.startswith("mqtt: ")])
    broker.start()  # same port, persistence on: the gateway's queue survives

    def caught_up() -> bool:
        response = stack.http.get(f"/api/v1/devices/{LAMP}/readings")
        stored = {(r["boot"], r["seq"]) for r in response.json()}
        sent = {(r["boot"], r["seq"]) for r in watcher.readings(LAMP)}
        return len(sent) >= 30 and stored == sent

    wait_until(caught_up, 40, "the buffered readings in the backend")
    node.stop()
    time.sleep(1)  # anything sent twice would be stored by now

    stored = stack.http.get(f"/api/v1/devices/{LAMP}/readings").json()
    keys = [(r["boot"], r["seq"]) for r in stored]
    # None lost, none twice. (The API orders by time: the first reading, taken before NTP
    # answered, got the gateway's receive time.)
    assert sorted(keys) == [(1, seq) for seq in range(len(keys))]
    assert stack.stats()["readings"]["lamp"] == len(keys)
    assert stack.dead_letters() == []
    # The node sent them oldest first, part of them as batches from its flash buffer.
    arrived = [r["seq"] for r in watcher.readings(LAMP)]
    assert arrived == sorted(arrived)
    batches = [m for m in watcher.of(LAMP, "telemetry") if "readings" in m.body]
    assert batches and all(m.body["dropped"] == 0 for m in batches)
    assert max(len(m.body["readings"]) for m in batches) == 8  # batch_max
    assert during >= 1  # the node noticed the broken link and backed off
    # A second birth after the reconnect; the broker announced the loss with the will.
    assert len(watcher.births(LAMP)) >= 2
    assert not watcher.errors


class TricklingBroker:
    """A TCP server that accepts, answers CONNACK at once, then sends one byte a second of a
    PUBLISH that never ends: a broker on a dying link, or one that is overloaded."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by the test
            self.accepted += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
                for byte in b"\x30\x7f" + b"x" * 127:  # PUBLISH, 127 bytes to come
                    if self._stop.wait(1.0):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the node gave up and closed: as it should

    def close(self) -> None:
        self._stop.set()
        self.server.close()


def test_a_trickling_broker_cannot_hold_a_step_past_its_budget(
    devices: Callable[..., Device],
) -> None:
    broker = TricklingBroker()
    # A 9 s watchdog: the step's network budget is a third of it, 3 s.
    settings = node_settings(LAMP, "lamp", broker.port, wdt_timeout_ms=9000)
    node = devices(settings, speed=1, start_ts=time.time() - 3600, lux=3.0)
    try:
        node.start()
        wait_until(lambda: broker.accepted >= 3, 30, "three connection attempts")
        summary = node.stop()
    finally:
        broker.close()

    # Each attempt ended with the budget: the budget's own check, or the socket's timeout, which
    # is set to what is left of the budget (EAGAIN on the Unix port, ETIMEDOUT on an ESP32),
    # when the budget ran out while recv waited for the next byte.
    ended = [line for line in node.lines if line.startswith("mqtt: ") and "next attempt" in line]
    assert len(ended) >= 3, node.output(len(node.lines))
    assert all(
        any(why in line for why in ("the step's budget of 3000 ms is spent", "EAGAIN", "ETIMEDOUT"))
        for line in ended
    ), ended
    # The longest gap between two feeds: the step's budget, the 1 s tick after the step, and
    # some slack for the sensing and the host (without the budget: over two minutes).
    assert summary["max_gap_ms"] < 3000 + 1000 + 1000, summary
    assert summary["wdt_resets"] == 0
    assert node.relay() is True  # meanwhile the lamp kept to its light sensor: dark, so on


def test_the_brokers_name_is_looked_up_once_and_a_slow_lookup_spends_the_budget(
    broker: LocalBroker,
) -> None:
    """DNS under the step's budget (tests/firmware/dns_checks.py): lib/mqtt.py in MicroPython,
    the real socket behind a lookup that counts and can be made slow."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog), never answers
    closed = socket.create_server(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there: refused
    try:
        done = subprocess.run(
            [str(MICROPYTHON), "-X", f"heapsize={HEAP}", str(HERE / "dns_checks.py"), str(ROOT),
             str(broker.port), str(silent.getsockname()[1]), str(closed_port)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        silent.close()
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["connects"] == ["connected"] * 3
    assert out["lookups"] == 1  # one lookup for the client's life, not one per connection
    assert all(ended != "connected" for ended in out["refused"])
    assert out["lookups_after_refusal"] == 2  # a refused connection looks the name up again
    # 1.5 s of lookup, then what is left of the 2 s budget for a broker that never answers.
    # Without the budget: the lookup and a whole 10 s socket timeout; a budget started afresh
    # after the lookup: 3.5 s. (A bound on a deadline, with 1 s of slack for a busy host.)
    ended, took_ms = out["slow"]
    assert ended != "connected"
    assert took_ms < 2000 + 1000, out
    # A lookup that outlasts the budget: the connect is not even tried.
    ended, took_ms = out["slower"]
    assert ended == "the step's budget of 1000 ms is spent", out

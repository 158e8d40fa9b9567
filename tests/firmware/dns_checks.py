"""The broker's name in the MQTT client: looked up once per client, again only after a failed
connection, and a slow lookup counted against the step's network budget.

    micropython dns_checks.py REPO BROKER_PORT SILENT_PORT CLOSED_PORT

``lib/mqtt.py`` runs as on the node, with the real ``socket`` behind a ``getaddrinfo`` that
counts its calls and can be made slow (a lookup cannot be interrupted from MicroPython: lwIP's
resolver gives up on its own retries). BROKER_PORT is a real broker, SILENT_PORT a server that
accepts and never answers, CLOSED_PORT refuses. Prints one JSON object.
"""

import json
import socket as _socket
import sys
import time

# MicroPython has no typing module, and ignores annotations anyway.
try:  # noqa: SIM105
    from typing import Any
except ImportError:
    pass


class Resolver:
    """``socket`` as mqtt.py imports it: the real one, with a lookup that counts and waits."""

    socket = _socket.socket

    def __init__(self) -> None:
        self.lookups = 0
        self.delay_ms = 0

    def getaddrinfo(self, host: str, port: int) -> Any:
        self.lookups += 1
        time.sleep_ms(self.delay_ms)  # type: ignore[attr-defined]
        return _socket.getaddrinfo(host, port)


def attempt(client: Any) -> Any:
    """One step's connect: how it ended and how long it took, in ms."""
    client.start_step()
    started = time.ticks_ms()  # type: ignore[attr-defined]
    try:
        client.connect()
        ended = "connected"
    except OSError as err:
        ended = str(err)
    return [ended, time.ticks_diff(time.ticks_ms(), started)]  # type: ignore[attr-defined]


def main() -> None:
    repo = sys.argv[1]
    broker_port, silent_port, closed_port = (int(port) for port in sys.argv[2:5])
    resolver = Resolver()
    sys.modules["socket"] = resolver  # type: ignore[assignment]
    sys.path[:0] = [repo + "/firmware/lib"]
    mqtt = __import__("mqtt")
    out: dict[str, Any] = {}

    # A lamp's client lives for the whole boot: one lookup for any number of connections.
    client = mqtt.MQTTClient("dns-check", "localhost", broker_port, timeout_s=10, budget_ms=3000)
    out["connects"] = [attempt(client)[0] for _ in range(3)]
    client.disconnect()
    out["lookups"] = resolver.lookups

    # A connection refused: the broker may have moved, so the next attempt looks it up again.
    resolver.lookups = 0
    moved = mqtt.MQTTClient("dns-check", "localhost", closed_port, timeout_s=10, budget_ms=3000)
    out["refused"] = [attempt(moved)[0] for _ in range(2)]
    out["lookups_after_refusal"] = resolver.lookups

    # A lookup that takes 1.5 s of a 2 s budget, then a broker that never answers: the connect
    # gets what is left of the budget, not a fresh 10 s socket timeout.
    resolver.delay_ms = 1500
    slow = mqtt.MQTTClient("dns-check", "localhost", silent_port, timeout_s=10, budget_ms=2000)
    out["slow"] = attempt(slow)
    slow.close()

    # A lookup that outlasts the whole budget: no connection is tried at all.
    resolver.delay_ms = 1100
    slower = mqtt.MQTTClient("dns-check", "localhost", silent_port, timeout_s=10, budget_ms=1000)
    out["slower"] = attempt(slower)
    slower.close()
    print(json.dumps(out))


main()

"""The floor of work: paho -> JSON -> line protocol -> InfluxDB ``/write`` in batches of 5,000.

A reference pipeline for the drain benchmark, as small as a Node-RED flow (mqtt in -> influxdb
batch): a persistent session with QoS 1 acknowledged on receipt (paho's default), no
validation, no de-duplication, no spool, no device state and no alerts.

    python -m bench.minimal_consumer --port P --influx URL --db DB --expect N   # drain N
    python -m bench.minimal_consumer --port P --register                        # session only
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

BATCH = 5_000
TOPIC = "sangsach/v1/+/telemetry"


def line(body: dict[str, object]) -> str:
    fields = ",".join(
        f"{k}={v}" if isinstance(v, float) else f"{k}={str(v).lower()}" if isinstance(v, bool)
        else f"{k}={v}i"
        for k, v in body.items() if k not in ("id", "kind", "ts")
    )  # fmt: skip
    ns = int(body["ts"]) * 1_000_000_000 + int(str(body["seq"])) % 1_000_000  # type: ignore[call-overload]
    return f"{body['kind']},device={body['id']} {fields} {ns}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--influx", default="")
    parser.add_argument("--db", default="minimal")
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--register", action="store_true")
    args = parser.parse_args(argv)
    http = httpx.Client(base_url=args.influx or "http://127.0.0.1", timeout=60)
    lines: list[str] = []
    written = 0
    last_message = [time.monotonic()]
    subscribed = threading.Event()
    lock = threading.Lock()

    def flush() -> None:
        nonlocal written
        with lock:
            batch, lines[:] = list(lines), []
        if batch:
            http.post("/write", params={"db": args.db}, content="\n".join(batch)).raise_for_status()
            written += len(batch)

    def on_message(client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        last_message[0] = time.monotonic()
        with lock:
            lines.append(line(json.loads(msg.payload)))
            full = len(lines) >= BATCH
        if full:
            flush()

    client = paho.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-minimal", clean_session=False
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(TOPIC, 1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect("127.0.0.1", args.port)
    client.loop_start()
    subscribed.wait(30)
    if not args.register:
        while written < args.expect:
            time.sleep(0.1)
            if time.monotonic() - last_message[0] > 0.3:
                flush()  # the last, partial batch
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    main()

"""Wire the gateway's parts together and run them until stopped."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from types import FrameType

from sangsach.config import GatewaySettings
from sangsach.private_files import private_dir

from .dedup import RecentKeys
from .forwarder import Forwarder
from .heartbeat import GatewayState, Heartbeat
from .intake import Intake
from .mqtt import GatewayClient
from .spool import Spool
from .throttle import DeviceThrottle
from .validate import Limits, Validator

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 60.0  # the progress line in the log


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        private_dir(settings.data_dir)  # the health file; the spool may have a folder of its own
        self.spool = Spool(
            settings.spool_path,
            max_rows=settings.spool_max_rows,
            min_free_bytes=int(settings.spool_min_free_mb * 1024 * 1024),
            busy_timeout_s=settings.spool_busy_timeout_s,
        )
        limits = Limits(
            max_payload_bytes=settings.max_payload_bytes,
            max_future_s=settings.max_future_s,
            max_age_s=settings.max_age_s,
        )
        throttle = None
        if settings.device_rate_per_min > 0:
            throttle = DeviceThrottle(settings.device_rate_per_min)
        self.intake = Intake(
            Validator(limits),
            RecentKeys(settings.dedup_window),
            self.spool,
            self._ack,
            throttle=throttle,
        )
        self.client = GatewayClient(settings, self.intake.on_messages)
        self.forwarder = Forwarder(
            self.spool,
            gateway_id=settings.gateway_id,
            backend_url=str(settings.backend_url),
            token=settings.ingest_token.get_secret_value(),
            batch_max=settings.batch_max,
            retry_max_s=settings.retry_max_s,
        )
        self.heartbeat = Heartbeat(
            gateway_id=settings.gateway_id,
            backend_url=str(settings.backend_url),
            token=settings.ingest_token.get_secret_value(),
        )
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failed = ""  # why a thread died; the process then exits non-zero

    def _ack(self, mids: list[int], generation: int) -> None:
        self.client.ack(mids, generation)

    def start(self) -> None:
        backlog = len(self.spool)
        if backlog:
            log.info("spool holds %d entries from before; forwarding them first", backlog)
        threads: dict[str, tuple[Callable[..., None], tuple[object, ...]]] = {
            "intake": (self.intake.run, (self.stop_event,)),
            "forwarder": (self.forwarder.run, (self.stop_event,)),
            "heartbeat": (self.heartbeat.run, (self.stop_event, self.state)),
        }
        for name, (target, args) in threads.items():
            thread = threading.Thread(
                target=self._supervised, args=(name, target, args), name=name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        self.client.start()

    def _supervised(self, name: str, target: Callable[..., None], args: tuple[object, ...]) -> None:
        """Run one of the gateway's threads; if it dies, the whole gateway stops and exits
        non-zero. Nothing is lost: what was not spooled was not acknowledged, and the broker
        sends it again to the gateway its service manager restarts."""
        try:
            target(*args)
        except BaseException as err:
            self.failed = f"the {name} thread died: {type(err).__name__}: {err}"
            log.critical("%s; stopping the gateway", self.failed, exc_info=True)
            self.stop_event.set()

    def _check_threads(self) -> None:
        """A thread that ended without the stop event (the MQTT reader included) is a failure."""
        if self.stop_event.is_set() or self.failed:
            return
        ended = [t.name for t in self._threads if not t.is_alive()]
        if not self.client.running:
            ended.append("mqtt")
        if ended:
            self.failed = f"thread(s) ended unexpectedly: {', '.join(ended)}"
            log.critical("%s; stopping the gateway", self.failed)
            self.stop_event.set()

    def state(self) -> GatewayState:
        """What the heartbeat reports to the backend."""
        stalled = self.intake.stalled(self.settings.intake_stall_s)
        return GatewayState(self.intake.stats.spool_full, len(self.spool), stalled)

    def stop(self) -> None:
        self.client.stop()
        self.stop_event.set()
        for thread in self._threads:
            thread.join(10)
        self.forwarder.close()
        self.heartbeat.close()
        self.spool.close()

    def run_forever(self) -> int:
        """Run until SIGINT or SIGTERM, or until a thread dies; the exit status (1: a thread
        died). What is spooled stays for the next start."""

        def _stop(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.start()
        log.info(
            "gateway %s: broker %s:%s -> backend %s",
            self.settings.gateway_id,
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            self.settings.backend_url,
        )
        logged = time.monotonic()
        while not self.stop_event.wait(self.settings.health_every_s):
            self._check_threads()
            self.write_health()
            if time.monotonic() - logged >= PROGRESS_EVERY_S:
                logged = time.monotonic()
                self._log_progress()
        self.write_health()
        self.stop()
        return 1 if self.failed else 0

    def health(self) -> dict[str, object]:
        intake = self.intake.stats
        return {
            "gateway": self.settings.gateway_id,
            "updated_at": time.time(),
            "connected": self.client.connected,
            "subscribed": self.client.subscribed,
            "spooled": len(self.spool),
            "spool_full": intake.spool_full,  # non-empty while intake is paused, with the reason
            "intake_stalled": self.intake.stalled(self.settings.intake_stall_s),
            "failed": self.failed,  # why a thread died (the gateway is stopping), or empty
            # Copied field by field: the intake thread updates these while we read them.
            "intake": {
                "received": intake.received,
                "accepted": intake.accepted,
                "duplicates": intake.duplicates,
                "rejected": intake.rejected,
                "statuses": intake.statuses,
                "dropped_by_nodes": intake.dropped_by_nodes,
                "rejected_by_reason": dict(intake.rejected_by_reason),
                "flooded": intake.flooded,
            },
            "forwarder": asdict(self.forwarder.stats),
        }

    def write_health(self) -> None:
        """A small JSON file next to the spool, for health checks and tests; replaced atomically."""
        path = self.settings.health_path
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(self.health(), indent=1), encoding="utf-8")
            temporary.replace(path)
        except OSError as err:  # a full disk must not stop the gateway; the log still says it
            log.error("cannot write the health file %s: %s", path, err)

    def _log_progress(self) -> None:
        s, f = self.intake.stats, self.forwarder.stats
        log.info(
            "received %d, accepted %d, duplicates %d, rejected %d, forwarded %d, spooled %d",
            s.received,
            s.accepted,
            s.duplicates,
            s.rejected,
            f.forwarded,
            len(self.spool),
        )

"""The gateway's heartbeat: its state, PUT to the backend every 30 s and at once on a change.

The state says whether the spool's disk is full and whether intake is stalled (messages wait
and nothing is committed).

Separate from the batches: while intake is paused the spool may be empty and no batch goes
out, yet the backend must learn that the spool's disk is full (it then SMSes the office).
A failed report is retried at the next tick (every 2 s) until the backend has the state.
It runs in its own thread, so that a backend slow to answer never delays the health file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import httpx

log = logging.getLogger(__name__)

EVERY_S = 30.0
TICK_S = 2.0


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the heartbeat reports; a change of either reason is reported at once."""

    spool_full: str  # why intake is paused (the spool's disk), or empty
    spooled: int
    intake_stalled: str = ""  # why intake looks stuck, or empty

    @property
    def alarm(self) -> tuple[bool, bool]:
        return bool(self.spool_full), bool(self.intake_stalled)


class Heartbeat:
    def __init__(
        self,
        *,
        gateway_id: str,
        backend_url: str,
        token: str,
        every_s: float = EVERY_S,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = f"/api/v1/gateways/{gateway_id}/state"
        self.every_s = every_s
        self.clock = clock
        self._told: tuple[bool, bool] | None = None  # the alarms the backend has; None: none yet
        self._told_at = 0.0
        self._last_error = ""
        self._http = httpx.Client(
            base_url=backend_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def run(self, stop: threading.Event, state: Callable[[], GatewayState]) -> None:
        """Tick every 2 s until stopped; ``state`` gives the gateway's state at each tick."""
        while not stop.wait(TICK_S):
            self.tick(state())

    def tick(self, state: GatewayState) -> bool:
        """Report when an alarm changed or the last report is old; True when one was stored."""
        now = self.clock()
        if state.alarm == self._told and now - self._told_at < self.every_s:
            return False
        try:
            response = self._http.put(self.path, json=asdict(state))
        except httpx.HTTPError as err:
            reason = f"cannot report the gateway state to the backend: {err}"
        else:
            if response.is_success:
                self._told, self._told_at, self._last_error = state.alarm, now, ""
                return True
            # the backend's reason, e.g. a 403 naming the gateway this token speaks for
            reason = (
                f"the backend refused the gateway state: {response.status_code} "
                f"{response.text[:300]}"
            )
        if reason != self._last_error:
            log.warning("%s; retried in a moment", reason)
        self._last_error = reason
        return False

    def close(self) -> None:
        self._http.close()

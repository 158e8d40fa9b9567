"""Daily rollups on a schedule: yesterday's scores shortly after local midnight, missed days on
start.

The backend runs one ``DailyRollups`` in a thread. At start it rolls up every day of the last
``catch_up_days`` (yesterday included) that has no row for some village; then, each day at local
midnight + ``delay_s``, it rolls up the day just ended, always (late readings of that day are
in by then). Every half minute it also recomputes the days that readings reached after they
were over (``late.py``: a replayed spool), and every minute today's live part, so that pages
find it ready. ``roll_up`` replaces a day's rows, so running twice
changes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from .days import local_day, local_midnight
from .service import Scores

log = logging.getLogger(__name__)

LIVE_HELD_S = 600.0  # the live part's age while a backlog drains (refresh_live)
# The backend's first live part waits this long after its start: a backend (re)started while
# gateways replay what they spooled meanwhile would re-read today's readings as they pour in,
# one query per village (issue 22: about 250 queries beside the first seconds of a drain).
# A page asking meanwhile computes the live part itself, as on any cache miss.
LIVE_FIRST_AFTER_S = 30.0
POLL_S = 30.0  # how often the thread looks at the clock; a run is at most this late


def next_run_after(ts: float, delay_s: int) -> int:
    """The first local midnight + ``delay_s`` strictly after ``ts``."""
    today = local_day(ts)
    for day in (today, today + timedelta(days=1)):
        when = local_midnight(day) + delay_s
        if when > ts:
            return when
    return local_midnight(today + timedelta(days=2)) + delay_s


class DailyRollups:
    def __init__(
        self,
        scores: Scores,
        *,
        catch_up_days: int,
        delay_s: int,
        clock: Callable[[], float],
        draining: Callable[[], bool] = lambda: False,
        live_after_s: float = 0.0,
    ) -> None:
        self.scores = scores
        self.draining = draining  # a backlog drains (Ingest.draining)
        self.live_from = clock() + live_after_s  # no live part before (LIVE_FIRST_AFTER_S)
        self.catch_up_days = catch_up_days
        self.delay_s = delay_s
        self.clock = clock
        self.next_at = next_run_after(clock(), delay_s)
        self._caught_up = False

    def missing_days(self) -> list[date]:
        """Days of the last ``catch_up_days`` (up to yesterday) lacking a row for some village."""
        if self.catch_up_days <= 0:
            return []
        yesterday = local_day(self.clock()) - timedelta(days=1)
        first = yesterday - timedelta(days=self.catch_up_days - 1)
        rows = self.scores.store.daily_scores(
            start=local_midnight(first), end=local_midnight(yesterday + timedelta(days=1))
        )
        have: dict[int, set[str]] = {}
        for row in rows:
            if "lamp_required_s" in row.values:  # a first-wave row without parts is redone
                have.setdefault(row.day, set()).add(row.village_id)
        villages = {v.id for v in self.scores.commune.villages}
        days = [first + timedelta(days=n) for n in range(self.catch_up_days)]
        return [day for day in days if not villages <= have.get(local_midnight(day), set())]

    def catch_up(self, stop: threading.Event | None = None) -> list[date]:
        done = []
        for day in self.missing_days():
            if stop is not None and stop.is_set():
                break
            self._roll(day)
            done.append(day)
        return done

    def step(self) -> date | None:
        """Roll up the day just ended if its time has come; returns that day, else None."""
        now = self.clock()
        if now < self.next_at:
            return None
        day = local_day(now - self.delay_s) - timedelta(days=1)
        self._roll(day)
        self.next_at = next_run_after(now, self.delay_s)
        return day

    def _roll(self, day: date) -> None:
        written = self.scores.roll_up(day, day, recompute=True)
        log.info("daily scores of %s written (%d villages)", day, written)

    def refresh_live(self) -> bool:
        """Today's live part, recomputed once a minute; every ``LIVE_HELD_S`` while a backlog
        drains. Each recompute reads all of today's readings back (100,000 of them: about 1 to
        2 s of influxd's CPU), and during a drain the day grows by thousands a second: re-read
        every minute, it competed with the ingest for the machine. The pages then show a live
        part up to ten minutes old until the backlog is in (docs/decisions.md). Nothing before
        ``live_from``: the first one waits a while after the backend's start."""
        if self.clock() < self.live_from:
            return False
        return self.scores.refresh_today(max_age_s=LIVE_HELD_S if self.draining() else 60.0)

    def run(self, stop: threading.Event, owns: Callable[[], bool] = lambda: True) -> None:
        """Catch up, then run each day after midnight, until ``stop``, while this backend
        ``owns`` the rollups (one backend of several: backend/replicas.py); today's live part
        in every backend. Failures are retried."""
        run_all([self], stop, owns)

    def once(self, stop: threading.Event, owns: Callable[[], bool]) -> None:
        """One turn of ``run``."""
        try:
            if not owns():
                self._caught_up = False  # a backend that takes the rollups over catches up first
            else:
                if not self._caught_up:
                    self.catch_up(stop)
                    self._caught_up = True
                self.step()
                self.scores.redo_late()
            # Every backend: today's live part is each one's own, for its pages.
            self.refresh_live()
        except Exception:
            # The store may be down for a while: the missed work is tried again.
            log.exception("daily rollup failed; trying again in %.0f s", POLL_S)


def run_all(
    rollups: Sequence[DailyRollups], stop: threading.Event, owns: Callable[[], bool]
) -> None:
    """The rollups of each commune of a province (each judged by its own formula), one after
    the other in one thread: on SQLite two writers at once would wait on each other."""
    while not stop.is_set():
        for rollup in rollups:
            rollup.once(stop, owns)
        stop.wait(POLL_S)

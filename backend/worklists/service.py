"""The daily work lists, made and sent: at ``SANGSACH_WORKLIST_TIME`` (05:30 local) each
collection crew's list is made from the points' state, kept, and sent to each member as one
SMS; a member's "XONG <point code>" ticks the point off (through the SMS replies of
``backend/notify/inbound.py``, see ``WorklistReplies``)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, select

from sangsach.lunar import days_to_tet
from sangsach.registry_file import Commune, Team
from sangsach.sun import VIETNAM

from ..alerts import tables as alert_tables
from ..bin_forecasts import BinForecasts
from ..domain.rules import bin_emptied, bin_full, effective_thresholds, stale_s
from ..notify import outbox
from ..notify.inbound import AlertActions, NotRecipient, UnknownAlert
from . import store
from .plan import PointState, WorkList, plan, sms_text

log = logging.getLogger(__name__)

KIND = "worklist"
DEFAULT_TIME = "05:30"
POINT_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def page_path(team_id: str, day: date) -> str:
    return f"/thu-gom/{team_id}/{day.isoformat()}"


SEND_WINDOW_S = 3 * 3600  # a list not sent by then (the backend was down) is not sent that day


class Worklists:
    def __init__(
        self,
        engine: Engine,
        commune: Commune,
        forecasts: BinForecasts,
        clock: Callable[[], float],
        *,
        send_time: str = "05:30",
        public_url: str = "",
        time_limit_s: float = 0.0,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.commune = commune
        self.forecasts = forecasts
        self.clock = clock
        # empty: no list is texted; the pages and the API show what it would be
        self.sending = bool(send_time)
        hours, minutes = (send_time or DEFAULT_TIME).split(":")
        self.send_time = time(int(hours), int(minutes))
        self.public_url = public_url.rstrip("/")
        self.time_limit_s = time_limit_s
        self.on_queued = on_queued
        self.thresholds = effective_thresholds(commune.alerts, commune.villages)
        self.codes = commune.point_codes()
        self._lock = threading.Lock()

    # -- the teams ------------------------------------------------------------------------
    def teams(self) -> list[Team]:
        return [t for t in self.commune.teams if t.role == "collection"]

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams() if t.id == team_id), None)

    def member_name(self, phone: str | None) -> str | None:
        """Who sent a XONG, by name: the lists are read by viewers, who see no phone numbers."""
        if phone is None:
            return None
        names = (m.name for t in self.teams() for m in t.members if m.phone == phone)
        return next(names, "số máy không còn trong tổ")

    def today(self, now: float | None = None) -> date:
        return datetime.fromtimestamp(self.clock() if now is None else now, VIETNAM).date()

    # -- making a list --------------------------------------------------------------------
    def make(self, team: Team, now: float) -> WorkList:
        """The crew's list as things stand at ``now`` (not kept)."""
        day = self.today(now)
        starts = datetime.combine(day, self.send_time, VIETNAM)
        next_round = int((starts + timedelta(days=1)).timestamp())
        depot = self.commune.depot_of(team)
        return plan(
            team.id, team.name, day, (depot.lat, depot.lon), self._points(team, now),
            made_at=now, next_round=max(next_round, int(now) + 86_400 // 2),
            time_limit_s=self.time_limit_s,
            tet_round=days_to_tet(day, self.commune.tet_rounds_days) is not None,
        )  # fmt: skip

    def _points(self, team: Team, now: float) -> list[PointState]:
        villages = [v for v in self.commune.villages if v.id in team.villages]
        bins = {b.id: (v, p) for v in villages for p in v.points for b in p.bins}
        by_point: dict[str, list[Any]] = defaultdict(list)
        for forecast in self.forecasts.forecasts(list(bins)):
            by_point[forecast.place_id].append(forecast)
        with self.engine.connect() as conn:
            a = alert_tables.alerts
            overdue = set(
                conn.execute(
                    select(a.c.device_id).where(
                        a.c.state != "cleared",
                        a.c.type == "bin_overdue",
                        a.c.device_id.in_(list(bins)),
                    )
                ).scalars()
            )
        points = []
        for village in villages:
            th = self.thresholds[village.id]
            fresh = now - stale_s("bin", th)
            for point in village.points:
                known = [
                    f for f in by_point[point.id] if f.read_at is not None and f.read_at >= fresh
                ]
                fills = [f.fill_pct for f in known if f.fill_pct is not None]
                fulls = [f.full_at for f in known if f.full_at is not None]
                points.append(
                    PointState(
                        point.id, self.codes[point.id], point.name, village.id, village.name,
                        point.lat, point.lon, known=bool(fills),
                        fill_pct=max(fills) if fills else None,
                        full_now=any(bin_full(f, th) for f in fills),
                        overdue=any(b.id in overdue for b in point.bins),
                        full_at=min(fulls) if fulls else None,
                    )
                )  # fmt: skip
        return points

    # -- kept lists -----------------------------------------------------------------------
    def get(self, team_id: str, day: date) -> WorkList | None:
        with self.engine.connect() as conn:
            return store.load(conn, team_id, day)

    def current(self, team: Team, now: float) -> WorkList:
        """Today's kept list, else what it would be now (not kept, ``sent_at`` None)."""
        return self.get(team.id, self.today(now)) or self.make(team, now)

    def collected(self, worklist: WorkList, now: float | None = None) -> dict[str, int]:
        """Per stop's point, when a bin of it was emptied after the list was made, by the
        readings (``bin_emptied``, the scores' rule): the collections that happened beside
        the visits planned, whatever the crew texted."""
        points = {s.place_id for s in worklist.stops}
        bins = {
            b.id: (v.id, p.id)
            for v in self.commune.villages
            for p in v.points
            if p.id in points
            for b in p.bins
        }
        if not bins:
            return {}
        # the list's round: until the next list, or now
        since = int(worklist.made_at)
        end = min(int(self.clock() if now is None else now), since + 86_400) + 1
        previous = self.forecasts.store.last_before("bin", list(bins), ["fill_pct"], since)
        series = self.forecasts.store.series("bin", list(bins), ["fill_pct"], start=since, end=end)
        found: dict[str, int] = {}
        for device_id, rows in series.items():
            village_id, place_id = bins[device_id]
            th = self.thresholds[village_id]
            last = previous.get(device_id)
            before = None if last is None else last[1]
            for ts, fill in rows:
                if fill is None:
                    continue
                if before is not None and bin_emptied(float(before), float(fill), th):
                    found[place_id] = min(found.get(place_id, int(ts)), int(ts))
                    break
                before = fill
        return found

    def link(self, team_id: str, day: date) -> str:
        return f"{self.public_url}{page_path(team_id, day)}"

    def send_due(self) -> list[WorkList]:
        """Make, keep and send today's lists of the crews that have none yet, once the send
        time has come and for ``SEND_WINDOW_S`` after it (a backend started in the evening
        texts no crew the morning's list); the lists made now. Safe to call often and from two processes: a day's
        list is kept once (unique per crew and day), its SMS under one id per member."""
        now = self.clock()
        day = self.today(now)
        opens = datetime.combine(day, self.send_time, VIETNAM).timestamp()
        if not self.sending or not opens <= now < opens + SEND_WINDOW_S:
            return []  # before the time, or too late in the day for a morning's list
        made = []
        with self._lock:
            for team in self.teams():
                with self.engine.connect() as conn:
                    if store.find_id(conn, team.id, day) is not None:
                        continue
                worklist = self.make(team, now)
                if self._keep_and_send(team, worklist, now):
                    made.append(worklist)
        if made:
            self.on_queued()
        return made

    def _keep_and_send(self, team: Team, worklist: WorkList, now: float) -> bool:
        body = sms_text(worklist, self.link(team.id, worklist.day))
        with self.engine.begin() as conn:
            if not store.save(conn, worklist):
                return False
            for member in team.members:
                key = f"{KIND}:{team.id}:{worklist.day.isoformat()}:{member.phone}"
                outbox.enqueue(conn, outbox.Sms(key, member.phone, body, "gsm7", KIND), now)
            store.mark_sent(conn, team.id, worklist.day, now)
        log.info(
            "work list of %s for %s: %d points, route %d m (reference %d m), coverage %s",
            team.id, worklist.day, len(worklist.stops), worklist.route_m, worklist.reference_m,
            worklist.coverage_pct,
        )  # fmt: skip
        return True

    # -- XONG <point code> ----------------------------------------------------------------
    def crews_of(self, phone: str) -> list[str]:
        """The collection crews of this commune that ``phone`` is a member of."""
        return [t.id for t in self.teams() if any(m.phone == phone for m in t.members)]

    def tick(self, code: str, phone: str) -> str:
        """A crew member's "XONG <code>": the point ticked off today's list of their team."""
        now = self.clock()
        mine = self.crews_of(phone)
        if not mine:
            raise NotRecipient(f"{phone} is in no collection crew: no work list to tick")
        with self.engine.begin() as conn:
            team_id = store.tick(conn, mine, self.today(now), code, phone, now)
        if not team_id:
            raise UnknownAlert(f"no point {code} on today's work list of {', '.join(mine)}")
        return f"point {code} done on the work list of {team_id}"


def is_point_code(code: str) -> bool:
    return bool(code) and code[0] in POINT_CODE_CHARS


class WorklistReplies:
    """The SMS replies' actions (``AlertActions``): a code starting with a letter is a
    gathering point of today's work list, any other an alert's, as before."""

    def __init__(self, alerts: AlertActions, worklists: Worklists | Sequence[Worklists]) -> None:
        """``worklists``: a province's, one per commune; a crew's reply ticks its own
        commune's list."""
        self.alerts = alerts
        self.each = [worklists] if isinstance(worklists, Worklists) else list(worklists)

    def acknowledge(self, code: str, phone: str) -> str:
        if is_point_code(code):
            raise UnknownAlert(f"a point ({code}) is only ticked off, with XONG {code}")
        return self.alerts.acknowledge(code, phone)

    def mark_done(self, code: str, phone: str) -> str:
        if is_point_code(code):
            mine = [w for w in self.each if w.crews_of(phone)] or self.each[:1]
            for worklists in mine[:-1]:  # a member of crews of several communes: each in turn
                try:
                    return worklists.tick(code, phone)
                except UnknownAlert:
                    continue
            return mine[-1].tick(code, phone)
        return self.alerts.mark_done(code, phone)

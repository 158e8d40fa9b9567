"""When a lamp must be lit: from sunset to sunrise, cut to the village's programme.

A village may run a part-night programme (``lighting`` in the registry), e.g. 17:30-23:00 and
04:00-06:30 local time; the lamp is then lit where a window and the dark overlap, except on the
lunar calendar's festival nights (sangsach/lunar.py), lit from dusk to dawn. One rule for
the whole product: the simulators switch their lamps by it, the alert engine and the Sáng score
judge real lamps by it. A simulated lamp switches a little early or late (its timer and
photocell are not exact), modelled as a fixed shift of its on and off times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from sangsach.contract import LightingWindow
from sangsach.lunar import FestivalNights
from sangsach.province_file import Province, each_commune
from sangsach.sun import VIETNAM, dusk_dawn

if TYPE_CHECKING:
    from sangsach.registry_file import Commune, Village

Span = tuple[int, int]  # [start, end) in Unix seconds

# A window opening at or after noon belongs to the evening of its night, before noon to the
# morning after.
_NOON: Final = time(12, 0)
_NIGHTS_KEPT: Final = 8


@lru_cache(maxsize=4096)
def _dark(lat: float, lon: float, night: date, tz: tzinfo) -> Span:
    """Sunset to sunrise, shared by the lamps of a neighbourhood.

    Callers round the coordinates to 0.01° (about 1 km), which moves sunset by a few seconds:
    far less than a lamp's own switching error, and thousands of lamps share one computation.
    """
    dusk, dawn = dusk_dawn(lat, lon, night, tz)
    return int(dusk.timestamp()), int(dawn.timestamp())


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def window_span(night: date, window: LightingWindow, tz: tzinfo) -> Span:
    """The absolute span of a programme window during the night that starts on ``night``."""
    on, off = _hhmm(window.on), _hhmm(window.off)
    on_day = night if on >= _NOON else night + timedelta(days=1)
    start = datetime.combine(on_day, on, tz)
    end = datetime.combine(on_day, off, tz)
    if end <= start:
        end += timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp())


class LightingSchedule:
    """When one lamp is lit, in Unix seconds; the nights it needs are computed once."""

    def __init__(
        self,
        lat: float,
        lon: float,
        windows: Sequence[LightingWindow] = (),
        *,
        tz: tzinfo = VIETNAM,
        on_shift_s: int = 0,
        off_shift_s: int = 0,
        all_night: Callable[[date], bool] | None = None,
    ) -> None:
        self._lat = lat
        self._lon = lon
        self._windows = tuple(windows)
        self._tz = tz
        self._on_shift = on_shift_s
        self._off_shift = off_shift_s
        self._all_night = all_night  # the nights lit dusk to dawn whatever the programme
        self._nights: dict[date, tuple[Span, list[Span]]] = {}
        self._near_day: Span = (0, 0)  # the local day whose nearby spans are in _near
        self._near: list[Span] = []
        # The last answer of is_lit and the interval around it where no span opens or closes.
        self._same: tuple[int, int, bool] = (0, 0, False)

    def _night(self, night: date) -> tuple[Span, list[Span]]:
        """Sunset to sunrise of one night, and the lamp's lit spans in it."""
        if night not in self._nights:
            if len(self._nights) >= _NIGHTS_KEPT:
                self._nights.clear()
            dusk, dawn = _dark(round(self._lat, 2), round(self._lon, 2), night, self._tz)
            festive = self._all_night is not None and self._all_night(night)
            wanted = [] if festive else [window_span(night, w, self._tz) for w in self._windows]
            wanted = wanted or [(dusk, dawn)]
            lit = []
            for opens, closes in sorted(wanted):
                start = max(opens, dusk) + self._on_shift
                end = min(closes, dawn) + self._off_shift
                if start < end:
                    lit.append((start, end))
            self._nights[night] = ((dusk, dawn), lit)
        return self._nights[night]

    def _spans_near(self, t: int) -> list[Span]:
        """The lit spans of the nights before, of and after the local day of ``t``."""
        if not self._near_day[0] <= t < self._near_day[1]:
            today = datetime.fromtimestamp(t, self._tz).date()
            midnight = datetime.combine(today, time(), self._tz)
            self._near_day = (
                int(midnight.timestamp()),
                int((midnight + timedelta(days=1)).timestamp()),
            )
            self._near = [
                span
                for offset in (-1, 0, 1)
                for span in self._night(today + timedelta(days=offset))[1]
            ]
        return self._near

    def is_lit(self, t: int) -> bool:
        """Whether the lamp should be lit at ``t``.

        The alert engine asks this up to three times per lamp reading, for times that nearly
        always fall between the same two switching times: the answer holds from the last edge
        at or before ``t`` to the next one after it (within the local day, whose nearby spans
        are the ones looked at), so it is kept with that interval and given again inside it.
        """
        lo, hi, lit = self._same
        if lo <= t < hi:
            return lit
        spans = self._spans_near(t)
        lo, hi = self._near_day
        lit = False
        for start, end in spans:
            if start <= t < end:
                lit = True
            for edge in (start, end):
                if edge <= t:
                    lo = edge if edge > lo else lo
                elif edge < hi:
                    hi = edge
        self._same = (lo, hi, lit)
        return lit

    def next_change(self, t: int) -> int | None:
        """The first moment after ``t`` when the lamp switches, if it ever does in the next day."""
        edges = (edge for span in self._spans_near(t) for edge in span if edge > t)
        return min(edges, default=None)

    def daylight(self, t: int) -> Span:
        """Sunrise to sunset of the local day of ``t``."""
        today = datetime.fromtimestamp(t, self._tz).date()
        sunrise = self._night(today - timedelta(days=1))[0][1]
        sunset = self._night(today)[0][0]
        return sunrise, sunset


def village_schedules(what: Commune | Province) -> dict[str, LightingSchedule]:
    """Each village's lighting rule: its programme, its commune's place and festival nights and
    its own festival days. What the alert engine and the Sáng score judge lamps by."""
    return {
        v.id: LightingSchedule(
            commune.commune.latitude,
            commune.commune.longitude,
            v.lighting or (),
            all_night=festival_nights(commune, v),
        )
        for commune in each_commune(what)
        for v in commune.villages
    }


def festival_nights(commune: Commune, village: Village) -> FestivalNights:
    return FestivalNights(
        commune.festival_nights, ((f.lunar_day, f.name) for f in village.festivals), village.id
    )

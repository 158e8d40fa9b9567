"""A crew's work list for one day, from the state of its gathering points (pure, no I/O).

A point is on the list when one of its bins is **overdue** (a ``bin_overdue`` alert open: full
for longer than the collection SLA), **full** now (``bin_full`` of its latest reading), or
**forecast** full before the next list (``backend/forecast.py``: full before the same time
tomorrow); on the days of the rounds before Tết (``tet_rounds_days`` of the registry) every point
is on it, the others for **tet**. The points are visited in the order of ``routing.solve`` from the crew's depot.
The list records its **coverage** (of the crew's points, how many the system could judge: a
bin with a reading not older than ``stale_s``) and its **route length** beside the length of
the library's first tour (the reference it must not exceed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from sangsach.formats import day as vn_day
from sangsach.formats import number

from ..notify.text import fits_one_segment, to_gsm7
from .routing import LatLon, distances, solve

Reason = Literal["overdue", "full", "forecast", "tet"]
REASONS: Final[dict[str, str]] = {
    "overdue": "đầy quá hạn",
    "full": "đã đầy",
    "forecast": "dự kiến đầy",
    "tet": "thu gom trước Tết",
}
_PRIORITY: Final[dict[str, int]] = {"overdue": 0, "full": 1, "forecast": 2, "tet": 3}


@dataclass(frozen=True, slots=True)
class PointState:
    """What is known of one gathering point when the list is made."""

    place_id: str
    code: str
    name: str
    village_id: str
    village_name: str
    lat: float
    lon: float
    known: bool  # a bin of the point has a recent reading
    fill_pct: float | None = None  # the fullest bin's latest fill
    full_now: bool = False
    overdue: bool = False
    full_at: int | None = None  # the earliest forecast full time of its bins

    def reason(self, next_round: int, *, tet_round: bool = False) -> Reason | None:
        if self.overdue:
            return "overdue"
        if self.full_now:
            return "full"
        if self.full_at is not None and self.full_at <= next_round:
            return "forecast"
        return "tet" if tet_round else None


@dataclass(frozen=True, slots=True)
class Stop:
    seq: int  # 1, 2, ... along the route
    place_id: str
    code: str
    name: str
    village_name: str
    lat: float
    lon: float
    reason: Reason
    fill_pct: float | None
    full_at: int | None
    done_at: float | None = None
    done_by: str | None = None

    @property
    def reason_text(self) -> str:
        return REASONS[self.reason]


@dataclass(frozen=True, slots=True)
class WorkList:
    team_id: str
    team_name: str
    day: date
    made_at: float
    depot: LatLon
    points_total: int  # the crew's gathering points
    points_known: int  # of which the system could judge
    route_m: int
    reference_m: int  # the library's first tour over the same points
    stops: list[Stop] = field(default_factory=list)
    sent_at: float | None = None

    @property
    def coverage_pct(self) -> float | None:
        return 100.0 * self.points_known / self.points_total if self.points_total else None

    @property
    def done(self) -> int:
        return sum(1 for stop in self.stops if stop.done_at is not None)


def plan(
    team_id: str,
    team_name: str,
    day: date,
    depot: LatLon,
    points: Sequence[PointState],
    *,
    made_at: float,
    next_round: int,
    time_limit_s: float = 0.0,
    tet_round: bool = False,
) -> WorkList:
    """The day's list: the points that need a visit, in route order from the depot; on a day
    of the rounds before Tết (``tet_round``), every point."""
    chosen = [
        (p, r) for p in points if (r := p.reason(next_round, tet_round=tet_round)) is not None
    ]
    # the solver is given the points most urgent first: ties in its search favour them
    chosen.sort(key=lambda pr: (_PRIORITY[pr[1]], pr[0].code))
    coords = [(p.lat, p.lon) for p, _ in chosen]
    matrix = distances(depot, coords)  # once for both tours
    route = solve(depot, coords, time_limit_s=time_limit_s, matrix=matrix)
    reference = solve(depot, coords, improve=False, matrix=matrix)
    stops = [
        Stop(
            seq,
            p.place_id,
            p.code,
            p.name,
            p.village_name,
            p.lat,
            p.lon,
            reason,
            p.fill_pct,
            p.full_at,
        )
        for seq, (p, reason) in enumerate((chosen[i] for i in route.order), start=1)
    ]
    return WorkList(
        team_id,
        team_name,
        day,
        made_at,
        depot,
        len(points),
        sum(1 for p in points if p.known),
        route.length_m,
        reference.length_m,
        stops,
    )


# The SMS, written with diacritics and sent as GSM-7 (one segment of 160, like the answers).
SMS_LIST: Final = "Thu gom {day}, {count} điểm theo thứ tự: {codes}. Xong điểm nào gửi XONG <mã>."
SMS_LONG: Final = (
    "Thu gom {day}, {count} điểm theo thứ tự: {codes} +{more} điểm. "
    "Xong điểm nào gửi XONG <mã>. Xem: {link}"
)
# without SANGSACH_PUBLIC_URL there is no address a phone could open
SMS_LONG_NO_LINK: Final = (
    "Thu gom {day}, {count} điểm theo thứ tự: {codes} +{more} điểm. Xong điểm nào gửi XONG <mã>."
)
SMS_EMPTY: Final = "Thu gom {day}: hôm nay không có điểm nào cần thu gom."


def sms_text(worklist: WorkList, link: str) -> str:
    """The crew's SMS: every code in route order, or as many as fit and "+N diem" with the
    link to the page (when ``link`` is a whole address: ``SANGSACH_PUBLIC_URL`` is set). GSM-7 without diacritics, one segment (raises ValueError otherwise)."""
    day = worklist.day.strftime("%d/%m")
    codes = [stop.code for stop in worklist.stops]
    if not codes:
        return to_gsm7(SMS_EMPTY.format(day=day))
    text = to_gsm7(SMS_LIST.format(day=day, count=len(codes), codes=" ".join(codes)))
    kept = len(codes)
    while not fits_one_segment(text, "gsm7"):
        kept -= 1
        if kept < 1:
            raise ValueError(f"work list SMS of {worklist.team_id} does not fit one segment")
        long = SMS_LONG if link.startswith(("http://", "https://")) else SMS_LONG_NO_LINK
        text = to_gsm7(
            long.format(
                day=day, count=len(codes), codes=" ".join(codes[:kept]), more=len(codes) - kept,
                link=link,
            )
        )  # fmt: skip
    return text


def summary(worklist: WorkList) -> str:
    """One line for people: "12 điểm, đường đi 8,4 km, đã xong 3"."""
    return (
        f"{len(worklist.stops)} điểm, đường đi {number(worklist.route_m / 1000)} km, "
        f"đã xong {worklist.done} · ngày {vn_day(worklist.day)}"
    )

"""A village's parts from raw readings: the edge between the time-series store and the pure
walks of ``sang.py`` and ``sach.py``.

Used for a daily rollup, for today's part (computed live), and by the tests as the oracle that
the sum of days must equal. Thresholds are the village's effective ones (``domain.rules``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter

from sangsach.lighting import LightingSchedule, village_schedules
from sangsach.registry_file import Census, Commune, Village

from ..domain.rules import Thresholds, bin_emptied, effective_thresholds, lit_samples, stale_s
from ..timeseries.port import TimeSeriesStore
from .days import local_midnight
from .model import Span, clip
from .parts import Parts
from .rounds import KeptRound, RoundParts, round_parts
from .sach import FillSample, collection_parts, point_seconds
from .sang import LampInput, lamp_seconds, required_spans, sample_windows

LIT_FIELDS = ("on", "current_a", "fault")  # what domain.rules.lit_samples reads of a lamp
NEVER = 2**62  # "not removed"


@dataclass(frozen=True, slots=True)
class CommuneRules:
    """What the walks need of the registry, built once: thresholds and schedules per village."""

    commune: Commune
    thresholds: Mapping[str, Thresholds]
    schedules: Mapping[str, LightingSchedule]
    point_team: Mapping[str, str]  # gathering point -> the collection crew serving it

    @classmethod
    def of(cls, commune: Commune) -> CommuneRules:
        crews = [t for t in commune.teams if t.role == "collection"]
        return cls(
            commune,
            effective_thresholds(commune.alerts, commune.villages),
            village_schedules(commune),
            {
                point.id: team.id
                for team in reversed(crews)  # a village served by two crews: the first's
                for village in commune.villages
                if village.id in team.villages
                for point in village.points
            },
        )


def active_span(installed: object, removed: object, first_seen: int | None) -> Span | None:
    """When a device counts: from its ``installed`` day (else its first reading) to the start
    of its ``removed`` day. None: it has neither date nor reading, so it does not count yet."""
    start = local_midnight(installed) if installed is not None else first_seen  # type: ignore[arg-type]
    if start is None:
        return None
    end = local_midnight(removed) if removed is not None else NEVER  # type: ignore[arg-type]
    return (start, end)


def village_parts(
    store: TimeSeriesStore,
    rules: CommuneRules,
    village: Village,
    start: int,
    end: int,
    census: Census | None,
    first_seen: Mapping[str, int | None],
    rounds: Sequence[KeptRound] = (),
) -> Parts:
    """The village's parts over [start, end), from raw readings.

    ``first_seen`` gives, per device without an ``installed`` date, the time of its first
    reading (``TimeSeriesStore.first_seen``); ``rounds`` the kept work lists whose round
    overlaps [start, end) (``rounds.py``).
    """
    th = rules.thresholds[village.id]
    required, lit, dark = _lamps(store, rules, village, start, end, first_seen, th)
    (bin_required, overflow, unknown, on_time, late), planned = _bins(
        store, rules, village, start, end, first_seen, th, rounds
    )
    return Parts(
        rounds_planned=planned.planned,
        rounds_collected=planned.collected,
        rounds_unknown=planned.unknown,
        rounds_reported=planned.reported,
        rounds_unplanned=planned.unplanned,
        tet_planned=planned.tet_planned,
        tet_collected=planned.tet_collected,
        tet_unknown=planned.tet_unknown,
        lamp_required_s=required,
        lamp_lit_s=lit,
        lamp_dark_s=dark,
        bin_required_s=bin_required,
        bin_overflow_s=overflow,
        bin_unknown_s=unknown,
        full_on_time=on_time,
        full_late=late,
    ).with_census(census)


def _lamps(
    store: TimeSeriesStore,
    rules: CommuneRules,
    village: Village,
    start: int,
    end: int,
    first_seen: Mapping[str, int | None],
    th: Thresholds,
) -> tuple[int, int, int]:
    required = required_spans(rules.schedules[village.id], start, end)
    stale = stale_s("lamp", th)
    spans: dict[str, list[Span]] = {}
    for lane in village.lanes:
        for lamp in lane.lamps:
            active = active_span(lamp.installed, lamp.removed, first_seen.get(lamp.id))
            if active is not None:
                mine = [s for a, b in required for s in clip([(a, b)], *active)]
                if mine:
                    spans[lamp.id] = mine
    if not spans:
        return 0, 0, 0
    windows = sample_windows(sorted(s for one in spans.values() for s in one), start, end, stale)
    rows = store.series(
        "lamp", list(spans), LIT_FIELDS, start=start - stale, end=end, within=windows
    )
    total_required = total_lit = total_dark = 0
    for lamp_id, mine in spans.items():
        timeline = lit_samples(rows[lamp_id], th)
        first = bisect_left(timeline, start, key=itemgetter(0))  # ordered by ts
        before = timeline[first - 1] if first else None
        r, li, d = lamp_seconds(LampInput(mine, timeline[first:], before), start, end, stale)
        total_required, total_lit, total_dark = total_required + r, total_lit + li, total_dark + d
    return total_required, total_lit, total_dark


def _bins(
    store: TimeSeriesStore,
    rules: CommuneRules,
    village: Village,
    start: int,
    end: int,
    first_seen: Mapping[str, int | None],
    th: Thresholds,
    rounds: Sequence[KeptRound],
) -> tuple[tuple[int, int, int, int, int], RoundParts]:
    stale = stale_s("bin", th)
    since = start - th.collection_sla_s - stale  # a full event decided here began after this
    if rounds:  # and a round decided here began at most a day before
        since = min(since, min(r.made_at for r in rounds) - stale)
    ids = [bin_.id for point in village.points for bin_ in point.bins]
    if not ids:
        return (0, 0, 0, 0, 0), RoundParts()
    rows = store.series("bin", ids, ("fill_pct",), start=since, end=end)
    baselines = store.last_before("bin", ids, ("fill_pct",), since)
    fills = {
        bin_id: [(ts, float(fill)) for ts, fill in rows[bin_id] if fill is not None]
        for bin_id in ids
    }
    base = {
        bin_id: (None if row is None or row[1] is None else float(row[1]))
        for bin_id, row in baselines.items()
    }
    on_time, late = collection_parts([(fills[i], base[i]) for i in ids], start, end, th)
    required = overflow = unknown = 0
    for point in village.points:
        bins = []
        for bin_ in point.bins:
            active = active_span(bin_.installed, bin_.removed, first_seen.get(bin_.id))
            if active is not None:
                bins.append((fills[bin_.id], active))
        if bins:
            r, o, u = point_seconds(bins, start, end, th, stale)
            required, overflow, unknown = required + r, overflow + o, unknown + u
    planned = RoundParts()
    if rounds:
        emptied, heard = {}, {}
        for point in village.points:
            series = [(fills[b.id], base[b.id]) for b in point.bins]
            emptied[point.id] = sorted(t for f, b in series for t in _emptied_at(f, b, th))
            heard[point.id] = sorted(ts for f, _ in series for ts, _ in f)
        team_of = {p.id: rules.point_team[p.id] for p in village.points if p.id in rules.point_team}
        planned = round_parts(rounds, emptied, heard, team_of, start, end)
    return (required, overflow, unknown, on_time, late), planned


def _emptied_at(fills: Sequence[FillSample], baseline: float | None, th: Thresholds) -> list[int]:
    """When the bin was emptied (``bin_emptied`` from the reading before), in time order."""
    out = []
    prev = baseline
    for ts, fill in fills:
        if prev is not None and bin_emptied(prev, fill, th):
            out.append(ts)
        prev = fill
    return out

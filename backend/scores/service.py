"""Scores for any period: the stored daily parts of its closed days, plus the part still
running computed live from raw readings, judged by the commune's formula.

The raw readings are read only for the days that have no stored parts yet (which are then
stored: a rollup on demand), for the days that readings reached after they were over
(``late.py``), for the day in progress (kept ``live_cache_s``), and for the edges of a period
that does not start or end at a local midnight. Otherwise a closed day's stored parts are never
recomputed here: changing the registry or the census changes a closed period only through
``roll_up(recompute=True)`` (``sangsach rollup --recompute``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine

from sangsach.lunar import days_to_tet
from sangsach.registry_file import Census, Commune, ScoreFormula

from ..domain.readings import DailyScore
from ..registry.census import effective
from ..timeseries.port import DailySums, Kind, TimeSeriesStore
from ..worklists import store as worklist_store
from . import late
from .compute import CommuneRules, village_parts
from .days import days_between, local_day, local_midnight, next_day
from .parts import CENSUS_NAMES, SUMMED_NAMES, Parts, total
from .rounds import KeptRound, KeptStop
from .verdict import VillageResult, formula_text, judge, rank

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodScores:
    start: int
    end: int
    upto: int  # computed up to here: ``end``, or now for a period still running
    villages: list[VillageResult]  # registry order, each with its rank or unranked reason
    ranking: list[VillageResult]
    formula: ScoreFormula
    formula_text: str

    @property
    def in_progress(self) -> bool:
        return self.upto < self.end

    @property
    def has_data(self) -> bool:
        return any(v.parts.measured for v in self.villages)

    @property
    def unranked(self) -> list[VillageResult]:
        return [v for v in self.villages if v.rank is None]


@dataclass
class _Live:
    at: float
    parts: dict[str, Parts]

    def fresh(self, now: float, max_age_s: float) -> bool:
        """Young enough to serve. One that measured nothing (a new installation's first
        minutes, a backend just started) is never served, so that the first readings show at
        once; computing a day without data costs little."""
        return now - self.at < max_age_s and any(p.measured for p in self.parts.values())


@dataclass
class Scores:
    store: TimeSeriesStore
    engine: Engine | None  # None: the registry file's census only
    commune: Commune
    clock: Callable[[], float] = time.time
    live_cache_s: float = 90.0  # the nightly thread refreshes it every minute (refresh_today)
    rules: CommuneRules = field(init=False)
    _first_seen: dict[str, int | None] = field(default_factory=dict, init=False)
    _live: dict[int, _Live] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.rules = CommuneRules.of(self.commune)

    # --- periods ------------------------------------------------------------------------

    def period(self, start: int, end: int) -> PeriodScores:
        """Every village's indicators and the ranking for [start, end), up to now at most."""
        now = int(self.clock())
        upto = max(start, min(end, now))
        parts, formula = self._period(start, upto)
        judged = {v.id: judge(v.id, v.name, parts[v.id], formula) for v in self.commune.villages}
        ranked = rank(list(judged.values())) if any(p.measured for p in parts.values()) else []
        for result in ranked:
            judged[result.village_id] = result
        return PeriodScores(
            start, end, upto, list(judged.values()), ranked, formula, formula_text(formula)
        )

    def period_parts(self, start: int, end: int) -> dict[str, Parts]:
        """Each village's parts over [start, end): the closed whole days summed by the store,
        the rest (a partial first or last day, today) live, added up in time order."""
        return self._period(start, end)[0]

    def _period(self, start: int, end: int) -> tuple[dict[str, Parts], ScoreFormula]:
        """The parts, and the formula in force on the period's last day: the one stored with
        that day when it is a stored day, else the registry's (today, or a partial day)."""
        now = self.clock()
        head: tuple[int, int] | None = None
        closed: list[date] = []
        tail: list[tuple[int, int]] = []
        day = local_day(start)
        while local_midnight(day) < end:
            day_start, day_end = local_midnight(day), local_midnight(next_day(day))
            a, b = max(start, day_start), min(end, day_end)
            if a == day_start and b == day_end and day_end <= now:
                closed.append(day)
            elif closed or head is not None:
                tail.append((a, b))
            else:
                head = (a, b)
            day = next_day(day)
        pieces: dict[str, list[Parts]] = {v.id: [] for v in self.commune.villages}
        found: list[dict[str, Parts]] = []
        formula = self.commune.scores
        if head is not None:
            found.append(self._live_parts(*head))
        if closed:
            stored, kept = self._stored_sum(closed[0], closed[-1])
            found.append(stored)
            formula = kept if kept is not None and not tail else formula
        found.extend(self._live_parts(*piece) for piece in tail)
        for parts in found:
            for village_id, one in parts.items():
                if village_id in pieces:
                    pieces[village_id].append(one)
        return {village_id: total(days) for village_id, days in pieces.items()}, formula

    def _stored_sum(self, first: date, last: date) -> tuple[dict[str, Parts], ScoreFormula | None]:
        """The closed days ``first`` to ``last`` summed by the store; days not stored yet are
        computed and stored first, except those before any device counts (empty by rule)."""
        end = local_midnight(next_day(last))
        self.redo_late(local_midnight(first), end)
        sums = self.store.daily_sums(SUMMED_NAMES, KEPT_NAMES, start=local_midnight(first), end=end)
        if not self._all_days(sums, first, last):
            active = self.first_activity()
            if active is None or active >= end:  # nothing counted yet: no day to store
                census = self.census_at(end - 1)
                empty = {v.id: Parts().with_census(census.get(v.id)) for v in self.commune.villages}
                return empty, None
            first = max(first, local_day(active))
            for day in self._missing(list(days_between(first, last))):
                log.info("daily parts of %s missing: computing them now", day)
                self._roll(day)
            sums = self.store.daily_sums(
                SUMMED_NAMES, KEPT_NAMES, start=local_midnight(first), end=end
            )
        out = {}
        kept: ScoreFormula | None = None
        mine = {v.id for v in self.commune.villages}
        for village_id, found in sums.items():
            if village_id not in mine:  # a province's store holds every commune's days
                continue
            in_force = {k: v for k, v in found.last.items() if v is not None}
            out[village_id] = Parts.from_values({**found.sums, **in_force})
            kept = kept or stored_formula(found.last)
        return out, kept

    def _all_days(self, sums: Mapping[str, DailySums], first: date, last: date) -> bool:
        days = (last - first).days + 1
        return all(v.id in sums and sums[v.id].days == days for v in self.commune.villages)

    def redo_late(self, start: int = 0, end: int = 2**62) -> list[date]:
        """Recompute the stored days in [start, end) that readings reached after they were
        over (``late.py``); returns them."""
        if self.engine is None:
            return []
        seen = late.marked(self.engine, start, end)
        redone = [local_day(day) for day in sorted(seen)]
        for day in redone:
            log.info("late readings for %s: recomputing its parts", day)
            self._roll(day)
        if seen:
            late.clear(self.engine, seen)
        return redone

    def _missing(self, days: list[date]) -> list[date]:
        have = self._stored_index(days)
        return [d for d in days if not self._complete(have.get(local_midnight(d)))]

    # --- rollups -----------------------------------------------------------------------

    def roll_up(self, first: date, last: date, *, recompute: bool = False) -> int:
        """Compute and store each village's parts for the local days ``first`` to ``last``;
        days already stored are kept unless ``recompute``. Returns the rows written."""
        days = list(days_between(first, last))
        if not recompute:
            days = self._missing(days)
        written = 0
        for day in days:
            written += self._roll(day)
        return written

    def _roll(self, day: date) -> int:
        start, end = local_midnight(day), local_midnight(next_day(day))
        parts = self.compute(start, end)
        names = {v.id: v.name for v in self.commune.villages}
        self.store.write_daily_scores(
            [
                DailyScore(
                    village_id,
                    start,
                    {
                        **p.values(),
                        **day_figures(judge(village_id, names[village_id], p, self.commune.scores)),
                        **formula_values(self.commune.scores),
                    },
                )
                for village_id, p in parts.items()
            ]
        )
        return len(parts)

    def _stored_index(self, days: list[date]) -> dict[int, dict[str, Parts]]:
        if not days:
            return {}
        rows = self.store.daily_scores(
            start=local_midnight(days[0]), end=local_midnight(next_day(days[-1]))
        )
        found: dict[int, dict[str, Parts]] = {}
        for row in rows:
            if _has_parts(row.values):
                found.setdefault(row.day, {})[row.village_id] = Parts.from_values(row.values)
        return found

    def _complete(self, stored: dict[str, Parts] | None) -> bool:
        return stored is not None and all(v.id in stored for v in self.commune.villages)

    # --- raw ---------------------------------------------------------------------------

    def compute(self, start: int, end: int) -> dict[str, Parts]:
        """Each village's parts over [start, end) from raw readings, with the census in force
        at ``end``: the oracle the stored days must add up to."""
        census = self.census_at(end - 1)
        first_seen = self.first_seen()
        rounds = self.kept_rounds(start, end)
        return {
            v.id: village_parts(
                self.store, self.rules, v, start, end, census.get(v.id), first_seen, rounds
            )
            for v in self.commune.villages
        }

    def kept_rounds(self, start: int, end: int) -> list[KeptRound]:
        """The crews' kept work lists whose round (made to the end of its day) overlaps
        [start, end): the planned visits of ``rounds.py``."""
        if self.engine is None or not self.rules.point_team:
            return []
        with self.engine.connect() as conn:
            teams = [t.id for t in self.commune.teams]  # a province's: this commune's crews only
            made = worklist_store.made_between(conn, start - 2 * 86_400, end, teams)
        out = []
        for team_id, day, made_at, stops in made:
            round_end = local_midnight(next_day(day))
            if round_end <= start:
                continue
            out.append(
                KeptRound(
                    team_id, int(made_at), round_end,
                    days_to_tet(day, self.commune.tet_rounds_days) is not None,
                    tuple(KeptStop(p, None if at is None else int(at)) for p, at in stops),
                )
            )  # fmt: skip
        return out

    def _live_parts(self, start: int, end: int) -> dict[str, Parts]:
        """Raw parts of a piece of a day; today's piece up to now is kept ``live_cache_s``."""
        now = self.clock()
        today = local_midnight(local_day(now))
        # A piece of today that ends "now" (within the cache's age) is served from the cache;
        # one that ends earlier today is computed exactly.
        if start != today or end < now - self.live_cache_s:
            return self.compute(start, end)
        with self._lock:
            cached = self._live.get(start)
            if cached is None or not cached.fresh(now, self.live_cache_s):
                cached = _Live(now, self.compute(start, end))
                self._live = {start: cached}
            return cached.parts

    def refresh_today(self, max_age_s: float = 60.0) -> bool:
        """Recompute today's live part if it is older than ``max_age_s``: run in the background
        every half minute, so that a page asking for a period reaching today finds it ready
        instead of reading the day's raw readings itself. Returns whether it recomputed."""
        now = self.clock()
        today = local_midnight(local_day(now))
        cached = self._live.get(today)
        if cached is not None and now - cached.at < max_age_s:
            return False
        fresh = _Live(now, self.compute(today, int(now)))
        with self._lock:
            self._live = {today: fresh}
        return True

    def census_at(self, at: float) -> dict[str, Census]:
        if self.engine is None:
            return {v.id: v.census for v in self.commune.villages}
        return {v: view.census for v, view in effective(self.engine, self.commune, at).items()}

    def first_activity(self) -> int | None:
        """When the first device began to count (its ``installed`` day or first reading)."""
        starts = [ts for ts in self.first_seen().values() if ts is not None]
        for village in self.commune.villages:
            installed = [lamp.installed for lane in village.lanes for lamp in lane.lamps]
            installed += [bin_.installed for point in village.points for bin_ in point.bins]
            starts += [local_midnight(day) for day in installed if day is not None]
        return min(starts, default=None)

    def first_seen(self) -> dict[str, int | None]:
        """The first reading of each device without an ``installed`` date. A device's first
        reading is kept once known; one not heard yet is asked for again each time (the live
        part is itself kept ``live_cache_s``)."""
        undated: dict[Kind, list[str]] = {"lamp": [], "bin": []}
        for village in self.commune.villages:
            for lane in village.lanes:
                undated["lamp"] += [lamp.id for lamp in lane.lamps if lamp.installed is None]
            for point in village.points:
                undated["bin"] += [b.id for b in point.bins if b.installed is None]
        for kind, ids in undated.items():
            ask = [i for i in ids if self._first_seen.get(i) is None]
            if ask:
                self._first_seen.update(self.store.first_seen(kind, ask))
        return dict(self._first_seen)


def day_figures(day: VillageResult) -> dict[str, float | bool | None]:
    """A day's own figures, stored beside its parts for Grafana's charts by day (a period's
    figures come from its summed parts, never from these)."""
    return {
        "sang_pct": day.sang.value,
        "sang_coverage_pct": day.sang.coverage,
        "collection_pct": day.collection.value,
        "overflow_h": day.overflow.value,
        "bin_coverage_pct": day.overflow.coverage,
        "coverage_pct": day.census.value,
    }


# The formula in force is kept with each stored day (not summed: a period takes its last day's),
# so that changing the registry's targets changes a closed period only on recompute.
FORMULA_PREFIX = "formula_"
FORMULA_NAMES = tuple(FORMULA_PREFIX + name for name in ScoreFormula.model_fields)
KEPT_NAMES = (*CENSUS_NAMES, *FORMULA_NAMES)


def formula_values(formula: ScoreFormula) -> dict[str, float | bool | None]:
    return {FORMULA_PREFIX + name: float(value) for name, value in formula.model_dump().items()}


def stored_formula(values: Mapping[str, object]) -> ScoreFormula | None:
    """The formula kept with a stored day; None for a day stored before formulas were kept."""
    found = {name.removeprefix(FORMULA_PREFIX): values.get(name) for name in FORMULA_NAMES}
    if any(value is None for value in found.values()):
        return None
    return ScoreFormula.model_validate(found)


def _has_parts(values: Mapping[str, object]) -> bool:
    return "lamp_required_s" in values

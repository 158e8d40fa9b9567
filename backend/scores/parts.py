"""The additive parts of a village's indicators: what a daily rollup stores, and what any
period sums.

Every part is a whole number of seconds or events, so a period's parts are exactly the sum of
its days' parts, whatever way they are added (no float drift). Shares, coverage and verdicts
are derived from summed parts only (``verdict.py``). The census is not additive: a period
takes the census in force on its last day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sangsach.registry_file import Census


@dataclass(frozen=True, slots=True)
class Parts:
    """One village over one span of time (a day, or a period once summed)."""

    lamp_required_s: int = 0  # lamp-seconds the lamps had to be lit (active lamps only)
    lamp_lit_s: int = 0  # of those, known lit
    lamp_dark_s: int = 0  # of those, known dark; the rest is unknown
    bin_required_s: int = 0  # point-seconds with at least one active bin
    bin_overflow_s: int = 0  # of those, some bin known to overflow
    bin_unknown_s: int = 0  # of those, none known to overflow and some bin stale or silent
    full_on_time: int = 0  # full events emptied within the SLA, counted when emptied
    full_late: int = 0  # full events not emptied within the SLA, counted at full + SLA
    # The work lists' planned visits (rounds.py), each counted when decided: emptied, or at
    # the last second of its round (its day); unknown when no bin of the point was heard in the round.
    rounds_planned: int = 0
    rounds_collected: int = 0  # of those, a bin of the point emptied in the round
    rounds_unknown: int = 0  # of those, no reading from the point in the round
    rounds_reported: int = 0  # the crews' XONG, counted when texted
    rounds_unplanned: int = 0  # collections at points of a crew's round not on its list
    tet_planned: int = 0  # planned visits of the rounds before Tết
    tet_collected: int = 0
    tet_unknown: int = 0
    # The census in force (not summed: a period keeps its last day's); -1: not given.
    households: int = -1
    main_road_households: int = -1
    main_road_standard_bins: int = -1

    @property
    def lamp_unknown_s(self) -> int:
        return self.lamp_required_s - self.lamp_lit_s - self.lamp_dark_s

    @property
    def bin_measured_s(self) -> int:
        return self.bin_required_s - self.bin_unknown_s

    @property
    def measured(self) -> bool:
        """Whether anything at all was measured: known lamp or bin time, or a decided event."""
        return bool(
            self.lamp_lit_s
            or self.lamp_dark_s
            or self.bin_measured_s
            or self.full_on_time
            or self.full_late
        )

    @property
    def census(self) -> Census | None:
        if self.households < 0:
            return None
        return Census(
            households=self.households,
            main_road_households=self.main_road_households,
            main_road_standard_bins=self.main_road_standard_bins,
        )

    def with_census(self, census: Census | None) -> Parts:
        if census is None:
            return replace(self, households=-1, main_road_households=-1, main_road_standard_bins=-1)
        return replace(
            self,
            households=census.households,
            main_road_households=census.main_road_households,
            main_road_standard_bins=census.main_road_standard_bins,
        )

    def values(self) -> dict[str, float | bool | None]:
        return {name: getattr(self, name) for name in PART_NAMES}

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Parts:
        """The parts of a stored row; a row of the first wave (no parts) reads as no data."""
        return cls(
            **{name: int(values[name]) for name in PART_NAMES if values.get(name) is not None}
        )


PART_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Parts))
CENSUS_NAMES = ("households", "main_road_households", "main_road_standard_bins")
SUMMED_NAMES: tuple[str, ...] = tuple(n for n in PART_NAMES if n not in CENSUS_NAMES)


def total(days: Iterable[Parts]) -> Parts:
    """The parts of consecutive days, in time order: summed, with the last day's census."""
    sums = dict.fromkeys(SUMMED_NAMES, 0)
    census: Parts | None = None
    for day in days:
        for name in SUMMED_NAMES:
            sums[name] += getattr(day, name)
        if day.households >= 0:
            census = day
    out = Parts(**sums)
    return out.with_census(census.census) if census is not None else out


def added(villages: Iterable[Parts]) -> Parts:
    """Several villages' parts over one period as one place's (a commune's total, a commune in
    its province's ranking): seconds and counts summed, and the census of those that have one
    summed (none: no census)."""
    villages = list(villages)
    summed = {name: sum(getattr(v, name) for v in villages) for name in SUMMED_NAMES}
    censuses = [v for v in villages if v.households >= 0]
    census = {name: sum(getattr(p, name) for p in censuses) for name in CENSUS_NAMES}
    return Parts(**summed, **(census if censuses else {}))

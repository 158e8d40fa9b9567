"""The household census: the registry file's figures, overridden by entries from the office.

An entry comes through the API or a CSV import, is checked as the registry file's census is
(counts add up), and is kept with who entered it, when, and the day it takes effect. The census
in force at a moment is the entry with the latest effective day up to that moment (the latest
entered among equals), else the registry file's: so a new entry changes the periods after its
day, never those before.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, insert, select

from sangsach.registry_file import Census, Commune

from .. import db
from ..scores.days import local_day, local_midnight

CSV_COLUMNS = ("village_id", "households", "main_road_households", "main_road_standard_bins")


class CensusError(ValueError):
    """Bad census input; the message names the line and the column or field."""


@dataclass(frozen=True, slots=True)
class CensusView:
    village_id: str
    census: Census
    source: str  # "registry", "api" or "csv"
    entered_at: float | None
    entered_by: str | None
    effective_from: int | None = None  # Unix time of the local midnight it takes effect
    entry_id: int | None = None  # None: the registry file's figures


def effective(engine: Engine, commune: Commune, at: float | None = None) -> dict[str, CensusView]:
    """Each village's census in force at ``at`` (default: including every entry)."""
    views = {v.id: CensusView(v.id, v.census, "registry", None, None) for v in commune.villages}
    rows = sorted(_entries(engine), key=lambda r: (_from(r), r.entered_at, r.id))
    for row in rows:  # later rows replace earlier ones
        if (at is None or _from(row) <= at) and row.village_id in views:
            views[row.village_id] = CensusView(
                row.village_id, _census(row), row.source, row.entered_at, row.entered_by,
                _from(row), row.id,
            )  # fmt: skip
    return views


def history(engine: Engine, village_id: str) -> list[CensusView]:
    """Every entry of a village, the latest in force first (the order ``effective`` applies
    them in, reversed); the registry file's figures are not among them."""
    rows = _entries(engine, village_id)
    return [
        CensusView(
            row.village_id,
            _census(row),
            row.source,
            row.entered_at,
            row.entered_by,
            _from(row),
            row.id,
        )
        for row in sorted(rows, key=lambda r: (_from(r), r.entered_at, r.id), reverse=True)
    ]


def _entries(engine: Engine, village_id: str | None = None) -> list[Any]:
    query = select(db.census_entries)
    if village_id is not None:
        query = query.where(db.census_entries.c.village_id == village_id)
    with engine.connect() as conn:
        return list(conn.execute(query))


def _census(row: Any) -> Census:
    """An entry's figures, checked when it was entered: not checked again, so that a stricter
    rule later never makes a stored entry unreadable."""
    return Census.model_construct(
        households=row.households,
        main_road_households=row.main_road_households,
        main_road_standard_bins=row.main_road_standard_bins,
    )


def _from(row: Any) -> int:
    if row.effective_from is not None:
        return int(row.effective_from)
    return local_midnight(local_day(row.entered_at))


def record(
    engine: Engine,
    entries: dict[str, Census],
    *,
    by: str,
    source: str,
    now: float,
    effective_from: date | None = None,
) -> None:
    """Keep the entries, in force from ``effective_from`` (default: the day of ``now``)."""
    start = local_midnight(effective_from or local_day(now))
    rows = [
        {"village_id": village_id, **census.model_dump(), "entered_at": now,
         "entered_by": by, "source": source, "effective_from": start}
        for village_id, census in entries.items()
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(db.census_entries), rows)


def parse_csv(text: str, known: set[str]) -> dict[str, Census]:
    """All lines or none: the first problem stops the import with its line and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CensusError(
            f"line 1: missing column(s) {', '.join(missing)}; expected {', '.join(CSV_COLUMNS)}"
        )
    found: dict[str, Census] = {}
    for line, row in enumerate(reader, start=2):
        village_id = (row["village_id"] or "").strip()
        if village_id not in known:
            raise CensusError(f"line {line}: village_id {village_id!r} is not in the registry")
        if village_id in found:
            raise CensusError(f"line {line}: village_id {village_id!r} appears twice")
        values: dict[str, int] = {}
        for column in CSV_COLUMNS[1:]:
            text_value = (row[column] or "").strip()
            if not text_value.isdigit():
                raise CensusError(
                    f"line {line}: {column} must be a whole number, got {text_value!r}"
                )
            values[column] = int(text_value)
        try:
            found[village_id] = Census(**values)
        except ValidationError as err:
            raise CensusError(f"line {line}: {err.errors()[0]['msg']}") from err
    if not found:
        raise CensusError("the file has no census line")
    return found

"""Green Sundays (Chủ nhật xanh) and clean-up days, recorded by the commune office with the
villages that took part, and kept in SQL (migration 0007).

A campaign is a day or a run of days (at most ``MAX_DAYS``), a kind, a name, the villages that
took part (the registry's villages, or all of them: then the villages of the registry when it
was recorded are kept, marked "the whole commune"), and optionally how many people took part and
a note. A campaign belongs to a period when one of its days is in it; the reports list those and
count them per village beside the indicators, outside the score's formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.sql.expression import ColumnElement

from sangsach import formats

from .db import metadata
from .reports.period import Period
from .scores.days import local_day
from .sql import BigInt

# The kinds, as the API names them and as the office says them.
KINDS: dict[str, str] = {
    "chu_nhat_xanh": "Chủ nhật xanh",
    "tong_ve_sinh": "Tổng vệ sinh môi trường",
    "other": "Hoạt động khác",
}
# The name a campaign gets when none is given ("other" needs one).
DEFAULT_NAMES: dict[str, str] = {
    "chu_nhat_xanh": "Chủ nhật xanh",
    "tong_ve_sinh": "Tổng vệ sinh môi trường",
}
MAX_DAYS = 31  # a month of action at most: a longer "campaign" is a programme, not a day out
# The days a campaign may take: this century, as the census's entries.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("first_day", String(10), nullable=False, index=True),  # local date, ISO
    Column("last_day", String(10), nullable=False, index=True),
    Column("all_villages", Boolean, nullable=False),
    Column("participants", Integer, nullable=True),
    Column("note", String(500), nullable=True),
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", Float, nullable=False),
    Column("corrected_at", Float, nullable=True),
)

# No foreign key to ``villages``: that table is the registry's copy, replaced at every start,
# and a village taken out of the registry keeps its past campaigns.
campaign_villages = Table(
    "campaign_villages",
    metadata,
    Column(
        "campaign_id",
        BigInt,
        ForeignKey("campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("village_id", String(32), primary_key=True),
)


@dataclass(frozen=True, slots=True)
class CampaignEntry:
    """What the office records, checked (``backend/api/campaigns.py``)."""

    name: str
    kind: str
    first_day: date
    last_day: date
    village_ids: tuple[str, ...]
    all_villages: bool
    participants: int | None
    note: str | None
    entered_by: str


@dataclass(frozen=True, slots=True)
class Campaign(CampaignEntry):
    """A recorded campaign: what the office entered, with its number and when."""

    id: int
    entered_at: float
    corrected_at: float | None

    @property
    def kind_vi(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def days_text(self) -> str:
        """``Chủ nhật, 14/06/2026``, or ``13/06/2026 – 14/06/2026`` for a run of days."""
        if self.first_day == self.last_day:
            return f"{WEEKDAYS[self.first_day.weekday()]}, {formats.day(self.first_day)}"
        return f"{formats.day(self.first_day)} – {formats.day(self.last_day)}"

    def villages_text(self, names: dict[str, str]) -> str:
        """``Cả xã`` or the villages' names, as the registry spells them."""
        if self.all_villages:
            return "Cả xã"
        mine = set(self.village_ids)
        known = [name for village_id, name in names.items() if village_id in mine]
        return ", ".join(known + [v for v in self.village_ids if v not in names])


def _row(entry: CampaignEntry) -> dict[str, object]:
    return {
        "name": entry.name, "kind": entry.kind, "first_day": entry.first_day.isoformat(),
        "last_day": entry.last_day.isoformat(), "all_villages": entry.all_villages,
        "participants": entry.participants, "note": entry.note, "entered_by": entry.entered_by,
    }  # fmt: skip


def add(engine: Engine, entry: CampaignEntry, now: float) -> Campaign:
    """Keep a new campaign; its id is the one the API and the pages name it by."""
    with engine.begin() as conn:
        new_id = conn.execute(
            insert(campaigns).values(**_row(entry), entered_at=now).returning(campaigns.c.id)
        ).scalar_one()
        _set_villages(conn, new_id, entry.village_ids)
    found = get(engine, new_id)
    assert found is not None
    return found


def correct(engine: Engine, campaign_id: int, entry: CampaignEntry, now: float) -> Campaign | None:
    """Replace what was recorded of a campaign (its id and first entry time stay); None when
    there is no such campaign."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(**_row(entry), corrected_at=now)
            .execution_options(preserve_rowcount=True)
        ).rowcount
        if not changed:
            return None
        _set_villages(conn, campaign_id, entry.village_ids)
    return get(engine, campaign_id)


def remove(engine: Engine, campaign_id: int) -> bool:
    """Delete a campaign recorded by mistake; False when there is none."""
    with engine.begin() as conn:
        # the villages first: SQLite enforces the cascade only with its foreign keys switched on
        conn.execute(
            delete(campaign_villages).where(campaign_villages.c.campaign_id == campaign_id)
        )
        gone = conn.execute(
            delete(campaigns)
            .where(campaigns.c.id == campaign_id)
            .execution_options(preserve_rowcount=True)
        ).rowcount
    return bool(gone)


def _set_villages(conn: Connection, campaign_id: int, village_ids: Iterable[str]) -> None:
    conn.execute(delete(campaign_villages).where(campaign_villages.c.campaign_id == campaign_id))
    rows = [{"campaign_id": campaign_id, "village_id": v} for v in sorted(set(village_ids))]
    if rows:
        conn.execute(insert(campaign_villages), rows)


def get(engine: Engine, campaign_id: int) -> Campaign | None:
    found = _select(engine, campaigns.c.id == campaign_id)
    return found[0] if found else None


def between(
    engine: Engine,
    first: date | None = None,
    last: date | None = None,
    village_id: str | None = None,
) -> list[Campaign]:
    """The campaigns with a day from ``first`` to ``last`` (both included; None: no bound), of
    one village when ``village_id`` is given, in the order of their days."""
    conditions: list[ColumnElement[bool]] = []
    if first is not None:
        conditions.append(campaigns.c.last_day >= first.isoformat())
    if last is not None:
        conditions.append(campaigns.c.first_day <= last.isoformat())
    if village_id is not None:
        conditions.append(
            campaigns.c.id.in_(
                select(campaign_villages.c.campaign_id).where(
                    campaign_villages.c.village_id == village_id
                )
            )
        )
    return _select(engine, *conditions)


def in_period(engine: Engine, period: Period, village_id: str | None = None) -> list[Campaign]:
    """The campaigns with a day in a report's period (local days)."""
    return between(engine, local_day(period.start), local_day(period.end - 1), village_id)


def per_village(found: Iterable[Campaign], village_ids: Iterable[str]) -> dict[str, int]:
    """How many of the campaigns each village took part in (0 for none)."""
    counts = dict.fromkeys(village_ids, 0)
    for campaign in found:
        for village_id in campaign.village_ids:
            counts[village_id] = counts.get(village_id, 0) + 1
    return counts


def _select(engine: Engine, *conditions: ColumnElement[bool]) -> list[Campaign]:
    query = select(campaigns).where(*conditions).order_by(campaigns.c.first_day, campaigns.c.id)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
        ids = [row.id for row in rows]
        villages: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            taking_part = select(campaign_villages).where(campaign_villages.c.campaign_id.in_(ids))
            for link in conn.execute(taking_part.order_by(campaign_villages.c.village_id)):
                villages[link.campaign_id].append(link.village_id)
    return [
        Campaign(
            id=row.id, name=row.name, kind=row.kind,
            first_day=date.fromisoformat(row.first_day), last_day=date.fromisoformat(row.last_day),
            village_ids=tuple(villages[row.id]), all_villages=bool(row.all_villages),
            participants=row.participants, note=row.note, entered_by=row.entered_by,
            entered_at=row.entered_at, corrected_at=row.corrected_at,
        )
        for row in rows
    ]  # fmt: skip


def span_days(first: date, last: date) -> int:
    """Days from ``first`` to ``last``, both included."""
    return (last - first).days + 1

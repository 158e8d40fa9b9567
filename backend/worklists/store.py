"""The work lists kept in SQL (migration 0004): one per crew and day, with its stops, its
coverage, route length and reference length, when its SMS left, and each stop's XONG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
    true,
    update,
)

from ..db import metadata
from .plan import Stop, WorkList

worklists = Table(
    "worklists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("team_id", String(32), nullable=False),
    Column("team_name", String(60), nullable=False),
    Column("day", String(10), nullable=False),  # local date, ISO
    Column("made_at", Float, nullable=False),
    Column("sent_at", Float, nullable=True),  # when its SMS were queued
    Column("depot_lat", Float, nullable=False),
    Column("depot_lon", Float, nullable=False),
    Column("points_total", Integer, nullable=False),
    Column("points_known", Integer, nullable=False),
    Column("route_m", Integer, nullable=False),
    Column("reference_m", Integer, nullable=False),
    UniqueConstraint("team_id", "day", name="uq_worklists_team_day"),
)

worklist_stops = Table(
    "worklist_stops",
    metadata,
    Column(
        "worklist_id", Integer, ForeignKey("worklists.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("place_id", String(32), nullable=False),
    Column("code", String(8), nullable=False),
    Column("name", String(60), nullable=False),
    Column("village_name", String(40), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("reason", String(12), nullable=False),
    Column("fill_pct", Float, nullable=True),
    Column("full_at", Float, nullable=True),
    Column("done_at", Float, nullable=True),
    Column("done_by", String(64), nullable=True),
)


def save(conn: Connection, worklist: WorkList) -> bool:
    """Keep a list; False when the crew has one for that day already (it is not replaced)."""
    if find_id(conn, worklist.team_id, worklist.day) is not None:
        return False
    row = {
        "team_id": worklist.team_id, "team_name": worklist.team_name,
        "day": worklist.day.isoformat(), "made_at": worklist.made_at,
        "sent_at": worklist.sent_at, "depot_lat": worklist.depot[0],
        "depot_lon": worklist.depot[1], "points_total": worklist.points_total,
        "points_known": worklist.points_known, "route_m": worklist.route_m,
        "reference_m": worklist.reference_m,
    }  # fmt: skip
    new_id = conn.execute(insert(worklists).values(row).returning(worklists.c.id)).scalar_one()
    if worklist.stops:
        conn.execute(
            insert(worklist_stops),
            [
                {"worklist_id": new_id, "seq": s.seq, "place_id": s.place_id, "code": s.code,
                 "name": s.name, "village_name": s.village_name, "lat": s.lat, "lon": s.lon,
                 "reason": s.reason, "fill_pct": s.fill_pct, "full_at": s.full_at}
                for s in worklist.stops
            ],
        )  # fmt: skip
    return True


def find_id(conn: Connection, team_id: str, day: date) -> int | None:
    query = select(worklists.c.id).where(
        worklists.c.team_id == team_id, worklists.c.day == day.isoformat()
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def mark_sent(conn: Connection, team_id: str, day: date, at: float) -> None:
    conn.execute(
        update(worklists)
        .where(worklists.c.team_id == team_id, worklists.c.day == day.isoformat())
        .values(sent_at=at)
    )


def load(conn: Connection, team_id: str, day: date) -> WorkList | None:
    row = conn.execute(
        select(worklists).where(worklists.c.team_id == team_id, worklists.c.day == day.isoformat())
    ).first()
    if row is None:
        return None
    stops = conn.execute(
        select(worklist_stops)
        .where(worklist_stops.c.worklist_id == row.id)
        .order_by(worklist_stops.c.seq)
    )
    return WorkList(
        row.team_id, row.team_name, date.fromisoformat(row.day), row.made_at,
        (row.depot_lat, row.depot_lon), row.points_total, row.points_known, row.route_m,
        row.reference_m,
        [
            Stop(s.seq, s.place_id, s.code, s.name, s.village_name, s.lat, s.lon, s.reason,
                 s.fill_pct, None if s.full_at is None else int(s.full_at), s.done_at, s.done_by)
            for s in stops
        ],
        row.sent_at,
    )  # fmt: skip


def tick(conn: Connection, team_ids: list[str], day: date, code: str, phone: str, at: float) -> str:
    """Mark the stop ``code`` of the day's list of one of ``team_ids`` done; the team's id, or
    ``""`` when no such list has the code. Done again: kept as first done (harmless)."""
    query = (
        select(worklists.c.id, worklists.c.team_id, worklist_stops.c.seq, worklist_stops.c.done_at)
        .join(worklist_stops, worklist_stops.c.worklist_id == worklists.c.id)
        .where(
            worklists.c.team_id.in_(team_ids),
            worklists.c.day == day.isoformat(),
            worklist_stops.c.code == code,
        )
    )
    found = conn.execute(query).first()
    if found is None:
        return ""
    if found.done_at is None:
        conn.execute(
            update(worklist_stops)
            .where(worklist_stops.c.worklist_id == found.id, worklist_stops.c.seq == found.seq)
            .values(done_at=at, done_by=phone)
        )
    return str(found.team_id)


def made_between(
    conn: Connection, start: float, end: float, teams: Sequence[str] | None = None
) -> list[tuple[str, date, float, list[tuple[str, float | None]]]]:
    """The lists made in [start, end) (of ``teams`` only, when given: a commune's crews):
    (team, day, made_at, [(point, XONG time)]), by time."""
    rows = conn.execute(
        select(
            worklists.c.id, worklists.c.team_id, worklists.c.day, worklists.c.made_at,
            worklist_stops.c.place_id, worklist_stops.c.done_at,
        )
        .select_from(worklists.outerjoin(worklist_stops))
        .where(worklists.c.made_at >= start, worklists.c.made_at < end)
        .where(worklists.c.team_id.in_(teams) if teams is not None else true())
        .order_by(worklists.c.made_at, worklists.c.id, worklist_stops.c.seq)
    )  # fmt: skip
    found: dict[int, tuple[str, date, float, list[tuple[str, float | None]]]] = {}
    for row in rows:
        kept = found.setdefault(row.id, (row.team_id, date.fromisoformat(row.day), row.made_at, []))
        if row.place_id is not None:
            kept[3].append((row.place_id, row.done_at))
    return list(found.values())

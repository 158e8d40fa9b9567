"""Reading alerts back: one filter for the API and the pages, the list, its count and the
history per type (how many opened, acknowledged, cleared; mean times to each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, func, select

from . import tables
from .lifecycle import Alert, State
from .model import AlertType
from .tables import from_row

_table = tables.alerts
Q = TypeVar("Q", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts: each field left None does not filter. ``start`` and ``end`` bound when the
    alert opened (Unix seconds, the end excluded); ``active`` True means not cleared."""

    state: State | None = None
    active: bool | None = None
    village: str | None = None
    type: AlertType | None = None
    device: str | None = None
    start: float | None = None
    end: float | None = None
    villages: Sequence[str] | None = None  # any of these: the commune in view's (a province)

    def apply(self, query: Q) -> Q:
        for column, value in (
            (_table.c.state, self.state),
            (_table.c.village_id, self.village),
            (_table.c.type, self.type),
            (_table.c.device_id, self.device),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.villages is not None:
            query = query.where(_table.c.village_id.in_(self.villages))
        if self.active is not None:
            cleared = _table.c.state == State.CLEARED.value
            query = query.where(~cleared if self.active else cleared)
        if self.start is not None:
            query = query.where(_table.c.opened_at >= self.start)
        if self.end is not None:
            query = query.where(_table.c.opened_at < self.end)
        return query


@dataclass(frozen=True, slots=True)
class TypeStats:
    type: AlertType
    opened: int
    acknowledged: int
    cleared: int
    mean_time_to_acknowledge_s: float | None
    mean_time_to_clear_s: float | None


def list_alerts(
    conn: Connection, where: AlertFilter, *, limit: int, offset: int = 0
) -> list[Alert]:
    """Newest first."""
    query = where.apply(select(_table))
    query = query.order_by(_table.c.opened_at.desc(), _table.c.id.desc())
    return [from_row(row._mapping) for row in conn.execute(query.limit(limit).offset(offset))]


def count_alerts(conn: Connection, where: AlertFilter) -> int:
    return int(conn.execute(where.apply(select(func.count()).select_from(_table))).scalar_one())


def history(conn: Connection, where: AlertFilter) -> list[TypeStats]:
    """Per type: how many opened, acknowledged and cleared, and the mean times to each (to
    acknowledge from when it was raised, to clear from when its condition began)."""
    query = where.apply(
        select(_table.c.type, _table.c.raised_at, _table.c.acked_at, _table.c.opened_at,
               _table.c.cleared_at)
    )  # fmt: skip
    per_type: dict[str, list[tuple[float | None, float | None]]] = {}
    for row in conn.execute(query):
        to_ack = row.acked_at - row.raised_at if row.acked_at is not None else None
        to_clear = row.cleared_at - row.opened_at if row.cleared_at is not None else None
        per_type.setdefault(row.type, []).append((to_ack, to_clear))
    return [
        TypeStats(
            type=AlertType(type_),
            opened=len(times),
            acknowledged=len(acks := [a for a, _ in times if a is not None]),
            cleared=len(clears := [c for _, c in times if c is not None]),
            mean_time_to_acknowledge_s=sum(acks) / len(acks) if acks else None,
            mean_time_to_clear_s=sum(clears) / len(clears) if clears else None,
        )
        for type_, times in sorted(per_type.items())
    ]

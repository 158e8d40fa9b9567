"""SQL tables of the alert engine: active and past alerts, and each device's rule track."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table, Text

from ..db import metadata
from ..sql import BigInt
from .lifecycle import Alert, Level, State
from .model import AlertType

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInt, primary_key=True, autoincrement=True),  # also the code in SMS
    Column("device_id", String(48), nullable=False, index=True),
    Column("type", String(24), nullable=False),
    Column("village_id", String(32), nullable=False, index=True),
    Column("state", String(24), nullable=False, index=True),
    Column("level", Integer, nullable=False),
    Column("opened_at", Float, nullable=False),  # data time when the condition first held
    Column("raised_at", Float, nullable=False),  # clock time when the engine opened it
    Column("acked_at", Float),
    Column("acked_by", String(64)),
    Column("done_at", Float),
    Column("done_by", String(64)),
    Column("cleared_at", Float),
    Column("collected_at", Float),
    Column("notified_at", Float),
    Column("notified_level", Integer),
    Column("next_notice_at", Float, index=True),
    Column("reminders", Integer, nullable=False, default=0),
    Column("assigned_to", String(64)),
    Column("note", Text),
)
# One active alert per device and type: the engine keeps it so, the database makes sure.
Index(
    "one_active_alert",
    alerts.c.device_id,
    alerts.c.type,
    unique=True,
    sqlite_where=alerts.c.state != "cleared",
    postgresql_where=alerts.c.state != "cleared",
)

alert_tracks = Table(
    "alert_tracks",
    metadata,
    Column("device_id", String(48), primary_key=True),
    Column("track", JSON, nullable=False),
)


_ALERT_FIELDS = [f.name for f in fields(Alert) if f.name != "id"]


def to_row(alert: Alert) -> dict[str, Any]:
    row = {name: getattr(alert, name) for name in _ALERT_FIELDS}
    row["type"] = alert.type.value
    row["state"] = alert.state.value
    row["level"] = int(alert.level)
    row["notified_level"] = None if alert.notified_level is None else int(alert.notified_level)
    return row


def from_row(row: Any) -> Alert:
    values = {name: row[name] for name in _ALERT_FIELDS}
    values["type"] = AlertType(row["type"])
    values["state"] = State(row["state"])
    values["level"] = Level(row["level"])
    values["notified_level"] = (
        None if row["notified_level"] is None else Level(row["notified_level"])
    )
    return Alert(id=row["id"], **values)


# The columns in the order of Alert's fields, for ``from_values``.
ALERT_COLUMNS = [alerts.c[f.name] for f in fields(Alert)]
_TYPES = {t.value: t for t in AlertType}
_STATES = {s.value: s for s in State}
_LEVELS = {int(level): level for level in Level}


def from_values(row: Sequence[Any]) -> Alert:
    """``from_row`` for a row of ``ALERT_COLUMNS``: a batch in an alert storm reads hundreds of
    active alerts, and a row by position with its enums looked up costs a third of by name."""
    alert = Alert(*row)  # the enums come as their values: looked up here
    alert.type = _TYPES[alert.type]
    alert.state = _STATES[alert.state]
    alert.level = _LEVELS[alert.level]
    if alert.notified_level is not None:
        alert.notified_level = _LEVELS[alert.notified_level]
    return alert

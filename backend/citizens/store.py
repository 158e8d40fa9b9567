"""The citizens' tickets kept in SQL (migration 0006): one per report, by SMS or the form.

A ticket names what it is about as far as the report said: the code (``P12``, ``D15``), the
device, the place, the village and the open alert of that device when there was one. It is
``open`` until the office closes it (page or API), when the sender gets a second SMS.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from ..db import metadata

citizen_reports = Table(
    "citizen_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the ticket number, #12
    Column("created_at", Float, nullable=False, index=True),
    Column("channel", String(8), nullable=False),  # "sms" or "web"
    Column("phone", String(16), nullable=True, index=True),  # E.164; the form's is optional
    Column("address", String(64), nullable=True),  # the form's client address
    Column("kind", String(8), nullable=False),  # "rac", "den" or "khac" (free text)
    Column("code", String(8), nullable=True),  # the point's or lamp's code, when known
    Column("device_id", String(48), nullable=True),
    Column("place_id", String(32), nullable=True),
    Column("village_id", String(32), nullable=True, index=True),
    Column("alert_id", String(32), nullable=True),  # the device's open alert at the time
    Column("text", Text, nullable=False),  # as sent, cut to 500 characters
    Column("status", String(8), nullable=False),  # "open" or "closed"
    Column("closed_at", Float, nullable=True),
    Column("closed_by", String(64), nullable=True),
    Column("note", Text, nullable=True),  # the office's word when closing
)
Index("ix_citizen_reports_status_created", citizen_reports.c.status, citizen_reports.c.created_at)

"""Ingest and the alert tick take their locks in one order: the engine's, then the database's.

Before, an ingest wrote the device state (holding SQLite's one write lock) and only then waited
for the alert engine; a tick holding the engine and wanting to write waited in SQLite's busy
handler for up to 30 s, and the ingest with it. Now an ingest waiting for the engine holds no
write lock, so anything else may write meanwhile.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from sangsach.backend.app import create_app
from sangsach.backend.db import device_state
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY

BIN = "bin-dong-ha-01"
NOW = 1_780_000_000


def test_an_ingest_waiting_for_the_alert_engine_holds_no_database_write_lock(
    tmp_path: Path,
) -> None:
    settings = BackendSettings(data_dir=tmp_path, alert_quiet_hours="", alert_tick_s=3600)
    reading = {"id": BIN, "kind": "bin", "boot": 1, "seq": 1, "ts": NOW, "fill_pct": 40.0,
               "received_at": NOW + 1.0}  # fmt: skip
    body = {"gateway": "gw-1", "readings": [reading]}
    with TestClient(create_app(settings), headers=ADMIN) as api:
        services = api.app.state.services  # type: ignore[attr-defined]
        answers: list[int] = []
        posted = threading.Thread(
            target=lambda: answers.append(
                api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code
            )
        )
        with services.alerts.lock:  # as a tick in progress
            posted.start()
            posted.join(timeout=1.0)
            assert posted.is_alive(), "the ingest waits for the engine"
            # Another writer gets the database at once (a busy database fails at once too).
            other = sqlite3.connect(settings.sql_url.removeprefix("sqlite:///"), timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()
        posted.join(timeout=30)
        assert answers == [200]
        with services.engine.connect() as conn:
            row = conn.execute(
                select(device_state.c.seq).where(device_state.c.device_id == BIN)
            ).first()
        assert row is not None and row.seq == 1, "the batch went through once the engine was free"

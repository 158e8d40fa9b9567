"""Dead letters at the backend, on SQLite: a flood letter's count only grows, however its
batches are resent; letters beyond their retention or the size cap go, the oldest first."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from sangsach.backend import db
from sangsach.backend.app import create_app
from sangsach.backend.deadletters import kept_bytes, purge
from sangsach.config import BackendSettings
from tests.harness import ADMIN, GATEWAY

NOW = time.time()  # recent: older letters fall to the retention sweep
DAY = 86_400


@pytest.fixture
def api(tmp_path: Path, sql_url: str) -> Iterator[TestClient]:
    settings = BackendSettings(data_dir=tmp_path, database_url=sql_url)
    with TestClient(create_app(settings), headers=ADMIN) as client:
        yield client


def flood(messages: int, size: int) -> dict[str, Any]:
    return {"id": "f" * 32, "topic": "sangsach/v1/lamp-dong-ha-001/telemetry",
            "device_id": "lamp-dong-ha-001", "reason": "flood", "detail": f"{messages} folded",
            "payload": "junk", "payload_bytes": size, "received_at": NOW, "messages": messages}  # fmt: skip


def test_a_flood_letter_keeps_its_highest_count(api: TestClient) -> None:
    def send(*letters: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"gateway": "gw-1", "rejections": list(letters)}
        assert api.post("/api/v1/ingest", json=body, headers=GATEWAY).status_code == 200
        return api.get("/api/v1/dead-letters", params={"reason": "flood"}).json()  # type: ignore[no-any-return]

    [letter] = send(flood(5, 50))
    assert (letter["messages"], letter["payload_bytes"], letter["detail"]) == (5, 50, "5 folded")
    [letter] = send(flood(3, 30))  # an older batch resent
    assert letter["messages"] == 5
    [letter] = send(flood(7, 70), flood(9, 90))  # two commits in one batch
    assert (letter["messages"], letter["payload_bytes"], letter["detail"]) == (9, 90, "9 folded")


def letter(n: int, age_days: float, size: int) -> dict[str, Any]:
    return {"id": f"l{n}", "received_at": NOW - age_days * DAY, "gateway": "gw-1",
            "topic": "t", "device_id": None, "reason": "schema", "detail": "d",
            "payload": "x" * size, "payload_bytes": size, "messages": 1}  # fmt: skip


def test_letters_beyond_the_retention_then_beyond_the_size_cap_go_oldest_first(
    sql_url: str,
) -> None:
    engine = db.make_engine(sql_url)
    rows = [letter(n, age, 999) for n, age in enumerate([100, 95, 80, 60, 40, 20, 1])]
    with engine.begin() as conn:
        conn.execute(insert(db.dead_letters), rows)
        assert kept_bytes(conn) == 7 * 1000
        assert purge(conn, NOW, 90 * DAY, 10_000) == 2  # older than 90 days
        assert purge(conn, NOW, 90 * DAY, 2500) == 3  # then the oldest down to the cap
        ids = sorted(r.id for r in conn.execute(db.dead_letters.select()))
        assert ids == ["l5", "l6"] and kept_bytes(conn) <= 2500
        assert purge(conn, NOW, 90 * DAY, 2500) == 0
    engine.dispose()

"""The day's work list made at the set time, kept once, texted to every member of each crew and
ticked off by a member's "XONG <code>" through the SMS replies, on SQLite and on PostgreSQL
(``sql_url``: the lists' tables are migration 0005's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from sangsach.backend import db
from sangsach.backend.bin_forecasts import BinForecasts
from sangsach.backend.domain.readings import StoredReading
from sangsach.backend.notify.answers import answer_text
from sangsach.backend.notify.inbound import receive
from sangsach.backend.notify.text import fits_one_segment
from sangsach.backend.registry.load import load_commune
from sangsach.backend.reports.build import build_report, rows
from sangsach.backend.reports.document import render_html
from sangsach.backend.reports.period import parse_period
from sangsach.backend.scores.service import Scores
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.backend.worklists.service import WorklistReplies, Worklists
from tests.unit.test_worklists import AT_0530, COMMUNE, DAY, LINK


@pytest.fixture
def worklists(tmp_path: Path, sql_url: str) -> Iterator[Worklists]:
    engine = db.make_engine(sql_url)
    load_commune(engine, COMMUNE)
    store = SqliteStore(tmp_path / "timeseries.sqlite")
    store.ensure_ready()
    now = [float(AT_0530 - 600)]
    forecasts = BinForecasts(engine, store, COMMUNE, lambda: now[0])
    made = Worklists(engine, COMMUNE, forecasts, lambda: now[0], public_url=LINK[:40])
    made.clock_value = now  # type: ignore[attr-defined]
    # two points of crew 1 full, one of crew 2; the rest read half full
    full = {"dong-ha-p1", "phu-khe-p2", "quang-trung-p1"}
    with engine.begin() as conn:
        for ref in COMMUNE.devices():
            if ref.kind == "bin":
                fill = 92.0 if ref.place_id in full else 40.0
                conn.execute(insert(db.device_state).values(
                    device_id=ref.id, ts=AT_0530 - 900, values={"fill_pct": fill}))  # fmt: skip
    yield made
    engine.dispose()


class NoAlerts:
    def acknowledge(self, code: str, phone: str) -> str:
        raise AssertionError("an alert's reply reached the work list test")

    def mark_done(self, code: str, phone: str) -> str:
        raise AssertionError("an alert's reply reached the work list test")


def test_made_at_the_set_time_kept_once_sent_and_ticked_off(worklists: Worklists) -> None:
    engine = worklists.engine
    assert worklists.send_due() == []  # 05:20: not yet
    worklists.clock_value[0] = AT_0530 + 60  # type: ignore[attr-defined]
    made = worklists.send_due()
    assert [w.team_id for w in made] == ["thu-gom-1", "thu-gom-2"]
    assert worklists.send_due() == []  # once a day
    first = worklists.get("thu-gom-1", DAY)
    assert first is not None and first.sent_at == AT_0530 + 60
    assert sorted(s.place_id for s in first.stops) == ["dong-ha-p1", "phu-khe-p2"]
    assert first.coverage_pct == 100.0 and first.route_m <= first.reference_m
    with engine.connect() as conn:
        sent = conn.execute(select(db.sms_outbox).where(db.sms_outbox.c.kind == "worklist")).all()
    assert sorted(m.to for m in sent) == ["+84912000181", "+84912000192", "+84912000203",
                                          "+84912000214"]  # fmt: skip
    assert all(fits_one_segment(m.body, "gsm7") and m.encoding == "gsm7" for m in sent)
    code = first.stops[0].code
    assert code in next(m.body for m in sent if m.to == "+84912000181")

    actions = WorklistReplies(NoAlerts(), worklists)
    worklists.clock_value[0] = AT_0530 + 3600  # type: ignore[attr-defined]
    done = receive(engine, actions, "0912000192", f"xong {code.lower()}", now=AT_0530 + 3600)
    assert done.accepted and done.code == code
    assert answer_text(done, f"xong {code}") == f"Da ghi nhan XONG diem {code}. Cam on."
    again = receive(engine, actions, "0912000181", f"XONG {code}", now=AT_0530 + 7200)
    assert again.accepted  # harmless when repeated: the first time is kept
    ticked = worklists.get("thu-gom-1", DAY)
    assert ticked is not None and ticked.done == 1
    assert ticked.stops[0].done_by == "+84912000192" and ticked.stops[0].done_at == AT_0530 + 3600

    other = worklists.get("thu-gom-2", DAY)
    assert other is not None
    foreign = receive(engine, actions, "0912000181", f"XONG {other.stops[0].code}", now=AT_0530)
    assert foreign.result == "unknown_alert"  # not on crew 1's list
    assert "khong co trong danh sach" in (answer_text(foreign, "") or "")
    electrician = receive(engine, actions, "0912000225", f"XONG {code}", now=AT_0530)
    assert electrician.result == "not_recipient"
    with engine.connect() as conn:
        rows = conn.execute(select(db.sms_inbound.c.code, db.sms_inbound.c.result)).all()
    assert (code, "accepted") in [tuple(r) for r in rows]


def test_an_empty_set_time_texts_no_list(worklists: Worklists) -> None:
    quiet = Worklists(
        worklists.engine, COMMUNE, worklists.forecasts, lambda: AT_0530 + 3600, send_time=""
    )
    assert quiet.send_due() == []
    assert quiet.get("thu-gom-1", DAY) is None
    team = quiet.team("thu-gom-1")
    assert team is not None and quiet.current(team, AT_0530 + 3600).sent_at is None


def _bin_readings(device: str, place: str, village: str, fills: list[tuple[int, float]]) -> list:  # type: ignore[type-arg]
    return [
        StoredReading(device, "bin", village, place, 1, seq, ts, True, {"fill_pct": fill})
        for seq, (ts, fill) in enumerate(fills)
    ]


def test_the_scores_tell_planned_visits_from_collections_that_happened(
    worklists: Worklists,
) -> None:
    """Crew 1's list has dong-ha-p1 and phu-khe-p2. dong-ha-p1 is emptied (and texted XONG);
    phu-khe-p2 sends nothing all day (unknown); dong-ha-p2, not on the list, is emptied
    (unplanned). Any split of the day adds up to the day."""
    worklists.clock_value[0] = AT_0530 + 60  # type: ignore[attr-defined]
    worklists.send_due()
    kept = worklists.get("thu-gom-1", DAY)
    assert kept is not None and {s.place_id for s in kept.stops} == {"dong-ha-p1", "phu-khe-p2"}
    code = next(s.code for s in kept.stops if s.place_id == "dong-ha-p1")
    actions = WorklistReplies(NoAlerts(), worklists)
    assert receive(
        worklists.engine, actions, "0912000181", f"XONG {code}", now=AT_0530 + 9000
    ).accepted
    store = worklists.forecasts.store
    store.write(
        _bin_readings("bin-dong-ha-01", "dong-ha-p1", "dong-ha",
                      [(AT_0530 + 600, 92.0), (AT_0530 + 7200, 93.0), (AT_0530 + 8400, 6.0)])
        + _bin_readings("bin-dong-ha-03", "dong-ha-p2", "dong-ha",
                        [(AT_0530 + 600, 70.0), (AT_0530 + 30_000, 5.0)])
    )  # fmt: skip
    midnight = AT_0530 - 19_800
    scores = Scores(store, worklists.engine, COMMUNE, clock=lambda: midnight + 2 * 86_400)
    day = scores.compute(midnight, midnight + 86_400)
    dong_ha, phu_khe = day["dong-ha"], day["phu-khe"]
    assert (dong_ha.rounds_planned, dong_ha.rounds_collected, dong_ha.rounds_unknown) == (1, 1, 0)
    assert (dong_ha.rounds_reported, dong_ha.rounds_unplanned) == (1, 1)
    assert (phu_khe.rounds_planned, phu_khe.rounds_collected, phu_khe.rounds_unknown) == (1, 0, 1)
    quang_trung = day["quang-trung"]  # crew 2's one stop: silent too
    assert (quang_trung.rounds_planned, quang_trung.rounds_unknown) == (1, 1)
    assert day["an-lac"].rounds_planned == 0  # no point of it on a list
    cut = AT_0530 + 8000
    a, b = scores.compute(midnight, cut), scores.compute(cut, midnight + 86_400)
    for village in ("dong-ha", "phu-khe"):
        for name in ("rounds_planned", "rounds_collected", "rounds_unknown", "rounds_unplanned"):
            assert getattr(a[village], name) + getattr(b[village], name) == getattr(
                day[village], name
            ), (village, name)
    # the stored day (a rollup) keeps them, and a period sums them
    scores.roll_up(DAY, DAY)
    period = scores.period_parts(midnight, midnight + 86_400)
    assert period["dong-ha"].rounds_collected == 1 and period["phu-khe"].rounds_unknown == 1
    # the report: its own table, shares of what could be judged
    report = build_report(worklists.engine, scores, COMMUNE, parse_period(DAY.strftime("%Y-%m")))
    by_village = {row["village_id"]: row for row in rows(report.scores, report.alerts)}
    assert by_village["dong-ha"]["planned_percent"] == 100.0
    assert by_village["phu-khe"]["planned_percent"] is None  # nothing judged: not 0 %
    assert (by_village["phu-khe"]["planned_visits"], by_village["phu-khe"]["planned_unknown"]) == (
        1,
        1,
    )
    html = render_html(report)
    table = html.split('id="rounds"')[1].split("</table>")[0]
    assert "Thôn Đông Hạ" in table and "100,0" in table

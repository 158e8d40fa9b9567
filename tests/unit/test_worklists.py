"""The crews' daily work lists (backend/worklists/): the route by OR-Tools against the library's
own reference tour and the optimum, which points are chosen and why, the SMS in one GSM-7
segment, and the day's list made, kept, sent and ticked off by "XONG <code>" on SQLite."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from random import Random

import pytest
from sqlalchemy import insert, select

from sangsach.backend import db
from sangsach.backend.bin_forecasts import BinForecasts
from sangsach.backend.notify.answers import answer_text
from sangsach.backend.notify.inbound import receive
from sangsach.backend.notify.text import GSM7_BASIC, fits_one_segment
from sangsach.backend.registry.load import load_commune
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.backend.worklists.plan import PointState, WorkList, plan, sms_text
from sangsach.backend.worklists.routing import solve, tour_length
from sangsach.backend.worklists.service import WorklistReplies, Worklists
from sangsach.registry_file import SAMPLE_REGISTRY, Commune, load_registry
from sangsach.sun import VIETNAM

COMMUNE = load_registry(SAMPLE_REGISTRY)
DAY = date(2026, 12, 3)  # a Thursday
AT_0530 = int(datetime(2026, 12, 3, 5, 30, tzinfo=VIETNAM).timestamp())


def team_points(commune: Commune, team_id: str, **state: object) -> list[PointState]:
    team = next(t for t in commune.teams if t.id == team_id)
    codes = commune.point_codes()
    return [
        PointState(p.id, codes[p.id], p.name, v.id, v.name, p.lat, p.lon, known=True, **state)  # type: ignore[arg-type]
        for v in commune.villages
        if v.id in team.villages
        for p in v.points
    ]


@pytest.mark.parametrize("team_id", ["thu-gom-1", "thu-gom-2"])
def test_the_sample_communes_route_is_no_longer_than_the_librarys_reference(team_id: str) -> None:
    """Every point of the crew on the list: the solved tour against the library's first tour
    (cheapest arc) and its guided local search for half a second."""
    team = next(t for t in COMMUNE.teams if t.id == team_id)
    depot = COMMUNE.depot_of(team)
    points = team_points(COMMUNE, team_id, full_now=True)
    worklist = plan(
        team.id, team.name, DAY, (depot.lat, depot.lon), points, made_at=AT_0530,
        next_round=AT_0530 + 86_400,
    )  # fmt: skip
    coords = [(p.lat, p.lon) for p in points]
    guided = solve((depot.lat, depot.lon), coords, time_limit_s=0.5)
    print(
        f"{team_id}: {len(worklist.stops)} points, route {worklist.route_m} m, library's first "
        f"tour {worklist.reference_m} m, guided local search 0.5 s {guided.length_m} m"
    )
    assert len(worklist.stops) == len(points) >= 15
    assert sorted(s.place_id for s in worklist.stops) == sorted(p.place_id for p in points)
    assert worklist.route_m <= worklist.reference_m
    assert worklist.route_m <= guided.length_m * 1.01
    assert worklist.coverage_pct == 100.0
    stops = [(s.lat, s.lon) for s in worklist.stops]
    assert tour_length((depot.lat, depot.lon), stops, range(len(stops))) == worklist.route_m


def test_small_tours_are_optimal() -> None:
    rng = Random(7)
    depot = (20.72, 106.23)
    for n in range(2, 8):
        points = [(20.69 + rng.random() * 0.03, 106.20 + rng.random() * 0.03) for _ in range(n)]
        best = min(tour_length(depot, points, order) for order in itertools.permutations(range(n)))
        assert solve(depot, points).length_m == best
    assert solve(depot, []).length_m == 0


def test_the_list_takes_overdue_full_and_forecast_points_only() -> None:
    base = team_points(COMMUNE, "thu-gom-1")
    tomorrow = AT_0530 + 86_400
    states = [
        replace(base[0], overdue=True, full_now=True),
        replace(base[1], full_now=True, fill_pct=91.0),
        replace(base[2], full_at=tomorrow - 60),
        replace(base[3], full_at=tomorrow + 60),  # after the next list
        replace(base[4], known=False),
        *base[5:],
    ]
    worklist = plan("thu-gom-1", "Tổ 1", DAY, (20.72, 106.23), states, made_at=AT_0530,
                    next_round=tomorrow)  # fmt: skip
    reasons = {s.place_id: s.reason for s in worklist.stops}
    assert reasons == {base[0].place_id: "overdue", base[1].place_id: "full",
                       base[2].place_id: "forecast"}  # fmt: skip
    assert worklist.points_known == len(states) - 1
    assert {s.reason_text for s in worklist.stops} == {"đầy quá hạn", "đã đầy", "dự kiến đầy"}


LINK = "https://sangsach-xa-chi-lang-bac.example.vn/thu-gom/thu-gom-1/2026-12-03"


def _sms_cases() -> list[WorkList]:
    full = team_points(COMMUNE, "thu-gom-2", full_now=True)
    cases = []
    for count in (0, 1, 5, len(full)):
        cases.append(plan("thu-gom-2", "Tổ 2", DAY, (20.72, 106.23), full[:count],
                          made_at=AT_0530, next_round=AT_0530 + 86_400))  # fmt: skip
    # the longest codes the registry allows
    long = [PointState(f"p{i}", f"ABC{1000 + i}", "x", "v", "v", 20.7 + i / 1000, 106.2, True,
                       full_now=True) for i in range(30)]  # fmt: skip
    cases.append(plan("t", "T", DAY, (20.72, 106.23), long, made_at=AT_0530, next_round=0))
    return cases


@pytest.mark.parametrize("worklist", _sms_cases(), ids=lambda w: f"{len(w.stops)}-stops")
def test_the_sms_fits_one_gsm7_segment_like_every_other(worklist: WorkList) -> None:
    text = sms_text(worklist, LINK)
    print(text)
    assert fits_one_segment(text, "gsm7")
    assert set(text) <= GSM7_BASIC  # no diacritics, no two-septet characters
    codes = [s.code for s in worklist.stops]
    if not codes:
        assert "khong co diem nao" in text
        return
    assert "XONG <ma>" in text
    if LINK in text:
        more = int(text.split("+", 1)[1].split()[0])
        shown = [c for c in codes if f" {c} " in f" {text} "]
        assert shown == codes[: len(codes) - more]
        assert f"+{more} diem" in text
    else:
        assert " ".join(codes) in text


@pytest.fixture
def worklists(tmp_path: Path) -> Worklists:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sangsach.sqlite'}")
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
    return made


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

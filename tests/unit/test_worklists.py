"""The crews' daily work lists (backend/worklists/): the route by OR-Tools against the library's
own reference tour and the optimum, which points are chosen and why, the SMS in one GSM-7
segment, (the day's list made, kept, sent and ticked off: tests/integration/test_worklists_store.py)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime
from random import Random

import pytest

from sangsach.backend.notify.inbound import Refused, Reply, parse_reply
from sangsach.backend.notify.text import GSM7_BASIC, fits_one_segment
from sangsach.backend.worklists.plan import PointState, WorkList, plan, sms_text
from sangsach.backend.worklists.routing import solve, tour_length
from sangsach.lunar import days_to_tet
from sangsach.registry_file import (
    SAMPLE_REGISTRY,
    Commune,
    Depot,
    RegistryFileError,
    load_registry,
    parse_registry,
)
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


def test_on_a_round_before_tet_every_point_is_on_the_list_most_urgent_reason_kept() -> None:
    base = team_points(COMMUNE, "thu-gom-1")
    tomorrow = AT_0530 + 86_400
    states = [replace(base[0], full_now=True), replace(base[1], known=False), *base[2:]]
    worklist = plan("thu-gom-1", "Tổ 1", DAY, (20.72, 106.23), states, made_at=AT_0530,
                    next_round=tomorrow, tet_round=True)  # fmt: skip
    reasons = {s.place_id: s.reason for s in worklist.stops}
    assert set(reasons) == {p.place_id for p in states}  # unknown points too: a round visits all
    assert reasons[base[0].place_id] == "full"
    assert {reasons[p.place_id] for p in states[1:]} == {"tet"}
    assert {s.reason_text for s in worklist.stops} == {"đã đầy", "thu gom trước Tết"}


@pytest.mark.parametrize(
    ("day", "rounds", "expected"),
    [
        # Tết 2027 is 6 February (lunar 1/1 Đinh Mùi); Tết 2026 was 17 February
        (date(2027, 2, 2), 3, None),
        (date(2027, 2, 3), 3, 3),
        (date(2027, 2, 5), 3, 1),  # the eve
        (date(2027, 2, 6), 3, None),  # Tết itself: no round
        (date(2027, 2, 5), 0, None),  # rounds turned off
        (date(2026, 2, 16), 3, 1),
        (date(2026, 2, 10), 10, 7),
    ],
)
def test_the_days_of_the_rounds_before_tet(day: date, rounds: int, expected: int | None) -> None:
    assert days_to_tet(day, rounds) == expected


def test_the_registry_refuses_rounds_of_more_than_ten_days() -> None:
    text = SAMPLE_REGISTRY.read_text(encoding="utf-8").replace(
        "villages:", "tet_rounds_days: 11\nvillages:", 1
    )
    with pytest.raises(RegistryFileError, match="tet_rounds_days"):
        parse_registry(text, "commune.yaml")
    assert COMMUNE.tet_rounds_days == 3  # the default


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


def test_without_a_public_address_a_long_list_names_no_link() -> None:
    longest = _sms_cases()[-1]  # 30 codes of 7 characters
    text = sms_text(longest, "/thu-gom/thu-gom-2/2026-12-03")
    assert fits_one_segment(text, "gsm7") and "Xem" not in text and " diem. Xong" in text


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


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("XONG P12", Reply("done", "P12")),
        ("xong p3.", Reply("done", "P3")),
        ("Xong: DH1", Reply("done", "DH1")),
        ("XONG 12", Reply("done", "12")),  # digits: an alert, as before
    ],
)
def test_xong_names_a_point_by_its_code(text: str, reply: Reply) -> None:
    assert parse_reply(text) == reply


@pytest.mark.parametrize("text", ["OK P12", "xong roi", "XONG P12 chua xong", "XONG PPPP1"])
def test_a_point_is_only_ticked_off_by_its_code_alone(text: str) -> None:
    assert isinstance(parse_reply(text), Refused)


def test_depots_and_point_codes_from_the_registry() -> None:
    sample = SAMPLE_REGISTRY.read_text(encoding="utf-8")
    first = "      - id: dong-ha-p1\n"
    assert first in sample and "    role: collection\n" in sample
    custom = sample.replace(first, first + "        code: DH1\n", 1).replace(
        "    role: collection\n",
        "    role: collection\n    depot: {lat: 20.7021, lon: 106.2188}\n",
        1,
    )
    commune = parse_registry(custom)
    codes = commune.point_codes()
    assert codes["dong-ha-p1"] == "DH1" and codes["dong-ha-p2"] == "P2"
    assert commune.depot_of(commune.teams[0]) == Depot(lat=20.7021, lon=106.2188)
    assert commune.depot_of(commune.teams[1]) == Depot(lat=20.72, lon=106.23)  # the office
    assert COMMUNE.point_codes()["dong-ha-p1"] == "P1" and len(set(codes.values())) == 43
    with pytest.raises(RegistryFileError, match="duplicate gathering point code: P2"):
        parse_registry(sample.replace(first, first + "        code: P2\n", 1))
    with pytest.raises(RegistryFileError, match="code"):
        parse_registry(sample.replace(first, first + "        code: '12'\n", 1))

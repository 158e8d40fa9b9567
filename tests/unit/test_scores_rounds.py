"""Planned visits against collections that happened (backend/scores/rounds.py), by hand: each
stop decided once, when emptied or at its round's end, so that days add up to any period."""

from __future__ import annotations

import random

from sangsach.backend.scores.rounds import KeptRound, KeptStop, RoundParts, round_parts

MADE = 1_000_000  # a list made at 05:30 ...
END = MADE + 66_600  # ... whose round ends at midnight
TEAM = {"p1": "crew", "p2": "crew", "p3": "crew", "p4": "crew"}


def a_round(*stops: KeptStop, tet: bool = False) -> KeptRound:
    return KeptRound("crew", MADE, END, tet, stops)


def test_collected_unknown_missed_reported_and_unplanned() -> None:
    kept = a_round(KeptStop("p1", MADE + 3600), KeptStop("p2", None), KeptStop("p3", MADE + 7200))
    emptied = {"p1": [MADE - 500, MADE + 4000], "p4": [MADE + 5000]}  # p4: not on the list
    heard = {"p1": [MADE + 100], "p3": [MADE + 900], "p4": [MADE + 5000]}  # p2: silent
    found = round_parts([kept], emptied, heard, TEAM, MADE - 19_800, END + 1)
    # p1 collected (the emptying before the list does not count), p2 unknown, p3 missed
    # though the crew texted XONG: the readings decide, the XONG is counted beside
    assert found == RoundParts(planned=3, collected=1, unknown=1, reported=2, unplanned=1)


def test_a_stop_is_counted_once_in_the_part_of_time_it_is_decided() -> None:
    kept = a_round(KeptStop("p1", None), KeptStop("p2", None))
    emptied = {"p1": [MADE + 4000]}
    heard = {"p1": [MADE + 4000], "p2": [MADE + 100]}
    morning = round_parts([kept], emptied, heard, TEAM, MADE - 19_800, MADE + 5000)
    rest = round_parts([kept], emptied, heard, TEAM, MADE + 5000, END + 10)
    assert morning == RoundParts(planned=1, collected=1)  # p1, when emptied
    assert rest == RoundParts(planned=1)  # p2 missed, decided at midnight


def test_other_villages_points_and_tet_rounds() -> None:
    kept = a_round(KeptStop("p1", None), KeptStop("elsewhere", None), tet=True)
    found = round_parts([kept], {"p1": [MADE + 60]}, {}, TEAM, MADE, END)
    assert found == RoundParts(
        planned=1, collected=1, tet_planned=1, tet_collected=1, tet_unknown=0
    )


def test_any_split_of_a_day_adds_up_to_the_day() -> None:
    rng = random.Random(7)
    for _ in range(200):
        stops = tuple(
            KeptStop(p, rng.choice([None, MADE + rng.randrange(66_600)])) for p in ("p1", "p2")
        )
        kept = a_round(*stops, tet=rng.random() < 0.5)
        emptied = {p: sorted(rng.sample(range(MADE - 9000, END + 9000), 2)) for p in TEAM}
        heard = {p: sorted(rng.sample(range(MADE - 9000, END + 9000), 3)) for p in TEAM}
        cut = rng.randrange(MADE - 9000, END + 9000)
        whole = round_parts([kept], emptied, heard, TEAM, MADE - 19_800, END + 1)
        a = round_parts([kept], emptied, heard, TEAM, MADE - 19_800, cut)
        b = round_parts([kept], emptied, heard, TEAM, cut, END + 1)
        assert RoundParts(*(x + y for x, y in zip(a, b, strict=True))) == whole

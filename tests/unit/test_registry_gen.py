"""Generated registries load like the sample one, at any size, the same for the same seed."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from sangsach.registry_file import parse_registry
from sangsach.registry_gen import LATITUDE, LONGITUDE, generate


def people(data: dict[str, Any]) -> list[dict[str, str]]:
    heads = [village["head"] for village in data["villages"]]
    members = [member for team in data["teams"] for member in team["members"]]
    return heads + members


def test_generated_registry_loads_with_the_counts_asked_for() -> None:
    commune = parse_registry(generate(7, 20, 5, seed=3), source="generated")
    devices = list(commune.devices())
    assert len(commune.villages) == 7
    assert sum(d.kind == "lamp" for d in devices) == 7 * 20
    assert sum(d.kind == "bin" for d in devices) == 7 * 5
    assert len({d.id for d in devices}) == len(devices)
    assert [v.name for v in commune.villages] == [f"Thôn {n}" for n in range(1, 8)]
    assert {v.id for v in commune.villages} == {v for t in commune.teams for v in t.villages}


def test_thousands_of_devices() -> None:
    commune = parse_registry(generate(12, 150, 30, seed=1))
    devices = list(commune.devices())
    assert len(devices) == 12 * 180
    assert all(abs(d.lat - LATITUDE) < 0.1 and abs(d.lon - LONGITUDE) < 0.1 for d in devices)


def test_phone_numbers_are_written_as_vietnamese_mobiles() -> None:
    data = yaml.safe_load(generate(6, 2, 2, seed=9))
    phones = [person["phone"] for person in people(data)]
    assert phones
    assert all(re.fullmatch(r"09\d{8}", phone) for phone in phones)


def test_every_fourth_village_runs_a_part_night_programme() -> None:
    commune = parse_registry(generate(8, 3, 2, seed=2))
    with_programme = [v.name for v in commune.villages if v.lighting]
    assert with_programme == ["Thôn 4", "Thôn 8"]


def test_same_seed_same_text_and_another_seed_another() -> None:
    assert generate(3, 10, 4, seed=5) == generate(3, 10, 4, seed=5)
    assert generate(3, 10, 4, seed=5) != generate(3, 10, 4, seed=6)


def test_a_village_may_have_no_lamps_or_no_bins() -> None:
    commune = parse_registry(generate(2, 0, 3, seed=1))
    assert {d.kind for d in commune.devices()} == {"bin"}
    commune = parse_registry(generate(2, 4, 0, seed=1))
    assert {d.kind for d in commune.devices()} == {"lamp"}


@pytest.mark.parametrize(("villages", "lamps", "bins"), [(0, 1, 1), (1, -1, 1), (1, 1, -2)])
def test_refuses_impossible_sizes(villages: int, lamps: int, bins: int) -> None:
    with pytest.raises(ValueError):
        generate(villages, lamps, bins, seed=1)

"""Line protocol for InfluxDB: escaping, field types and the per-reading timestamp."""

from __future__ import annotations

from sangsach.backend.domain.readings import StatusEvent, StoredReading
from sangsach.backend.timeseries.influx import reading_line, status_line, timestamp_ns
from sangsach.contract.limits import MAX_COUNTER

T0 = 1_700_000_000


def reading(boot: int = 3, seq: int = 42, **tags: str) -> StoredReading:
    return StoredReading(
        device_id=tags.get("device", "lamp-01"),
        kind="lamp",
        village_id=tags.get("village", "thon-1"),
        place_id=tags.get("place", "cho-1"),
        boot=boot,
        seq=seq,
        ts=T0,
        synced=False,
        values={"on": True, "current_a": 2, "voltage_v": 230.5, "lux": None, "rssi": -70},
    )


def test_a_lamp_reading_becomes_one_typed_line() -> None:
    assert reading_line(reading()) == (
        "lamp,device=lamp-01,place=cho-1,village=thon-1 "
        "boot=3i,current_a=2,on=true,rssi=-70i,seq=42i,synced=false,voltage_v=230.5 "
        "1700000000003000042"
    )


def test_awkward_tag_values_are_escaped() -> None:
    line = reading_line(reading(village="xom 1,bac", place="a=b"))

    assert line.startswith("lamp,device=lamp-01,place=a\\=b,village=xom\\ 1\\,bac boot=")


def test_a_status_is_one_line_at_its_second() -> None:
    assert status_line(StatusEvent("bin-07", False, T0)) == (
        "status,device=bin-07 online=false 1700000000000000000"
    )


def test_the_timestamp_stays_within_the_readings_second() -> None:
    latest = timestamp_ns(reading(boot=MAX_COUNTER, seq=MAX_COUNTER))

    assert T0 * 10**9 <= latest < (T0 + 1) * 10**9


def test_the_timestamp_orders_readings_of_one_second_by_boot_then_seq() -> None:
    keys = [(boot, seq) for boot in (0, 1, 998) for seq in (0, 1, 999_998)]

    assert sorted(keys, key=lambda key: timestamp_ns(reading(*key))) == keys

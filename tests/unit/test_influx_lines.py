"""Line protocol for InfluxDB: escaping, field types and the per-reading timestamp."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client.client.write.point import Point

from sangsach.backend.domain.readings import StatusEvent, StoredReading
from sangsach.backend.timeseries.influx import (
    _common_lamp_line,
    _line,
    _plain_line,
    reading_line,
    status_line,
    timestamp_ns,
)
from sangsach.backend.timeseries.port import STORED_WHEN_TRUE, stored_values
from sangsach.contract.limits import BIN_SENSORS, MAX_COUNTER

T0 = 1_700_000_000


def as_written(r: StoredReading) -> dict[str, Any]:
    """The reading's stored values as InfluxDB is given them: a flag only when true."""
    return {
        k: v for k, v in stored_values(r).items() if v is not False or k not in STORED_WHEN_TRUE
    }


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


def test_sensor_errors_are_a_string_field_in_the_contracts_order() -> None:
    values: dict[str, Any] = {"temp_c": 81.5, "sensor_errors": ["tilt", "ultrasonic"]}
    r = StoredReading("bin-01", "bin", "thon-1", "cho-1", 7, 9, T0, True, values)
    assert reading_line(r) == (
        "bin,device=bin-01,place=cho-1,village=thon-1 boot=7i,"
        'sensor_errors="ultrasonic,tilt",seq=9i,temp_c=81.5 1700000000007000009'
    )


def test_the_timestamp_stays_within_the_readings_second() -> None:
    latest = timestamp_ns(reading(boot=MAX_COUNTER, seq=MAX_COUNTER))

    assert T0 * 10**9 <= latest < (T0 + 1) * 10**9


def test_the_timestamp_orders_readings_of_one_second_by_boot_then_seq() -> None:
    keys = [(boot, seq) for boot in (0, 1, 998) for seq in (0, 1, 999_998)]

    assert sorted(keys, key=lambda key: timestamp_ns(reading(*key))) == keys


_ids = st.text(alphabet='abc -=,\\"é1', min_size=1, max_size=12)
_floats = st.floats(allow_nan=True, allow_infinity=True) | st.none()


@given(
    device=_ids, village=_ids, place=_ids, boot=st.integers(0, MAX_COUNTER),
    seq=st.integers(0, MAX_COUNTER), on=st.booleans(), current=_floats,
    voltage=_floats, lux=_floats, rssi=st.integers(-120, 0) | st.none(),
)  # fmt: skip
def test_the_fast_reading_line_is_the_line_point_writes(
    device: str, village: str, place: str, boot: int, seq: int, on: bool,
    current: float | None, voltage: float | None, lux: float | None, rssi: int | None,
) -> None:  # fmt: skip
    r = StoredReading(
        device, "lamp", village, place, boot, seq, T0, True,
        {"on": on, "current_a": current, "voltage_v": voltage, "lux": lux, "rssi": rssi},
    )  # fmt: skip
    fields = {"boot": boot, "seq": seq, **as_written(r)}  # synced: left out when true
    tags = {"device": device, "village": village, "place": place}
    point = Point.from_dict({"measurement": "lamp", "tags": tags, "fields": fields,
                             "time": timestamp_ns(r)})  # fmt: skip

    assert reading_line(r) == point.to_line_protocol()


_finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    device=_ids | st.just("lamp-thon-1-0001"), village=_ids | st.just("thon-1"),
    place=_ids | st.just("thon-1-ngo-3"), boot=st.integers(0, MAX_COUNTER),
    seq=st.integers(0, MAX_COUNTER), on=st.booleans(), fault=st.booleans(), current=_finite,
    voltage=_finite, lux=_finite, rssi=st.integers(-120, 0) | st.none(), synced=st.booleans(),
)  # fmt: skip
def test_the_common_lamp_line_in_one_step_is_the_line_point_writes(
    device: str, village: str, place: str, boot: int, seq: int, on: bool, fault: bool,
    current: float, voltage: float, lux: float, rssi: int | None, synced: bool,
) -> None:  # fmt: skip
    """The common lamp reading (every value present, floats finite) takes the one-step line;
    it is Point's line, and a reading not synced takes the field-by-field way to the same."""
    values: dict[str, Any] = {"on": on, "current_a": current, "voltage_v": voltage, "lux": lux,
                              "fault": fault, "rssi": rssi, "sensor_errors": None}  # fmt: skip
    r = StoredReading(device, "lamp", village, place, boot, seq, T0, synced, values)
    fields = {"boot": boot, "seq": seq, **as_written(r)}
    if not synced:
        fields["synced"] = False
    tags = {"device": device, "village": village, "place": place}
    point = Point.from_dict({"measurement": "lamp", "tags": tags, "fields": fields,
                             "time": timestamp_ns(r)})  # fmt: skip
    assert reading_line(r) == point.to_line_protocol()
    assert (_common_lamp_line(r, values) is None) is not synced


# Any number for any field: the line types each as stored_values does (an int lux is a float).
_numbers = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _floats


@given(
    fill=_numbers, distance=_numbers, battery=_numbers, temp=_numbers, tilt=_numbers,
    rssi=st.none() | st.booleans() | st.integers(-127, 0) | st.floats(-127, 0),  # an int field
    synced=st.booleans(),
    # A string field: the sensors' names as the ingest gives them, or as a list, or awkward text.
    errors=st.none() | st.lists(st.sampled_from(BIN_SENSORS), unique=True, max_size=4) | _ids,
)  # fmt: skip
def test_the_fast_line_types_a_bin_readings_values_as_point_does(
    fill: Any, distance: Any, battery: Any, temp: Any, tilt: Any, rssi: Any, synced: bool,
    errors: Any,
) -> None:  # fmt: skip
    values = {"fill_pct": fill, "distance_cm": distance, "battery_v": battery, "temp_c": temp,
              "tilt_deg": tilt, "rssi": rssi, "sensor_errors": errors}  # fmt: skip
    r = StoredReading("bin-01", "bin", "thon-1", "cho-1", 7, 9, T0, synced, values)
    fields = {"boot": 7, "seq": 9, **({} if synced else {"synced": False}), **as_written(r)}
    tags = {"device": "bin-01", "village": "thon-1", "place": "cho-1"}
    point = Point.from_dict({"measurement": "bin", "tags": tags, "fields": fields,
                             "time": timestamp_ns(r)})  # fmt: skip

    assert reading_line(r) == point.to_line_protocol()


_names = st.text(alphabet='abc_-.:1 ,=\\"é#', max_size=6)
_values = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _floats | _names
_measurements = _names.filter(lambda m: m != "" and not m.startswith("#"))  # "#": a comment


@given(
    measurement=_measurements, tags=st.dictionaries(_names, _names, max_size=3),
    fields=st.dictionaries(_names, _values, max_size=4), time_ns=st.integers(0, 2**62),
)  # fmt: skip
def test_every_line_is_the_line_point_writes(
    measurement: str, tags: dict[str, str], fields: dict[str, Any], time_ns: int
) -> None:
    # Plain names and values are written directly, the rest by Point: the same line either way.
    point = Point.from_dict(
        {"measurement": measurement, "tags": tags, "fields": fields, "time": time_ns}
    )
    assert _line(measurement, tags, fields, time_ns) == point.to_line_protocol()


def test_plain_lines_are_written_without_point() -> None:
    fields: dict[str, Any] = {
        "lat": 20.5,
        "lon": 106.0,
        "state": "lit",
        "n": 3,
        "ok": True,
        "x": None,
    }
    line = _plain_line("device", {"village": "thon-1", "device": "lamp-01"}, fields, 7)
    assert (
        line == 'device,device=lamp-01,village=thon-1 lat=20.5,lon=106,n=3i,ok=true,state="lit" 7'
    )
    assert _plain_line("device", {"device": "a b"}, {"x": 1}, 7) is None

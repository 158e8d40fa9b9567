"""One contract, two adapters: every test runs on SQLite and on a real influxd."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from sangsach.backend.domain.readings import (
    AlertEvent,
    DailyScore,
    DevicePoint,
    StatusEvent,
    StoredReading,
    Value,
)
from sangsach.backend.timeseries import (
    TimeSeriesError,
    TimeSeriesStore,
    TimeSeriesUnavailable,
    influx,
)
from sangsach.backend.timeseries.influx import InfluxStore
from sangsach.backend.timeseries.port import stored_values
from sangsach.backend.timeseries.sqlite import SqliteStore
from sangsach.localbroker import free_port
from tests.services import InfluxD

pytestmark = pytest.mark.integration

T0 = 1_700_000_000
# Tag values line protocol and InfluxQL must escape: space, comma, equals, quote, backslash.
AWKWARD = "xom 1, o'ha=2 \\ ben"
LAMP_VALUES: dict[str, Value] = {
    "on": True,
    "current_a": 0.42,
    "voltage_v": 228.5,
    "lux": None,
    "fault": False,
    "rssi": -67,
    "sensor_errors": None,
}
BIN_VALUES: dict[str, Value] = {
    "fill_pct": 73.5,
    "distance_cm": 31.25,
    "battery_v": None,
    "temp_c": 29.0,
    "tilt_deg": 0.0,
    "rssi": None,
    "sensor_errors": None,
}


def lamp(
    device: str = "lamp-01", *, boot: int = 1, seq: int = 0, ts: int = T0, village: str = "thon-1"
) -> StoredReading:
    return StoredReading(device, "lamp", village, "cho-1", boot, seq, ts, True, dict(LAMP_VALUES))


def bin_(
    device: str = "bin-01", *, boot: int = 1, seq: int = 0, ts: int = T0, village: str = "thon-1"
) -> StoredReading:
    return StoredReading(device, "bin", village, "cho-1", boot, seq, ts, False, dict(BIN_VALUES))


def influx_store(server: InfluxD) -> Iterator[TimeSeriesStore]:
    db = f"contract_{uuid4().hex}"
    with InfluxStore(server.url, db) as store:
        store.ensure_ready()
        yield store
    server.query(f'DROP DATABASE "{db}"', db)


def sqlite_store(path: Path) -> Iterator[TimeSeriesStore]:
    with SqliteStore(path / "timeseries.sqlite") as store:
        store.ensure_ready()
        yield store


@pytest.fixture(params=["sqlite", "influxdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "influxdb":
        yield from influx_store(request.getfixturevalue("influxd"))
    else:
        yield from sqlite_store(tmp_path)


@pytest.fixture(params=["sqlite", "influxdb"])
def unreachable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    """A store whose engine cannot be reached: a closed port, a file that cannot be opened."""
    if request.param == "influxdb":
        dead: TimeSeriesStore = InfluxStore(f"http://127.0.0.1:{free_port()}", "sangsach")
    else:
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("", encoding="utf-8")
        dead = SqliteStore(blocker / "timeseries.sqlite")
    with dead:
        yield dead


def test_round_trip_keeps_every_field_none_and_type(store: TimeSeriesStore) -> None:
    written = [
        StoredReading("lamp-01", "lamp", AWKWARD, AWKWARD, 4, 17, T0, True, dict(LAMP_VALUES)),
        StoredReading("bin-01", "bin", "thon-2", "cho-2", 0, 0, T0 + 5, False, dict(BIN_VALUES)),
    ]
    store.write(written)

    for reading in written:
        (got,) = store.readings(reading.device_id)
        # As stored: a lamp's fault only when true (STORED_WHEN_TRUE), the rest as written.
        stored = replace(reading, values=stored_values(reading))
        assert got == stored
        # Equality alone hides 29 == 29.0 and 0 == False; the stored types must survive too.
        assert {k: type(v) for k, v in got.values.items()} == {
            k: type(v) for k, v in stored.values.items()
        }


def test_a_lamp_s_fault_reads_back_true_or_false(store: TimeSeriesStore) -> None:
    """A flag false unless set (STORED_WHEN_TRUE): InfluxDB writes it only when true; every
    read gives it back true or false, None counting as false."""
    flags = [False, True, False, None, True]
    store.write(
        [StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, seq, T0 + seq, True,
                       {"on": True, "fault": fault}) for seq, fault in enumerate(flags)]
    )  # fmt: skip
    expected = [False, True, False, False, True]
    assert [r.values["fault"] for r in store.readings("lamp-01")] == expected
    assert [f for _, f in store.series("lamp", ["lamp-01"], ("fault",))["lamp-01"]] == expected
    both = store.series("lamp", ["lamp-01"], ("on", "fault"))["lamp-01"]
    assert [(on, fault) for _, on, fault in both] == [(True, f) for f in expected]
    assert store.last_before("lamp", ["lamp-01"], ("fault",), T0 + 4) == {
        "lamp-01": (T0 + 3, False)
    }


def test_a_bin_reading_without_its_fill_keeps_its_other_fields_and_sensor_errors(
    store: TimeSeriesStore,
) -> None:
    """A bin on fire whose echo failed: no fill level (no point in that series), the rest kept;
    the failed sensors as text, in the contract's order."""
    fire = {**BIN_VALUES, "fill_pct": None, "distance_cm": None, "temp_c": 81.5,
            "sensor_errors": "ultrasonic,battery"}  # fmt: skip
    written = [
        bin_(seq=0, ts=T0),
        StoredReading("bin-01", "bin", "thon-1", "cho-1", 1, 1, T0 + 60, True, fire),
        StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, 0, T0, True,
                      {**LAMP_VALUES, "lux": None, "sensor_errors": "lux"}),
    ]  # fmt: skip
    store.write(written)

    got = store.readings("bin-01")
    assert [r.values for r in got] == [written[0].values, fire]
    assert store.readings("lamp-01")[0].values["sensor_errors"] == "lux"
    rows = store.series("bin", ["bin-01"], ("fill_pct", "temp_c", "sensor_errors"))["bin-01"]
    assert rows == [(T0, 73.5, 29.0, None), (T0 + 60, None, 81.5, "ultrasonic,battery")]
    # The fill level alone: the reading without one is no sample (or a None, which callers skip).
    fills = store.series("bin", ["bin-01"], ("fill_pct",))["bin-01"]
    assert [row for row in fills if row[1] is not None] == [(T0, 73.5)]
    assert store.last_before("bin", ["bin-01"], ("temp_c",), T0 + 61)["bin-01"] == (T0 + 60, 81.5)


def test_a_sqlite_table_made_before_sensor_errors_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "timeseries.sqlite"
    with SqliteStore(path) as store:
        store.ensure_ready()
    with sqlite3.connect(path) as db:  # as an older version made it
        for table in ("lamp_readings", "bin_readings"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN sensor_errors")
    with SqliteStore(path) as store:
        store.ensure_ready()
        store.write([StoredReading("bin-01", "bin", "t", "c", 1, 0, T0, True,
                                   {"temp_c": 80.0, "sensor_errors": "ultrasonic"})])  # fmt: skip
        assert store.readings("bin-01")[0].values["sensor_errors"] == "ultrasonic"


def test_each_reading_keeps_its_clock_flag_within_one_series(store: TimeSeriesStore) -> None:
    # InfluxDB is written the flag only when false: a series mixing both must read back exact.
    flags = [True, False, True, True, False]
    store.write(
        [StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, seq, T0 + seq, synced, {"on": True})
         for seq, synced in enumerate(flags)]
    )  # fmt: skip

    assert [r.synced for r in store.readings("lamp-01")] == flags


def test_a_point_written_with_synced_true_reads_back_synced(influxd: InfluxD) -> None:
    """Points written before the flag was left out when true carry ``synced=true``."""
    for store in influx_store(influxd):
        assert isinstance(store, InfluxStore)
        old = "lamp,device=lamp-01,place=cho-1,village=thon-1 boot=1i,on=true,seq=0i,synced=true"
        store._write_lines([f"{old} {T0 * 10**9}"])  # the line as the adapter once wrote it

        [got] = store.readings("lamp-01")
        assert got.synced is True
        assert got.values["on"] is True


def test_a_point_written_with_fault_false_reads_back_so(influxd: InfluxD) -> None:
    """Points written before the flag was left out when false carry ``fault=false``: not a
    fault, as None is."""
    for store in influx_store(influxd):
        assert isinstance(store, InfluxStore)
        old = "lamp,device=lamp-01,place=cho-1,village=thon-1 boot=1i,fault=false,on=true,seq=0i"
        store._write_lines([f"{old} {T0 * 10**9}"])  # the line as the adapter once wrote it

        [got] = store.readings("lamp-01")
        assert got.values["fault"] is False and got.values["on"] is True


def test_fields_left_out_read_back_as_none(store: TimeSeriesStore) -> None:
    store.write(
        [StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, 0, T0, True, {"on": False})]
    )

    (got,) = store.readings("lamp-01")
    # but a flag false unless set (STORED_WHEN_TRUE): false
    assert got.values == {name: None for name in LAMP_VALUES} | {"on": False, "fault": False}


def test_an_integer_for_a_float_field_is_stored_as_float(store: TimeSeriesStore) -> None:
    # InfluxDB fixes a field's type at first write: an integer lux would refuse every float lux.
    first = StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, 0, T0, True, {"lux": 120})
    then = StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, 1, T0, True, {"lux": 120.5})
    store.write([first])
    store.write([then])

    lux = [reading.values["lux"] for reading in store.readings("lamp-01")]
    assert lux == [120.0, 120.5]
    assert all(type(value) is float for value in lux)


def test_unknown_field_is_refused(store: TimeSeriesStore) -> None:
    reading = StoredReading("lamp-01", "lamp", "thon-1", "cho-1", 1, 0, T0, True, {"fill_pct": 3.0})
    with pytest.raises(ValueError, match="fill_pct"):
        store.write([reading])


def test_rewriting_a_batch_stores_each_reading_once(store: TimeSeriesStore) -> None:
    batch = [lamp(seq=seq, ts=T0 + seq) for seq in range(10)]
    store.write(batch)
    store.write(batch)
    store.write([*batch[5:], lamp(seq=10, ts=T0 + 10)])

    assert store.count() == 11
    assert store.readings("lamp-01") == [*batch, lamp(seq=10, ts=T0 + 10)]


def test_many_readings_of_one_device_in_one_second_are_all_kept(store: TimeSeriesStore) -> None:
    batch = [lamp(boot=boot, seq=seq) for boot in (7, 8) for seq in range(300)]
    store.write(batch)

    assert store.count(device_id="lamp-01") == 600
    assert store.readings("lamp-01") == batch


def test_a_batch_larger_than_one_request_is_stored_whole(store: TimeSeriesStore) -> None:
    batch = [bin_(f"bin-{n % 40:02d}", seq=n, ts=T0 + n) for n in range(12_000)]
    store.write(batch)

    assert store.count() == 12_000
    assert store.count(device_id="bin-07") == 300


def test_count_filters_by_kind_device_and_village(store: TimeSeriesStore) -> None:
    store.write(
        [
            *(lamp("lamp-01", seq=n, village="thon-1") for n in range(3)),
            *(lamp("lamp-02", seq=n, village="thon-2") for n in range(5)),
            *(bin_("bin-01", seq=n, village="thon-1") for n in range(7)),
            lamp("lamp-03", village=AWKWARD),
        ]
    )

    assert store.count() == 16
    assert store.count(kind="lamp") == 9
    assert store.count(kind="bin") == 7
    assert store.count(device_id="lamp-02") == 5
    assert store.count(village_id="thon-1") == 10
    assert store.count(village_id=AWKWARD) == 1
    assert store.count(kind="lamp", village_id="thon-1") == 3
    assert store.count(kind="bin", device_id="lamp-01") == 0
    assert store.count(device_id="nobody") == 0


def test_time_range_starts_inclusive_and_ends_exclusive(store: TimeSeriesStore) -> None:
    # boot 999 and seq ...999_999 push a reading to the very end of its second in InfluxDB.
    store.write(
        [
            lamp(boot=boot, seq=seq, ts=T0 + offset)
            for offset in range(4)
            for boot, seq in ((0, offset), (999, offset * 1_000_000 + 999_999))
        ]
    )

    assert store.count(start=T0 + 1) == 6
    assert store.count(end=T0 + 1) == 2
    assert store.count(start=T0 + 1, end=T0 + 3) == 4
    assert store.count(start=T0 + 2, end=T0 + 2) == 0
    got = store.readings("lamp-01", start=T0 + 1, end=T0 + 2)
    assert [(r.ts, r.boot, r.seq) for r in got] == [(T0 + 1, 0, 1), (T0 + 1, 999, 1_999_999)]


def test_readings_are_ordered_by_ts_boot_seq_and_limited(store: TimeSeriesStore) -> None:
    expected = [
        lamp(boot=boot, seq=10 * ts + n, ts=T0 + ts)
        for ts in range(5)
        for boot in (2, 3)
        for n in range(4)
    ]
    shuffled = expected.copy()
    random.Random(7).shuffle(shuffled)
    store.write(shuffled)
    store.write([lamp("lamp-02"), bin_("bin-01")])

    assert store.readings("lamp-01") == expected
    assert store.readings("lamp-01", limit=7) == expected[:7]
    assert store.readings("lamp-01", start=T0 + 3) == expected[24:]
    assert store.readings("nobody") == []


def test_keys_of_a_device_in_a_range(store: TimeSeriesStore) -> None:
    store.write([lamp(boot=1, seq=s, ts=T0 + s) for s in range(5)] + [lamp("lamp-02", seq=9)])
    assert store.keys("lamp-01") == {(1, s) for s in range(5)}
    assert store.keys("lamp-01", start=T0 + 1, end=T0 + 3) == {(1, 1), (1, 2)}
    assert store.keys("nobody") == set()


def test_statuses_keep_one_event_per_device_and_second(store: TimeSeriesStore) -> None:
    store.write_statuses(
        [
            StatusEvent("lamp-01", True, T0),
            StatusEvent("lamp-01", False, T0 + 60),
            StatusEvent("lamp-02", True, T0 + 1),
        ]
    )
    store.write_statuses([StatusEvent("lamp-01", True, T0 + 60), StatusEvent("lamp-01", True, T0)])

    assert store.statuses("lamp-01") == [
        StatusEvent("lamp-01", True, T0),
        StatusEvent("lamp-01", True, T0 + 60),
    ]
    assert store.statuses("lamp-01", start=T0 + 1) == [StatusEvent("lamp-01", True, T0 + 60)]
    assert store.statuses("lamp-01", end=T0 + 60) == [StatusEvent("lamp-01", True, T0)]
    assert store.statuses("lamp-02") == [StatusEvent("lamp-02", True, T0 + 1)]


def test_ensure_ready_again_keeps_the_data(store: TimeSeriesStore) -> None:
    store.write([lamp()])
    store.ensure_ready()

    assert store.readings("lamp-01") == [lamp()]


def test_unknown_kind_is_refused(store: TimeSeriesStore) -> None:
    with pytest.raises(ValueError, match="'streetlight'"):
        store.count(kind="streetlight")


def test_writes_from_many_threads_are_all_kept(store: TimeSeriesStore) -> None:
    def write_device(n: int) -> None:
        for first in range(0, 200, 20):
            store.write([lamp(f"lamp-{n:02d}", seq=seq) for seq in range(first, first + 20)])
            store.count(device_id=f"lamp-{n:02d}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write_device, range(8)))

    assert store.count() == 1600


OPERATIONS: dict[str, Callable[[TimeSeriesStore], object]] = {
    "ensure_ready": lambda store: store.ensure_ready(),
    "write": lambda store: store.write([lamp()]),
    "write_statuses": lambda store: store.write_statuses([StatusEvent("lamp-01", True, T0)]),
    "count": lambda store: store.count(),
    "readings": lambda store: store.readings("lamp-01"),
    "statuses": lambda store: store.statuses("lamp-01"),
    "keys": lambda store: store.keys("lamp-01"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_unreachable_store_raises_a_retryable_error(
    unreachable: TimeSeriesStore, operation: str
) -> None:
    with pytest.raises(TimeSeriesUnavailable) as caught:
        OPERATIONS[operation](unreachable)
    assert caught.value.__cause__ is not None


def test_influxdb_refusal_is_not_retryable_and_carries_its_reason(influxd: InfluxD) -> None:
    store = InfluxStore(influxd.url, f"missing_{uuid4().hex}")
    with store, pytest.raises(TimeSeriesError) as caught:
        store.write([lamp()])

    assert not isinstance(caught.value, TimeSeriesUnavailable)
    assert "database not found" in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


def test_alert_events_are_kept_once_in_order(store: TimeSeriesStore) -> None:
    opened = AlertEvent(7, "lamp-01", "thon-1", "lamp_fault", "opened", T0)
    cleared = AlertEvent(7, "lamp-01", "thon-1", "lamp_fault", "cleared", T0 + 60)
    other = AlertEvent(8, "bin-01", "thon-2", "bin_full", "opened", T0 + 30)
    store.write_alert_events([cleared, opened, other])
    store.write_alert_events([opened])
    assert store.alert_events() == [opened, other, cleared]
    assert store.alert_events(start=T0 + 1, end=T0 + 60) == [other]


def test_daily_scores_are_replaced_when_a_day_is_written_again(store: TimeSeriesStore) -> None:
    day = T0 - T0 % 86_400
    first = DailyScore("thon-1", day, {"sang_pct": 91.5, "overflow_h": 0.0, "sang_meets": False})
    other = DailyScore("thon-2", day, {"sang_pct": 99.0, "overflow_h": 1.5, "sang_meets": True})
    store.write_daily_scores([first, other])
    store.write_daily_scores([first])
    assert store.daily_scores() == [first, other]
    again = DailyScore("thon-1", day, {"sang_pct": 96.0, "overflow_h": 0.0, "sang_meets": True})
    store.write_daily_scores([again])
    assert store.daily_scores(start=day, end=day + 1) == [again, other]
    assert store.daily_scores(start=day + 1) == []


def test_device_points_keep_one_per_device_and_second(store: TimeSeriesStore) -> None:
    lit = DevicePoint("lamp-01", "lamp", "thon-1", 20.70125, 106.21075, "lit", T0)
    full = DevicePoint("bin-01", "bin", "thon-2", 20.7, 106.2, "bin_full", T0 + 30)
    store.write_device_points([full, lit])
    store.write_device_points([lit])
    assert store.device_points() == [lit, full]
    off = DevicePoint("lamp-01", "lamp", "thon-1", 20.70125, 106.21075, "off", T0)
    store.write_device_points([off])  # the same device and second: replaced
    assert store.device_points(start=T0, end=T0 + 30) == [off]
    assert store.device_points(start=T0 + 31) == []


def test_series_gives_what_readings_give_as_plain_tuples(
    store: TimeSeriesStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(influx, "IDS_PER_QUERY", 2)  # several InfluxQL queries, merged
    variants: list[dict[str, Value]] = [
        dict(LAMP_VALUES),
        {"on": False, "current_a": 0.0, "fault": None},
        {"on": None, "current_a": None, "fault": True, "lux": 12.0},
        {**LAMP_VALUES, "current_a": 3},
    ]
    lamps = [
        StoredReading(device, "lamp", "thon-1", "cho-1", boot, seq, T0 + seq // 2, True, values)
        for device in ("lamp-01", AWKWARD, "lamp-03")
        for boot in (3, 2)  # two readings in each second, boot 2 first
        for seq, values in enumerate(variants)
    ]
    random.Random(3).shuffle(lamps)
    store.write([*lamps, bin_(), bin_(seq=1, ts=T0 + 5), bin_("bin-02", seq=2, ts=T0 + 1)])
    lamp_ids = ["lamp-01", AWKWARD, "lamp-03", "nobody", "bin-01"]
    names = ("on", "current_a", "fault", "lux")

    def expected(device: str, names: tuple[str, ...], **window: int) -> list[tuple[Value, ...]]:
        rows = store.readings(device, **window)
        return [(r.ts, *(r.values[n] for n in names)) for r in rows if r.kind == "lamp"]

    got = store.series("lamp", lamp_ids, names)
    assert list(got) == lamp_ids
    for device in lamp_ids:
        assert got[device] == expected(device, names)
    assert len(got["lamp-01"]) == 8 and got["nobody"] == got["bin-01"] == []
    assert store.series("lamp", ["lamp-01"], ("lux",), start=T0 + 1, end=T0 + 2) == {
        "lamp-01": [(T0 + 1, 12.0), (T0 + 1, None), (T0 + 1, 12.0), (T0 + 1, None)]  # boot, seq
    }
    lamp_03 = store.series("lamp", ["lamp-03"], (), start=T0 + 1, end=T0 + 2)["lamp-03"]
    assert lamp_03 == [(T0 + 1,)] * 4
    bins = store.series("bin", ["bin-01", "bin-02", "lamp-01"], ("fill_pct",), start=T0)
    assert bins == {
        "bin-01": [(T0, 73.5), (T0 + 5, 73.5)],
        "bin-02": [(T0 + 1, 73.5)],
        "lamp-01": [],
    }
    assert store.series("bin", [], ("fill_pct",)) == {}


def test_series_within_windows_keeps_only_their_readings_in_order(store: TimeSeriesStore) -> None:
    # Two readings in every second, boot 3 written first: the stored order is not (ts, boot).
    store.write(
        [
            StoredReading(device, "lamp", "thon-1", "cho-1", boot, seq, T0 + seq, True,
                          {"on": seq % 3 == 0, "current_a": float(100 * boot + seq)})
            for boot in (3, 2)
            for device in ("lamp-01", AWKWARD)
            for seq in range(20)
        ]
    )  # fmt: skip
    ids = ["lamp-01", AWKWARD, "nobody"]
    names = ("on", "current_a")
    everything = store.series("lamp", ids, names)
    windows = [(T0 - 5, T0 + 2), (T0 + 4, T0 + 5), (T0 + 5, T0 + 7), (T0 + 12, T0 + 30)]

    def inside(lo: int, hi: int) -> dict[str, list[tuple[object, ...]]]:
        return {
            device: [r for r in rows if lo <= r[0] < hi and any(a <= r[0] < b for a, b in windows)]
            for device, rows in everything.items()
        }

    got = store.series("lamp", ids, names, within=windows)
    assert got == inside(T0, T0 + 20)
    assert len(got["lamp-01"]) == 2 * (2 + 3 + 8)
    assert [r[2] for r in got[AWKWARD] if r[0] == T0 + 1] == [201.0, 301.0]  # boot 2 first
    cut = store.series("lamp", ids, names, start=T0 + 1, end=T0 + 13, within=windows)
    assert cut == inside(T0 + 1, T0 + 13)
    assert store.series("lamp", ids, names, within=[(T0 + 20, T0 + 40)]) == {d: [] for d in ids}
    assert store.series("lamp", ids, names, start=T0 + 3, end=T0 + 4, within=windows) == {
        d: [] for d in ids
    }
    assert store.series("lamp", ids, names, within=[]) == {d: [] for d in ids}
    for wrong in ([(T0 + 5, T0 + 7), (T0 + 4, T0 + 6)], [(T0 + 3, T0 + 3)]):
        with pytest.raises(ValueError, match="windows"):
            store.series("lamp", ids, names, within=wrong)


def test_series_refuses_a_field_of_another_kind_and_an_unknown_kind(store: TimeSeriesStore) -> None:
    with pytest.raises(ValueError, match="fill_pct"):
        store.series("lamp", ["lamp-01"], ("on", "fill_pct"))
    with pytest.raises(ValueError, match="kind"):
        store.series("pump", ["lamp-01"], ())  # type: ignore[arg-type]


def test_last_before_is_the_latest_reading_before_however_old(store: TimeSeriesStore) -> None:
    year = 365 * 86_400
    store.write([
        bin_("bin-01", seq=1, ts=T0 - year), bin_("bin-01", seq=2, ts=T0 - 10),
        bin_("bin-01", seq=3, ts=T0), bin_(AWKWARD, seq=1, ts=T0 - year),
        lamp("lamp-01", seq=1, ts=T0 - 5),
    ])  # fmt: skip
    ids = ["bin-01", AWKWARD, "nobody"]
    assert store.last_before("bin", ids, ("fill_pct",), T0) == {
        "bin-01": (T0 - 10, 73.5), AWKWARD: (T0 - year, 73.5), "nobody": None,
    }  # fmt: skip
    assert store.last_before("bin", ids, ("fill_pct",), T0 - 10) == {
        "bin-01": (T0 - year, 73.5), AWKWARD: (T0 - year, 73.5), "nobody": None,
    }  # fmt: skip
    assert store.last_before("bin", ["lamp-01"], ("fill_pct",), T0 + 1) == {"lamp-01": None}
    with pytest.raises(ValueError, match="fill_pct"):
        store.last_before("lamp", ["lamp-01"], ("fill_pct",), T0)


def test_first_seen_is_the_first_reading_of_the_kind(store: TimeSeriesStore) -> None:
    store.write([
        lamp("lamp-01", seq=2, ts=T0 + 60), lamp("lamp-01", seq=1, ts=T0 - 3600),
        lamp(AWKWARD, seq=1, ts=T0), bin_("bin-01", seq=1, ts=T0 - 7200),
    ])  # fmt: skip
    assert store.first_seen("lamp", ["lamp-01", AWKWARD, "bin-01", "nobody"]) == {
        "lamp-01": T0 - 3600, AWKWARD: T0, "bin-01": None, "nobody": None,
    }  # fmt: skip


def test_daily_sums_add_up_the_rows_of_the_range_with_the_last_values(
    store: TimeSeriesStore,
) -> None:
    day = 86_400
    rows = [
        DailyScore("thon-1", T0, {"a_s": 10, "n": 1, "hh": 100, "pct": 50.0}),
        DailyScore("thon-1", T0 + day, {"a_s": 20, "n": 0, "hh": 120, "pct": None}),
        DailyScore("thon-1", T0 + 2 * day, {"a_s": 5, "n": 2, "hh": 130, "pct": 1.0}),
        DailyScore("thon-2", T0 + day, {"a_s": 7, "n": 3, "hh": 9, "pct": 2.0}),
        DailyScore("thon-3", T0, {"pct": 97.0}),  # a row of the first wave: no parts
    ]
    store.write_daily_scores(rows)
    found = store.daily_sums(("a_s", "n"), ("hh",), start=T0, end=T0 + 2 * day)
    assert {v: (s.days, s.sums, s.last) for v, s in found.items()} == {
        "thon-1": (2, {"a_s": 30, "n": 1}, {"hh": 120}),
        "thon-2": (1, {"a_s": 7, "n": 3}, {"hh": 9}),
    }  # thon-3's row has none of the summed fields: no row to sum
    assert store.daily_sums(("a_s",), ("hh",), start=T0 + 3 * day, end=T0 + 4 * day) == {}


def test_influx_rollups_keep_a_year_per_shard_even_on_an_older_database(influxd: InfluxD) -> None:
    db = f"contract_{uuid4().hex}"
    influxd.query(f'CREATE DATABASE "{db}"', db)
    influxd.query(f'CREATE RETENTION POLICY "rollups" ON "{db}" DURATION INF REPLICATION 1', db)
    try:
        with InfluxStore(influxd.url, db) as store:
            store.ensure_ready()
            shown = influxd.query(f'SHOW RETENTION POLICIES ON "{db}"', db)
        series = shown["results"][0]["series"][0]  # type: ignore[index]
        rows = [dict(zip(series["columns"], v, strict=True)) for v in series["values"]]
        [rollups] = [r for r in rows if r["name"] == "rollups"]
        assert (rollups["duration"], rollups["shardGroupDuration"]) == ("0s", "8736h0m0s")
    finally:
        influxd.query(f'DROP DATABASE "{db}"', db)

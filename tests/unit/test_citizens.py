"""Citizens' reports in pieces: reading texts loosely against the sample commune's codes and
villages, the SMS they get (GSM-7, one segment, whatever the village), the form's stamps."""

from __future__ import annotations

import pytest

from sangsach.backend.citizens.form import FormGuard, FormRefused, form_key
from sangsach.backend.citizens.parse import Reader, Target, cut, lamp_codes, plain
from sangsach.backend.citizens.service import MESSAGES, OWN_SMS, sms_text
from sangsach.backend.notify.text import fits_one_segment
from sangsach.registry_file import SAMPLE_REGISTRY, Commune, load_registry

COMMUNE = load_registry(SAMPLE_REGISTRY)
READER = Reader(COMMUNE)


@pytest.mark.parametrize(
    ("text", "kind", "code", "village"),
    [
        ("RAC P1", "rac", "P1", "dong-ha"),
        ("rác p1", "rac", "P1", "dong-ha"),
        ("Rac: P-1 tràn", "rac", "P1", "dong-ha"),
        ("RACP1", "rac", "P1", "dong-ha"),
        ("RAC 3", "rac", "P3", "dong-ha"),
        ("  rac  p03 ", "rac", "P3", "dong-ha"),
        ("DEN D15", "den", "D15", "dong-ha"),
        ("đèn 15 hỏng", "den", "D15", "dong-ha"),
        ("Đèn số 5", "den", "D5", "dong-ha"),
        ("rac D3", "den", "D3", "dong-ha"),  # a lamp's code is a lamp, whatever the keyword
        ("Đèn ngõ Chùa thôn Đông Hạ tắt", "den", None, "dong-ha"),
        ("Dong Ha rac tran", "rac", None, "dong-ha"),
        ("Thôn Phú Khê cống tắc", "khac", None, "phu-khe"),
        ("phu khe: DEN hong", "den", None, "phu-khe"),
    ],
)
def test_reports_are_read_loosely(text: str, kind: str, code: str | None, village: str) -> None:
    read = READER.read(text)
    assert read is not None
    assert (read.kind, read.code, read.village_id) == (kind, code, village)
    assert (read.target is not None) == (code is not None)


@pytest.mark.parametrize("text", ["RAC P999", "DEN D9999", "RAC ZZ1"])
def test_an_unknown_code_is_read_as_unknown(text: str) -> None:
    read = READER.read(text)
    assert read is not None and read.unknown_code


@pytest.mark.parametrize("text", ["", "alo", "OK 3", "XONG P1", "RAC", "DEN 12345", "x" * 5000])
def test_texts_naming_nothing_are_no_report(text: str) -> None:
    assert READER.read(text) is None


def test_every_lamp_and_point_has_one_code() -> None:
    lamps = lamp_codes(COMMUNE)
    lamp_count = sum(len(lane.lamps) for v in COMMUNE.villages for lane in v.lanes)
    point_count = sum(len(v.points) for v in COMMUNE.villages)
    assert len(set(lamps.values())) == lamp_count
    assert len(READER.targets) == lamp_count + point_count
    assert READER.targets["D1"].device_ids == (COMMUNE.villages[0].lanes[0].lamps[0].id,)


def _table(commune: Commune) -> dict[str, Target]:
    """The codes' table as it was built before it was made on demand: village by village, a
    village's points then its lamps, a later code replacing an earlier one."""
    found: dict[str, Target] = {}
    points, lamps = commune.point_codes(), lamp_codes(commune)
    for v in commune.villages:
        for p in v.points:
            found[points[p.id]] = Target(
                "rac", points[p.id], p.id, p.name, v.id, v.name, tuple(b.id for b in p.bins)
            )
        for lane in v.lanes:
            for lamp in lane.lamps:
                code = lamps[lamp.id]
                found[code] = Target("den", code, lane.id, lane.name, v.id, v.name, (lamp.id,))
    return found


def _with_point_code(commune: Commune, village: int, code: str) -> Commune:
    v = commune.villages[village]
    point = v.points[0].model_copy(update={"code": code})
    changed = v.model_copy(update={"points": [point, *v.points[1:]]})
    villages = list(commune.villages)
    villages[village] = changed
    return commune.model_copy(update={"villages": villages})


@pytest.mark.parametrize(
    ("village", "code"),
    [(None, None), (0, "D2"), (1, "D2"), (0, "D99999"), (1, "AB12"), (0, "D02")],
)
def test_the_codes_name_what_the_table_named(village: int | None, code: str | None) -> None:
    """The codes found on demand are the table's: each code, their number, and a point's own
    code that is also a lamp's naming the later of the two in the registry's order."""
    commune = COMMUNE if village is None else _with_point_code(COMMUNE, village, str(code))
    table, codes = _table(commune), Reader(commune).targets
    assert len(codes) == len(table) and set(codes) == set(table)
    assert {c: codes[c] for c in codes} == table
    for missing in ["D0", "D01", f"D{len(table) + 1}", "P0", "DX", "D", "", "D١"]:
        assert missing not in codes and codes.get(missing) is None


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_every_sms_fits_one_gsm7_segment_whatever_the_village(message: str) -> None:
    for village in [v.name for v in COMMUNE.villages] + ["Thôn " + "Đ" * 35]:  # 40, the most
        what = f"cột đèn D9999, {village}"
        text = sms_text(message, id="999999", what=what, code="ABC1234", n="99")
        assert fits_one_segment(text, "gsm7"), text
        # and every text we send is recognised as ours when it comes back
        if message != "ack" or len(village) < 30:
            assert OWN_SMS.match(plain(text)), text


def test_a_report_keeps_500_characters_on_one_line() -> None:
    kept = cut("a\nb " + "x" * 1000)
    assert len(kept) == 500 and "\n" not in kept and kept.startswith("a b ")


def test_the_forms_stamp_is_ours_old_enough_fresh_and_used_once() -> None:
    guard = FormGuard(form_key("secret"))
    stamp = guard.stamp(1000.0)
    with pytest.raises(FormRefused, match="quá nhanh"):
        guard.check(stamp, "", 1001.0)
    guard.check(stamp, "", 1010.0)
    with pytest.raises(FormRefused, match="đã được gửi rồi"):
        guard.check(stamp, "", 1011.0)
    with pytest.raises(FormRefused, match="quá lâu"):
        guard.check(guard.stamp(1000.0), "", 1000.0 + 3 * 3600)
    other = FormGuard(form_key("another secret")).stamp(1000.0)
    with pytest.raises(FormRefused, match="không hợp lệ"):
        guard.check(other, "", 1010.0)
    seconds, nonce, mac = guard.stamp(1000.0).split(".")
    with pytest.raises(FormRefused, match="không hợp lệ"):  # an older time, the same MAC
        guard.check(f"{int(seconds) - 60}.{nonce}.{mac}", "", 1010.0)
    with pytest.raises(FormRefused) as honeypot:
        guard.check(guard.stamp(1000.0), "http://spam.example", 1010.0)
    assert honeypot.value.field == "website"
    for junk in ("", "abc", "1.2", "." * 100, "x" * 5000):
        with pytest.raises(FormRefused):
            guard.check(junk, "", 1010.0)

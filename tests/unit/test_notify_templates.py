"""SMS text: Vietnamese transliteration, segment lengths, and every template in one segment."""

from __future__ import annotations

import unicodedata
from functools import cache
from itertools import product
from pathlib import Path
from typing import get_args

import pytest

from sangsach.backend.notify.templates import (
    PROBLEMS,
    TEMPLATES,
    Kind,
    TemplateError,
    placeholders,
    render,
    required_fields,
    templates_table,
)
from sangsach.backend.notify.text import (
    GSM7_BASIC,
    Encoding,
    fits_one_segment,
    is_gsm7,
    message_length,
    to_gsm7,
)
from sangsach.registry_file import SAMPLE_REGISTRY, load_registry

DOC = Path(__file__).parents[2] / "docs" / "sms.md"
ENCODINGS: tuple[Encoding, ...] = ("gsm7", "ucs2")

# Each base vowel, then its five tones: huyền, sắc, hỏi, ngã, nặng.
VOWELS = {
    "a": "aàáảãạ",
    "ă": "ăằắẳẵặ",
    "â": "âầấẩẫậ",
    "e": "eèéẻẽẹ",
    "ê": "êềếểễệ",
    "i": "iìíỉĩị",
    "o": "oòóỏõọ",
    "ô": "ôồốổỗộ",
    "ơ": "ơờớởỡợ",
    "u": "uùúủũụ",
    "ư": "ưừứửữự",
    "y": "yỳýỷỹỵ",
}
BASE = {"ă": "a", "â": "a", "ê": "e", "ô": "o", "ơ": "o", "ư": "u"}


@pytest.mark.parametrize("vowel", VOWELS)
def test_every_vowel_form_loses_its_tone_hat_horn_and_breve(vowel: str) -> None:
    forms = VOWELS[vowel]
    assert len(forms) == 6 and unicodedata.is_normalized("NFC", forms)
    plain = BASE.get(vowel, vowel)
    assert to_gsm7(forms) == plain * 6
    assert to_gsm7(forms.upper()) == plain.upper() * 6
    # The same letters typed decomposed (base letter + combining marks), as some phones send.
    assert to_gsm7(unicodedata.normalize("NFD", forms)) == plain * 6


def test_d_with_stroke_and_whole_sentences() -> None:
    assert to_gsm7("đĐ") == "dD"
    assert to_gsm7("Đường trục thôn Đông Hạ") == "Duong truc thon Dong Ha"
    assert to_gsm7("Tổ thu gom rác số 1 – Chi Lăng Bắc") == "To thu gom rac so 1 - Chi Lang Bac"
    assert to_gsm7("KHẨN: thùng rác nóng bất thường, nghi cháy") == (
        "KHAN: thung rac nong bat thuong, nghi chay"
    )


def test_characters_outside_the_basic_set_are_replaced_sensibly() -> None:
    assert to_gsm7("“Ngõ” ‘Chùa’…") == "\"Ngo\" 'Chua'..."
    assert to_gsm7("[A] {B} a~b a|b €5\tx") == "(A) (B) a-b a/b EUR5 x"
    assert to_gsm7("Điểm 北 ✓") == "Diem ? ?"
    assert to_gsm7("£$@_!?") == "£$@_!?"  # in the basic set: kept


def test_gsm7_lengths_count_extension_characters_twice() -> None:
    assert is_gsm7("a[b]€") and not is_gsm7("á")
    assert message_length("a[b]€", "gsm7") == 8
    assert fits_one_segment("x" * 160, "gsm7") and not fits_one_segment("x" * 161, "gsm7")
    assert not fits_one_segment("x" * 159 + "[", "gsm7")
    assert not fits_one_segment("đ", "gsm7")
    with pytest.raises(ValueError, match="not GSM-7"):
        message_length("đ", "gsm7")


def test_ucs2_lengths_are_utf16_code_units() -> None:
    assert message_length("Đèn", "ucs2") == 3
    assert message_length("😀", "ucs2") == 2
    assert fits_one_segment("ầ" * 70, "ucs2") and not fits_one_segment("ầ" * 71, "ucs2")


def test_the_kinds_and_their_fields_agree() -> None:
    assert set(TEMPLATES) == set(get_args(Kind))
    for kind, template in TEMPLATES.items():
        # One set of fields per kind, whatever the encoding: the compact form uses fewer.
        assert placeholders(template.compact) <= placeholders(template.full), kind
    alert_kinds = set(TEMPLATES) - {"reminder", "escalation", "digest"}
    assert set(PROBLEMS) == alert_kinds


def _longest(names: list[str]) -> str:
    return max(names, key=len)


@cache
def _sample_names() -> dict[str, str]:
    commune = load_registry(SAMPLE_REGISTRY)
    places = [lane.name for v in commune.villages for lane in v.lanes]
    places += [point.name for v in commune.villages for point in v.points]
    return {
        "village": _longest([v.name for v in commune.villages]),
        "place": _longest(places),
        "device": _longest([d.id for d in commune.devices()]),
    }


LONG = "Điểm tập kết rác thải sinh hoạt liên thôn Phú Khê – Đông Hạ B"[:60]
ARTIFICIAL = {"village": LONG, "place": LONG[::-1], "device": "x" * 60}
WORST_CODE = "999999"


def _fields(names: dict[str, str]) -> dict[str, str]:
    return {
        **names,
        "code": WORST_CODE,
        "type": max(PROBLEMS, key=lambda kind: len(PROBLEMS[kind])),
        "count": "99",
        "codes": " ".join([WORST_CODE] * 8),
    }


@pytest.mark.parametrize(
    ("kind", "encoding", "names"),
    [
        (kind, encoding, names)
        for kind, encoding in product(TEMPLATES, ENCODINGS)
        for names in ("sample", "artificial")
    ],
)
def test_every_template_fits_one_segment_with_the_longest_names(
    kind: Kind, encoding: Encoding, names: str
) -> None:
    fields = _fields(_sample_names() if names == "sample" else ARTIFICIAL)
    message = render(kind, encoding, **fields)
    assert fits_one_segment(message, encoding), message
    if encoding == "gsm7":
        assert set(message) <= GSM7_BASIC, message
    else:
        assert unicodedata.is_normalized("NFC", message)
    # The code and the reply instructions are whole, whatever was shortened.
    if kind == "digest":
        reply = "Nhắn OK/XONG <mã>" if encoding == "ucs2" else "Tra loi OK <ma> khi nhan, XONG"
        assert WORST_CODE in message and reply in message
    elif encoding == "ucs2":
        assert message.endswith(f"Nhắn OK/XONG {WORST_CODE}")
    else:
        assert f"Ma {WORST_CODE}." in message
        assert f"Tra loi OK {WORST_CODE} khi nhan, XONG {WORST_CODE} khi " in message


def test_sample_names_are_kept_whole_in_gsm7_when_codes_are_short() -> None:
    names = _sample_names()
    message = render("lamp_fault", "gsm7", **names, code="1234")
    expected = "Den {device} ({place}, {village}) khong sang. Ma 1234. ".format(
        **{name: to_gsm7(value) for name, value in names.items()}
    )
    assert message == expected + "Tra loi OK 1234 khi nhan, XONG 1234 khi sua xong."


def test_long_names_are_cut_in_the_middle_and_the_code_never() -> None:
    message = render(
        "fire", "ucs2", place="Điểm tập kết rác thải số 12", village=LONG, device="b", code="4711"
    )
    assert message.startswith("KHẨN, nghi cháy: Điểm tậ")
    assert "số 12" in message and ".." in message
    assert message.endswith("Nhắn OK/XONG 4711")


def test_a_digest_drops_codes_it_cannot_show_and_says_how_many() -> None:
    codes = [f"{n:06d}" for n in range(1, 21)]
    message = render("digest", "ucs2", count="20", codes=" ".join(codes), place="p", village="v")
    shown = message.split(": ")[1].split(". ")[0].split()
    more = int(shown.pop().removeprefix("+"))
    assert shown == codes[: len(shown)] and len(shown) + more == 20


def test_rendering_in_diacritics_keeps_them() -> None:
    message = render(
        "bin_full", "ucs2", device="bin-1", place="Điểm số 2", village="Thôn Lạc Dục", code="77"
    )
    assert message == "Thùng rác đầy: Điểm số 2, Thôn Lạc Dục. Nhắn OK/XONG 77"


def test_a_newline_in_a_name_does_not_break_the_message() -> None:
    message = render("bin_full", "gsm7", device="b\n1", place="Ngõ\nChùa", village="V", code="1")
    assert "\n" not in message and "Ngo Chua" in message


@pytest.mark.parametrize(
    ("kind", "fields", "error"),
    [
        ("sunburn", {}, "no SMS template for kind 'sunburn'"),
        ("lamp_fault", {"device": "d", "place": "p"}, "lamp_fault: missing field(s) code, village"),
        (
            "lamp_fault",
            {"device": "d", "place": "p", "village": "v", "code": "12a"},
            "not 1 to 6 digits",
        ),
        (
            "lamp_fault",
            {"device": "d", "place": "p", "village": "v", "code": "1234567"},
            "not 1 to 6",
        ),
        (
            "reminder",
            {"device": "d", "place": "p", "village": "v", "code": "1", "type": "x"},
            "unknown alert type 'x'",
        ),
        ("digest", {"count": "2", "codes": "1 b", "place": "p", "village": "v"}, "codes '1 b'"),
    ],
)
def test_bad_fields_are_refused_naming_the_kind(
    kind: str, fields: dict[str, str], error: str
) -> None:
    with pytest.raises(TemplateError, match=error.replace("(", r"\(").replace(")", r"\)")):
        render(kind, "gsm7", **fields)  # type: ignore[arg-type]


def test_a_message_that_cannot_fit_is_refused_naming_the_kind() -> None:
    with pytest.raises(TemplateError, match=r"digest: .* do not fit one ucs2 segment of 70"):
        render("digest", "ucs2", count="9" * 40, codes="1", place="p", village="v")


def test_docs_show_the_current_templates() -> None:
    assert templates_table() in DOC.read_text(encoding="utf-8"), (
        "paste templates_table() into docs/sms.md"
    )


def test_required_fields_name_type_for_the_problem() -> None:
    assert required_fields("escalation") == {"type", "device", "place", "village", "code"}
    assert required_fields("digest") == {"count", "codes", "place", "village"}

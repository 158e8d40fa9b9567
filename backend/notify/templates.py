"""Vietnamese SMS templates, one per kind, and rendering them into exactly one segment.

Each kind has two forms, both written with diacritics (the source of truth):

- ``full``: sent as GSM-7, transliterated by ``to_gsm7`` ("không dấu"); 160 septets leave
  room for the device, the place and clear reply instructions.
- ``compact``: sent as UCS-2 when diacritics are switched on; 70 characters only leave room
  for the problem, the place and the code, so it names no device.

Fields are strings. ``code`` is an alert code (digits); ``codes`` is several, separated by
spaces; ``count`` is a number; ``type`` is an alert kind, shown as ``{problem}`` in words.
When a message is too long the names (device, place, village) are shortened in the middle,
longest first, down to ``MIN_NAME`` characters; then a digest drops codes from the end of its
list and says how many more there are. A code is never cut.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from .text import Encoding, fits_one_segment, message_length, segment_limit, to_gsm7

Kind = Literal[
    "lamp_fault",
    "day_burning",
    "cycling",
    "device_offline",
    "bin_full",
    "bin_overflow",
    "bin_overdue",
    "fire",
    "tilted",
    "battery_low",
    "sensor_fault",
    "reminder",
    "escalation",
    "digest",
]

CODE: Final = re.compile(r"[0-9]{1,6}")  # alert ids: short enough to type on a keypad
MIN_NAME: Final = 8
NAME_FIELDS: Final = ("device", "place", "village")
ELLIPSIS: Final = ".."
_FIELD: Final = re.compile(r"(\{\w+\})")


@dataclass(frozen=True, slots=True)
class Template:
    full: str
    compact: str


TEMPLATES: Final[dict[str, Template]] = {
    "lamp_fault": Template(
        "Đèn {device} ({place}, {village}) không sáng. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi sửa xong.",
        "Đèn không sáng: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "day_burning": Template(
        "Đèn {device} ({place}, {village}) sáng ban ngày. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi sửa xong.",
        "Đèn sáng ban ngày: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "cycling": Template(
        "Đèn {device} ({place}, {village}) chập chờn, bật tắt liên tục. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi sửa xong.",
        "Đèn chập chờn: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "device_offline": Template(
        "Thiết bị {device} ({place}, {village}) mất kết nối. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi sửa xong.",
        "Mất kết nối: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "bin_full": Template(
        "Thùng rác {device} ({place}, {village}) đã đầy. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi thu gom xong.",
        "Thùng rác đầy: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "bin_overflow": Template(
        "Thùng rác {device} ({place}, {village}) bị tràn, cần thu gom ngay. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi thu gom xong.",
        "Thùng rác tràn: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "bin_overdue": Template(
        "Thùng rác {device} ({place}, {village}) đầy quá hạn, chưa được thu gom. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi thu gom xong.",
        "Rác đầy quá hạn: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "fire": Template(
        "KHẨN: thùng rác {device} ({place}, {village}) nóng bất thường, nghi cháy. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi xử lý xong.",
        "KHẨN, nghi cháy: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "tilted": Template(
        "Thùng rác {device} ({place}, {village}) bị đổ hoặc bị dịch chuyển. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi xử lý xong.",
        "Thùng rác bị đổ: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "battery_low": Template(
        "Thiết bị {device} ({place}, {village}) sắp hết pin. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi thay pin xong.",
        "Sắp hết pin: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "sensor_fault": Template(
        "Thiết bị {device} ({place}, {village}) bị lỗi cảm biến. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi sửa xong.",
        "Lỗi cảm biến: {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "reminder": Template(
        "Nhắc lại: {problem}, {device} ({place}, {village}) chưa có ai nhận. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi xong.",
        "Nhắc: {problem}, {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "escalation": Template(
        "Báo cáo: {problem}, {device} ({place}, {village}) chưa được xử lý. Mã {code}. "
        "Trả lời OK {code} khi nhận, XONG {code} khi xong.",
        "Chưa xử lý: {problem}, {place}, {village}. Nhắn OK/XONG {code}",
    ),
    "digest": Template(
        "{count} cảnh báo mới, mã: {codes}. Gấp nhất: {place}, {village}. "
        "Trả lời OK <mã> khi nhận, XONG <mã> khi xong.",
        "{count} cảnh báo: {codes}. Nhắn OK/XONG <mã>",
    ),
}

# An alert kind in words, for reminders and escalations (their ``type`` field).
PROBLEMS: Final[dict[str, str]] = {
    "lamp_fault": "đèn không sáng",
    "day_burning": "đèn sáng ban ngày",
    "cycling": "đèn chập chờn",
    "device_offline": "mất kết nối",
    "bin_full": "thùng rác đầy",
    "bin_overflow": "thùng rác tràn",
    "bin_overdue": "rác đầy quá hạn",
    "fire": "nghi cháy",
    "tilted": "thùng rác bị đổ",
    "battery_low": "sắp hết pin",
    "sensor_fault": "lỗi cảm biến",
}


class TemplateError(ValueError):
    """A message cannot be rendered: unknown kind, a missing or bad field, or too long."""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def required_fields(kind: str) -> set[str]:
    """The fields a caller passes for ``kind``: ``{problem}`` is filled from ``type``."""
    template = _template(kind)
    names = placeholders(template.full) | placeholders(template.compact)
    return {"type" if name == "problem" else name for name in names}


def render(kind: Kind, encoding: Encoding, **fields: str) -> str:
    """The text of one SMS of ``kind``, fitting one segment of ``encoding``.

    Raises TemplateError naming the kind when a field is missing or malformed, or when the
    message cannot fit even with the names at ``MIN_NAME`` and one code in a digest.
    """
    template = _template(kind)
    values = _checked(kind, fields)
    text = template.compact if encoding == "ucs2" else template.full
    widths: dict[str, int] = {
        name: len(values[name]) for name in NAME_FIELDS if name in placeholders(text)
    }
    codes = values["codes"].split() if "codes" in values else []
    kept = len(codes)
    while True:
        shown: dict[str, str] = {n: _shorten(values[n], width) for n, width in widths.items()}
        if codes:
            more = len(codes) - kept
            shown["codes"] = " ".join(codes[:kept]) + (f" +{more}" if more else "")
        message = _finish(text.format(**{**values, **shown}), encoding)
        if fits_one_segment(message, encoding):
            return message
        longest = max(
            (n for n, w in widths.items() if w > MIN_NAME), key=widths.__getitem__, default=None
        )
        if longest is not None:
            widths[longest] -= 1
        elif kept > 1:
            kept -= 1
        else:
            raise TemplateError(
                f"{kind}: {message_length(message, encoding)} characters do not fit one "
                f"{encoding} segment of {segment_limit(encoding)}, even with shortened names"
            )


def _template(kind: str) -> Template:
    try:
        return TEMPLATES[kind]
    except KeyError:
        raise TemplateError(f"no SMS template for kind {kind!r}") from None


def _checked(kind: str, fields: dict[str, str]) -> dict[str, str]:
    required = required_fields(kind)
    missing = required - fields.keys()
    if missing:
        raise TemplateError(f"{kind}: missing field(s) {', '.join(sorted(missing))}")
    # One line each (a newline in a registry name would break the message apart), and
    # composed, so that a name's length is its length on the phone.
    values = {
        name: unicodedata.normalize("NFC", " ".join(value.split()))
        for name, value in fields.items()
    }
    if "code" in values and not CODE.fullmatch(values["code"]):
        raise TemplateError(f"{kind}: code {values['code']!r} is not 1 to 6 digits")
    if "codes" in values:
        codes = values["codes"].split()
        if not codes or not all(CODE.fullmatch(code) for code in codes):
            raise TemplateError(f"{kind}: codes {values['codes']!r} are not 1 to 6 digits each")
    if "count" in values and not values["count"].isdigit():
        raise TemplateError(f"{kind}: count {values['count']!r} is not a number")
    if "type" in required:
        if values["type"] not in PROBLEMS:
            raise TemplateError(f"{kind}: unknown alert type {values['type']!r}")
        values["problem"] = PROBLEMS[values["type"]]
    return values


def _shorten(name: str, width: int) -> str:
    """Cut the middle of a name: both "Điểm tập kết" and "số 5" tell places apart."""
    if len(name) <= width:
        return name
    keep = width - len(ELLIPSIS)
    head, tail = (keep + 1) // 2, keep // 2
    return name[:head].rstrip() + ELLIPSIS + name[len(name) - tail :].lstrip()


def _finish(message: str, encoding: Encoding) -> str:
    # UCS-2 counts code units: a decomposed "ế" (e + two marks) would cost three.
    return to_gsm7(message) if encoding == "gsm7" else unicodedata.normalize("NFC", message)


def templates_table() -> str:
    """The Markdown table of docs/sms.md: each template, its GSM-7 form, and their lengths."""
    lines = [
        "| kind | Vietnamese (source) | GSM-7 form sent | septets | UCS-2 form | units |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, template in TEMPLATES.items():
        gsm7 = "".join(
            part if _FIELD.fullmatch(part) else to_gsm7(part)
            for part in _FIELD.split(template.full)
        )
        lines.append(
            f"| `{kind}` | `{template.full}` | `{gsm7}` | {_bare_length(gsm7, 'gsm7')} "
            f"| `{template.compact}` | {_bare_length(template.compact, 'ucs2')} |"
        )
    return "\n".join(lines)


def _bare_length(text: str, encoding: Encoding) -> int:
    """Length of a template without its placeholders: what the fields have left to share."""
    return message_length(_FIELD.sub("", text), encoding)

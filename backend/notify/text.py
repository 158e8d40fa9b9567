"""SMS text: Vietnamese without diacritics ("không dấu") for GSM-7, and segment lengths.

A GSM-7 segment holds 160 septets; a character of the extension table (``[ ] { } ~ ...``)
takes two. A UCS-2 segment holds 70 UTF-16 code units. A message that needs more is split by
the phone network into several segments, each billed, and reassembled badly by some basic
phones: every message here must fit one.
"""

from __future__ import annotations

import unicodedata
from typing import Final, Literal

Encoding = Literal["gsm7", "ucs2"]

# GSM 03.38 default alphabet, without the escape to the extension table (0x1B).
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION: Final = frozenset("\f^{}\\[~]|€")
_GSM7_ANY: Final = GSM7_BASIC | GSM7_EXTENSION

_SEGMENT_LIMIT: Final[dict[Encoding, int]] = {"gsm7": 160, "ucs2": 70}

# After the marks are stripped: Vietnamese letters without a decomposition, then common
# punctuation outside the basic set. Extension characters are replaced too, so that a GSM-7
# text from to_gsm7 never spends two septets on one character.
_REPLACEMENTS: Final = str.maketrans(
    {
        "đ": "d",
        "Đ": "D",
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
        "‘": "'",
        "’": "'",
        "`": "'",
        "“": '"',
        "”": '"',
        "\t": " ",
        "[": "(",
        "]": ")",
        "{": "(",
        "}": ")",
        "~": "-",
        "|": "/",
        "\\": "/",
        "€": "EUR",
        "•": "-",
        "·": "-",
    }
)


class _DropMarks(dict[int, int | None]):
    """A ``str.translate`` table that drops combining marks, filled as characters are met."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_MARKS: Final = _DropMarks()


def to_gsm7(text: str) -> str:
    """Vietnamese text without diacritics, in the GSM-7 basic set.

    NFKD splits every Vietnamese vowel into its base letter and combining marks (tone, hat,
    horn, breve), which are dropped: "Đường trục thôn" becomes "Duong truc thon". It also
    spells out compatibility forms ("…" as "...", a no-break space as a space). What is still
    outside the basic set after that becomes "?".
    """
    # Tables and set operations: an alert storm renders thousands of messages in one batch.
    replaced = unicodedata.normalize("NFKD", text).translate(_MARKS).translate(_REPLACEMENTS)
    if GSM7_BASIC.issuperset(replaced):
        return replaced
    return "".join(char if char in GSM7_BASIC else "?" for char in replaced)


def is_gsm7(text: str) -> bool:
    """Every character is in the GSM-7 basic set or its extension table."""
    return _GSM7_ANY.issuperset(text)


def segment_limit(encoding: Encoding) -> int:
    return _SEGMENT_LIMIT[encoding]


def message_length(text: str, encoding: Encoding) -> int:
    """Septets for GSM-7 (an extension character counts two), UTF-16 code units for UCS-2."""
    if encoding == "ucs2":
        return len(text.encode("utf-16-le")) // 2
    if not is_gsm7(text):
        raise ValueError(f"not GSM-7 text: {text!r}")
    return len(text) + sum(text.count(char) for char in GSM7_EXTENSION)


def fits_one_segment(text: str, encoding: Encoding) -> bool:
    if encoding == "gsm7" and not is_gsm7(text):
        return False
    return message_length(text, encoding) <= segment_limit(encoding)

"""What a citizen's report is about, read loosely: ``RAC P12``, ``DEN D15``, or free text naming
a village.

Case, diacritics and punctuation do not matter ("rác p12", "Rac: P-12", "đèn 15 hỏng",
"RACP12"). A code of digits alone takes the keyword's letter (``RAC 12`` is ``P12``, ``DEN 15``
is ``D15``); a code of the other kind is taken as what it is (``RAC D15`` is lamp D15). Without
a code, the text is searched for a village's name, with or without its "Thôn"/"Xóm" ("đèn
ngõ chùa thôn Đông Hạ tắt", "Dong Ha rac tran").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from sangsach.registry_file import Commune, GatheringPoint, Lane, Village

from ..notify.text import to_gsm7

Kind = Literal["rac", "den", "khac"]
KINDS: Final[dict[str, str]] = {"rac": "Rác", "den": "Đèn", "khac": "Khác"}

LAMP_PREFIX: Final = "D"
POINT_PREFIX: Final = "P"
MAX_TEXT: Final = 500  # characters of a report kept; the rest is cut

_KEYED: Final = re.compile(
    r"(RAC|DEN)(?:\b|(?=[A-Z]{0,3}[0-9]))"
    r"(?:\s*(?:SO\s+|MA\s+)?(?:([A-Z]{1,3})\s*)?([0-9]{1,4})(?![0-9]))?\s*(.*)"
)
_LOOSE_WORD: Final = re.compile(r"\b(RAC|DEN)\b")
_VILLAGE_PREFIXES: Final = ("THON ", "XOM ", "LANG ", "AP ", "KHU ", "TO DAN PHO ")


@dataclass(frozen=True, slots=True)
class Target:
    """What a printed code names: a gathering point (its bins) or a lamp."""

    kind: Kind
    code: str
    place_id: str
    place_name: str
    village_id: str
    village_name: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Read:
    """A report read: its kind, the code it gave (known or not), the target the code names,
    the village (the target's, or the one the text names)."""

    kind: Kind
    code: str | None
    target: Target | None
    village_id: str | None

    @property
    def unknown_code(self) -> bool:
        return self.code is not None and self.target is None


def plain(text: str) -> str:
    """Upper case, no diacritics, words of letters and digits separated by one space."""
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", to_gsm7(text).upper()).split())


def lamp_codes(commune: Commune) -> dict[str, str]:
    """Each lamp's short code by its id: D and its number in the registry's order."""
    lamps = (lamp for v in commune.villages for lane in v.lanes for lamp in lane.lamps)
    return {lamp.id: f"{LAMP_PREFIX}{n}" for n, lamp in enumerate(lamps, start=1)}


class Codes(Mapping[str, Target]):
    """Every printed code of the commune, gathering points' and lamps', and what it names.

    The targets are made when a code is looked up, from the registry's own records: a table of
    a ``Target`` per lamp cost 20 MB at 80,000 lamps (docs/performance.md, "Issue 22"). Kept:
    a point per code and, per lane, the number of its first lamp (lamp ``D<n>`` is the n-th in
    the registry's order, ``lamp_codes``). Where a point's own code is also a lamp's, the one
    further down the registry names it (village by village, a village's points before its
    lamps), as when the table was built in that order."""

    def __init__(self, commune: Commune) -> None:
        codes = commune.point_codes()
        # code -> (its village's position, the village, the point)
        self._points: dict[str, tuple[int, Village, GatheringPoint]] = {}
        self._lanes: list[tuple[int, Village, Lane]] = []  # (village's position, ...) per lane
        self._firsts: list[int] = []  # the number of each lane's first lamp
        count = 0
        for n, village in enumerate(commune.villages):
            for point in village.points:
                self._points[codes[point.id]] = (n, village, point)
            for lane in village.lanes:
                if lane.lamps:
                    self._firsts.append(count + 1)
                    self._lanes.append((n, village, lane))
                    count += len(lane.lamps)
        self._lamps = count
        self._len = count + sum(1 for code in self._points if self._lamp_number(code) is None)

    def _lamp_number(self, code: str) -> int | None:
        """n for ``D<n>`` of a lamp there is (``D1``, not ``D01``), else None."""
        digits = code[len(LAMP_PREFIX) :]
        if not code.startswith(LAMP_PREFIX) or not (digits.isascii() and digits.isdigit()):
            return None
        n = int(digits)
        return n if str(n) == digits and 1 <= n <= self._lamps else None

    def _point(self, code: str) -> Target:
        _, village, point = self._points[code]
        return Target(
            "rac", code, point.id, point.name, village.id, village.name,
            tuple(b.id for b in point.bins),
        )  # fmt: skip

    def __getitem__(self, code: str) -> Target:
        n = self._lamp_number(code)
        if n is None:
            return self._point(code)  # KeyError: no such code
        k = bisect_right(self._firsts, n) - 1
        where, village, lane = self._lanes[k]
        point = self._points.get(code)
        if point is not None and point[0] > where:
            return self._point(code)
        lamp = lane.lamps[n - self._firsts[k]]
        return Target("den", code, lane.id, lane.name, village.id, village.name, (lamp.id,))

    def __iter__(self) -> Iterator[str]:
        yield from self._points
        for n in range(1, self._lamps + 1):
            code = f"{LAMP_PREFIX}{n}"
            if code not in self._points:
                yield code

    def __len__(self) -> int:
        return self._len


class Reader:
    """Reads reports against one commune's codes and village names."""

    def __init__(self, commune: Commune) -> None:
        self.targets = Codes(commune)
        # the longest names first: "Đông Hạ" must not be found inside "Đông Hạ Nam"
        names: list[tuple[str, str]] = []
        for village in commune.villages:
            for name in _village_names(village.name):
                names.append((name, village.id))
        self._names = sorted(names, key=lambda item: -len(item[0]))

    def code(self, kind: Kind, raw: str) -> tuple[str, Target | None]:
        """The code as printed (``P12``), and what it names (None: no such code)."""
        code = plain(raw).replace(" ", "")
        if code.isdigit():
            code = (LAMP_PREFIX if kind == "den" else POINT_PREFIX) + str(int(code))
        elif code[:1].isalpha():
            head = code.rstrip("0123456789")
            digits = code[len(head) :]
            code = head + (str(int(digits)) if digits else "")
        return code, self.targets.get(code)

    def village_in(self, text: str) -> str | None:
        words = f" {plain(text)} "
        for name, village_id in self._names:
            if f" {name} " in words:
                return village_id
        return None

    def read(self, text: str) -> Read | None:
        """The report in ``text``; None when it names neither a code nor a village."""
        words = plain(text)
        keyed = _KEYED.fullmatch(words)
        if keyed:
            kind: Kind = "rac" if keyed[1] == "RAC" else "den"
            if keyed[3] is not None:
                code, target = self.code(kind, (keyed[2] or "") + keyed[3])
                if target is not None:
                    return Read(target.kind, code, target, target.village_id)
                return Read(kind, code, None, self.village_in(keyed[4]))
            village = self.village_in(keyed[4])
            return Read(kind, None, None, village) if village else None
        village = self.village_in(words)
        if village is None:
            return None
        loose = _LOOSE_WORD.search(words)
        kind = "khac" if loose is None else ("rac" if loose[1] == "RAC" else "den")
        return Read(kind, None, None, village)


def _village_names(name: str) -> Iterator[str]:
    full = plain(name)
    yield full
    for prefix in _VILLAGE_PREFIXES:
        if full.startswith(prefix) and len(full) > len(prefix):
            yield full[len(prefix) :]


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """One line of at most ``limit`` characters: what a ticket keeps of a report."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def codes_of(targets: Iterable[Target], kind: Kind) -> list[Target]:
    """The targets of one kind in their codes' order: P1, P2, ..., P10."""
    chosen = [t for t in targets if t.kind == kind]
    return sorted(chosen, key=lambda t: (len(t.code), t.code))

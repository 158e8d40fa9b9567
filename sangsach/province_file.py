"""What one installation serves: one commune, or a province of communes (DESIGN.md, "Scale").

A province file names its communes and where each one's registry file is; each registry stays
the commune's own (its villages, devices, teams, thresholds, score formula, report heading,
festivals), edited by its office as at one commune. Since 2025 a commune belongs directly to
its province: there is no district level here.

    province:
      name: Hưng Yên
    scores:                              # optional: how the communes are ranked
      sang_target_pct: 95
    communes:
      - id: chi-lang-bac
        registry: chi-lang-bac.yaml      # relative to this file
      - id: nghia-dan
        registry: communes/nghia-dan.yaml

``SANGSACH_REGISTRY_FILE`` may name either kind: a commune's registry is a province of one.
Ids that the SQL registry, the topics and the SMS replies key on (villages, lanes and gathering
points, devices, teams) must be unique across the whole province; errors name the communes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .registry_file import Commune, RegistryFileError, ScoreFormula, Slug, load_registry

_STRICT = ConfigDict(extra="forbid", frozen=True)
# A province file has a top-level "communes:"; a commune's registry never has (extra=forbid).
_PROVINCE_KEY = re.compile(r"^communes\s*:", re.MULTILINE)


class ProvinceInfo(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=60)


class CommuneEntry(BaseModel):
    model_config = _STRICT

    id: Slug = Field(description="the commune's id: scopes its tokens and names it in URLs")
    registry: str = Field(min_length=1, description="its registry file, relative to this one")


class ProvinceFile(BaseModel):
    model_config = _STRICT

    province: ProvinceInfo
    scores: ScoreFormula = Field(
        default_factory=ScoreFormula,
        description="the formula the province ranks its communes by (each commune's villages "
        "keep their commune's); absent: the defaults",
    )
    communes: list[CommuneEntry] = Field(min_length=1, max_length=1000)


@dataclass(frozen=True)
class Province:
    """The communes of one installation, by id, in the file's order."""

    name: str
    communes: dict[str, Commune]
    formula: ScoreFormula = field(default_factory=ScoreFormula)  # ranking the communes
    # village id -> commune id, for everything keyed on villages (alerts, devices, scores)
    village_commune: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.village_commune:
            for commune_id, commune in self.communes.items():
                for village in commune.villages:
                    self.village_commune[village.id] = commune_id

    @property
    def several(self) -> bool:
        """More than one commune: the province's pages and scopes are in use."""
        return len(self.communes) > 1

    def first(self) -> tuple[str, Commune]:
        return next(iter(self.communes.items()))

    def commune_of(self, village_id: str) -> str | None:
        return self.village_commune.get(village_id)


def each_commune(what: Commune | Province) -> list[Commune]:
    """The communes of an installation, or the one commune given."""
    return list(what.communes.values()) if isinstance(what, Province) else [what]


def single(commune: Commune, commune_id: str = "xa") -> Province:
    """An installation of one commune."""
    return Province(commune.commune.province, {commune_id: commune}, commune.scores)


def commune_id_of(path: Path) -> str:
    """A lone commune's id: its file's name when that is a valid id (``chi-lang-bac``)."""
    stem = path.stem.lower()
    return stem if re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", stem) else "xa"


def load_installation(path: Path) -> Province:
    """The province or the lone commune of ``path``; raises ``RegistryFileError`` naming the
    file, the line or the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RegistryFileError(f"{path}: cannot read the registry file: {err.strerror}") from err
    if not _PROVINCE_KEY.search(text):
        return single(load_registry(path), commune_id_of(path))
    try:
        entries = ProvinceFile.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as err:
        raise RegistryFileError(f"{path}: not valid YAML: {err}") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise RegistryFileError(f"{path}: {where}: {first['msg']}") from err
    _no_duplicates(path, "commune id", ((e.id, e.id) for e in entries.communes))
    communes = {e.id: load_registry(path.parent / e.registry) for e in entries.communes}
    _unique_across(path, communes)
    return Province(entries.province.name, communes, entries.scores)


def _unique_across(path: Path, communes: dict[str, Commune]) -> None:
    kinds: dict[str, list[tuple[str, str]]] = {
        "village id": [], "device id": [], "team id": [], "lane or gathering point id": []
    }  # fmt: skip
    for commune_id, commune in communes.items():
        kinds["village id"] += [(v.id, commune_id) for v in commune.villages]
        kinds["device id"] += [(d.id, commune_id) for d in commune.devices()]
        kinds["team id"] += [(t.id, commune_id) for t in commune.teams]
        kinds["lane or gathering point id"] += [
            (place, commune_id)
            for village in commune.villages
            for place in [lane.id for lane in village.lanes] + [p.id for p in village.points]
        ]
    for what, pairs in kinds.items():
        _no_duplicates(path, what, iter(pairs))


def _no_duplicates(path: Path, what: str, pairs: Iterator[tuple[str, str]]) -> None:
    where: dict[str, list[str]] = {}
    counts: Counter[str] = Counter()
    for value, commune_id in pairs:
        counts[value] += 1
        where.setdefault(value, []).append(commune_id)
    repeated = sorted(value for value, n in counts.items() if n > 1)
    if repeated:
        shown = ", ".join(f"{v} ({' and '.join(where[v])})" for v in repeated[:5])
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise RegistryFileError(
            f"{path}: {what} used twice in the province: {shown}{more}; ids are unique across "
            "all its communes"
        )

"""The commune registry file: villages, gathering points, lamps, bins, teams and census.

One human-editable YAML file. Errors name the file, the line and the field, e.g.
``commune.yaml:41: villages[2].lanes[0].lamps[3].lat: Input should be less than or equal to 90``.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from .contract.limits import DEVICE_ID_PATTERN
from .contract.messages import LightingWindow
from .lunar import DEFAULT_NIGHTS, FestivalKey, parse_lunar_day

SAMPLE_REGISTRY = Path(__file__).with_name("data") / "chi-lang-bac.yaml"

_VN_PHONE = re.compile(r"^(?:\+84|84|0)([35789]\d{8})$")
_STRICT = ConfigDict(extra="forbid", frozen=True)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class Person(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=60)
    phone: str = Field(description="Vietnamese mobile number, stored as +84xxxxxxxxx")

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        match = _VN_PHONE.match(value.replace(" ", "").replace(".", ""))
        if not match:
            raise ValueError(f"{value!r} is not a Vietnamese mobile number such as 0912345678")
        return f"+84{match.group(1)}"


# More households than any village has is a typo; the bound also keeps the figures inside every
# database's integer column.
MAX_HOUSEHOLDS = 1_000_000


class Census(BaseModel):
    """Household counts from the commune's census, for the bin-coverage indicator."""

    model_config = _STRICT

    households: int = Field(ge=0, le=MAX_HOUSEHOLDS)
    main_road_households: int = Field(ge=0, le=MAX_HOUSEHOLDS)
    main_road_standard_bins: int = Field(
        ge=0, le=MAX_HOUSEHOLDS, description="households on main roads that have a standard bin"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # The error's context names both fields, so a form can name them in its own language.
        for field, limit in (
            ("main_road_households", "households"),
            ("main_road_standard_bins", "main_road_households"),
        ):
            if getattr(self, field) > getattr(self, limit):
                raise PydanticCustomError(
                    "census_exceeds", "{field} exceeds {limit}", {"field": field, "limit": limit}
                )
        return self


class _Active(BaseModel):
    """When a device counts: from ``installed`` to the day before ``removed``. Without
    ``installed``, a device counts from its first reading (docs/scores.md)."""

    model_config = _STRICT

    installed: date | None = Field(default=None, description="first day the device counts")
    removed: date | None = Field(default=None, description="first day it no longer counts")

    @model_validator(mode="after")
    def _installed_before_removed(self) -> Self:
        if self.installed and self.removed and self.removed <= self.installed:
            raise ValueError(f"removed {self.removed} is not after installed {self.installed}")
        return self


class Lamp(_Active):
    id: DeviceId
    lat: Latitude
    lon: Longitude
    watts: int = Field(default=40, ge=1, le=1000)


class Bin(_Active):
    id: DeviceId
    depth_cm: float = Field(ge=20, le=400)
    capacity_l: int = Field(default=660, ge=10, le=20_000)


def _kept_as(model: type[BaseModel]) -> Any:
    """The pydantic schema of a slim record: validated by ``model`` (same errors and JSON
    schema), then kept as the record; a record given as it is stays as it is."""

    def get_schema(cls: type[Any], source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        names = ("id", *(name for name in model.model_fields if name != "id"))

        def validate(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if isinstance(value, cls):
                return value
            checked = inner(value)
            # Device ids interned: the backend's tables of devices then share one string each.
            return cls(sys.intern(checked.id), *(getattr(checked, name) for name in names[1:]))

        return core_schema.no_info_wrap_validator_function(
            validate,
            handler.generate_schema(model),
            serialization=core_schema.plain_serializer_function_ser_schema(asdict),
        )

    return classmethod(get_schema)


@dataclass(frozen=True, slots=True)
class LampRecord:
    """A lamp as the commune keeps it once ``Lamp`` has validated it: a model costs about
    500 bytes more (50 MB at 100,000 devices)."""

    id: str
    installed: date | None
    removed: date | None
    lat: float
    lon: float
    watts: int

    __get_pydantic_core_schema__ = _kept_as(Lamp)


@dataclass(frozen=True, slots=True)
class BinRecord:
    """A bin as the commune keeps it once ``Bin`` has validated it."""

    id: str
    installed: date | None
    removed: date | None
    depth_cm: float
    capacity_l: int

    __get_pydantic_core_schema__ = _kept_as(Bin)


class Lane(BaseModel):
    model_config = _STRICT

    id: Slug
    name: str = Field(min_length=1, max_length=60)
    lamps: list[LampRecord] = Field(default_factory=list)


# One to three letters and digits, never digits alone: an alert's code is digits only.
PointCode = Annotated[str, Field(pattern=r"^[A-Z]{1,3}[0-9]{1,4}$")]


class Depot(BaseModel):
    """Where a crew starts and ends its round: its yard, or the commune office."""

    model_config = _STRICT

    lat: Latitude
    lon: Longitude


class GatheringPoint(BaseModel):
    model_config = _STRICT

    id: Slug
    name: str = Field(min_length=1, max_length=60)
    lat: Latitude
    lon: Longitude
    households_served: int = Field(ge=0, description="households that bring waste here")
    code: PointCode | None = Field(
        default=None,
        description="the short code printed at the point and sent back as XONG <code>; "
        "absent: P and the point's number in the file (P1, P2, ...)",
    )
    bins: list[BinRecord] = Field(min_length=1)


class AlertThresholds(BaseModel):
    """Alert thresholds set for the commune, or for one village; absent: the defaults.

    The names are those of the backend's ``alerts.model.Thresholds`` (a test keeps them equal).
    """

    model_config = _STRICT

    lamp_fault_debounce_s: int | None = Field(default=None, ge=0, le=86_400)
    day_burning_debounce_s: int | None = Field(default=None, ge=0, le=86_400)
    cycling_switches: int | None = Field(default=None, ge=2, le=1000)
    cycling_window_s: int | None = Field(default=None, ge=60, le=86_400)
    lamp_report_interval_s: int | None = Field(default=None, ge=10, le=86_400)
    bin_report_interval_s: int | None = Field(default=None, ge=60, le=86_400)
    offline_intervals: int | None = Field(default=None, ge=1, le=100)
    min_lit_current_a: float | None = Field(default=None, ge=0, le=50)
    bin_full_pct: float | None = Field(default=None, ge=10, le=100)
    bin_overflow_pct: float | None = Field(default=None, ge=10, le=100)
    bin_emptied_drop_pct: float | None = Field(default=None, ge=5, le=100)
    collection_sla_s: int | None = Field(default=None, ge=600, le=30 * 86_400)
    fire_temp_c: float | None = Field(default=None, ge=30, le=125)
    tilt_deg: float | None = Field(default=None, ge=5, le=180)
    battery_low_v: float | None = Field(default=None, ge=0, le=15)
    sensor_fault_debounce_s: int | None = Field(default=None, ge=0, le=7 * 86_400)

    def overrides(self) -> dict[str, float]:
        return self.model_dump(exclude_none=True)


class ScoreFormula(BaseModel):
    """The commune's targets, weights and coverage floor for the scores and the ranking
    (docs/scores.md); printed on every report and page that ranks."""

    model_config = _STRICT

    sang_target_pct: float = Field(default=95.0, gt=0, le=100)
    collection_target_pct: float = Field(default=90.0, gt=0, le=100)
    overflow_allowed_h_per_point_day: float = Field(default=0.5, ge=0, le=24)
    census_target_pct: float = Field(default=90.0, gt=0, le=100)
    coverage_floor_pct: float = Field(
        default=80.0, ge=0, le=100, description="below it a verdict is 'Chưa đủ số liệu'"
    )
    sang_weight: float = Field(default=50.0, ge=0, le=100)
    sach_weight: float = Field(default=50.0, ge=0, le=100)

    @model_validator(mode="after")
    def _weights_make_100(self) -> Self:
        if self.sang_weight + self.sach_weight != 100:
            raise ValueError(
                f"sang_weight + sach_weight must be 100, got "
                f"{self.sang_weight:g} + {self.sach_weight:g}"
            )
        return self


class VillageFestival(BaseModel):
    """A festival day of the village (lễ hội làng), on the lunar calendar: its night is lit
    till dawn."""

    model_config = _STRICT

    lunar_day: str = Field(description="DD/MM on the lunar calendar, such as 10/2")
    name: str = Field(min_length=1, max_length=60)

    @field_validator("lunar_day")
    @classmethod
    def _lunar_day(cls, value: str) -> str:
        parse_lunar_day(value)
        return value


class Village(BaseModel):
    model_config = _STRICT

    id: Slug
    name: str = Field(min_length=1, max_length=40)
    head: Person
    census: Census
    lighting: list[LightingWindow] | None = Field(
        default=None, description="part-night programme; absent: dusk to dawn"
    )
    alerts: AlertThresholds | None = Field(
        default=None, description="this village's own alert thresholds, over the commune's"
    )
    festivals: list[VillageFestival] = Field(
        default_factory=list, max_length=20, description="the village's own festival days"
    )
    lanes: list[Lane] = Field(default_factory=list)
    points: list[GatheringPoint] = Field(default_factory=list)


class Team(BaseModel):
    model_config = _STRICT

    id: Slug
    name: str = Field(min_length=1, max_length=60)
    role: Literal["collection", "lighting"]
    villages: list[Slug] = Field(min_length=1)
    members: list[Person] = Field(min_length=1)
    depot: Depot | None = Field(
        default=None,
        description="where a collection crew's daily round starts and ends; absent: the "
        "commune office (the commune's coordinates)",
    )


class CommuneInfo(BaseModel):
    model_config = _STRICT

    name: str = Field(min_length=1, max_length=60)
    # The former district (huyện), kept for reference only: since 2025 a commune belongs
    # directly to its province, so nothing reads it and a new registry may leave it out.
    district: str | None = None
    province: str
    latitude: Latitude
    longitude: Longitude
    timezone: str = "Asia/Ho_Chi_Minh"


OneLine = Annotated[str, Field(min_length=1, max_length=120, pattern=r"^[^\r\n]*\S[^\r\n]*$")]


class ReportHeading(BaseModel):
    """The heading and signatures of the printed report (docs/reports.md). Absent: the
    commune's Fatherland Front committee, its standing board signing, the commune's name as
    the place of the date line."""

    model_config = _STRICT

    issuer: OneLine | None = Field(
        default=None,
        description="issuing body; default 'ỦY BAN MẶT TRẬN TỔ QUỐC VIỆT NAM XÃ <NAME>'",
    )
    issuer_unit: OneLine | None = Field(
        default="BAN THƯỜNG TRỰC", description="the body's unit below it; null: none"
    )
    place: OneLine | None = Field(
        default=None, description="the place of the date line; default: the commune's name"
    )
    document_code: OneLine = Field(
        default="BC-MTTQ", description="the code after the number: Số: …/BC-MTTQ"
    )
    motto: bool = Field(
        default=True,
        description="the national motto block (CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM ...)",
    )
    signer_title: OneLine = "TM. BAN THƯỜNG TRỰC"
    signer_role: OneLine | None = "CHỦ TỊCH"
    signer: OneLine | None = Field(default=None, description="who signs; absent: left blank")
    preparer: OneLine | None = Field(
        default=None, description="who prepared the table (Người lập biểu); absent: blank"
    )

    def issuer_of(self, commune: CommuneInfo) -> str:
        return self.issuer or f"ỦY BAN MẶT TRẬN TỔ QUỐC VIỆT NAM XÃ {commune.name.upper()}"

    def place_of(self, commune: CommuneInfo) -> str:
        return self.place or commune.name


class DeviceRef(BaseModel):
    """A device with where it stands: what the backend and simulators need of each node."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["lamp", "bin"]
    village_id: str
    place_id: str  # lane id for a lamp, gathering point id for a bin
    lat: float
    lon: float


class Commune(BaseModel):
    model_config = _STRICT

    commune: CommuneInfo
    alerts: AlertThresholds | None = Field(
        default=None, description="the commune's alert thresholds, over the defaults"
    )
    scores: ScoreFormula = Field(
        default_factory=ScoreFormula, description="targets, weights and coverage floor"
    )
    report: ReportHeading = Field(
        default_factory=ReportHeading, description="the printed report's heading and signatures"
    )
    festival_nights: list[FestivalKey] = Field(
        default=list(DEFAULT_NIGHTS),
        description="the lunar calendar's nights when every lamp stays lit till dawn "
        "(sangsach/lunar.py)",
    )
    tet_rounds_days: int = Field(
        default=3,
        ge=0,
        le=10,
        description="the days before Tết when every gathering point is on the collection "
        "crews' work lists, full or not (tổng thu gom trước Tết); 0: none",
    )
    villages: list[Village] = Field(min_length=1)
    teams: list[Team] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique_and_known(self) -> Self:
        _no_duplicates("village id", (v.id for v in self.villages))
        _no_duplicates("device id", (d.id for d in self.devices()))
        _no_duplicates("team id", (t.id for t in self.teams))
        _no_duplicates(
            "lane or gathering point id",
            (place for v in self.villages for place in _place_ids(v)),
        )
        _no_duplicates("gathering point code", iter(self.point_codes().values()))
        known = {v.id for v in self.villages}
        for team in self.teams:
            unknown = sorted(set(team.villages) - known)
            if unknown:
                raise ValueError(f"team {team.id} serves unknown village(s) {', '.join(unknown)}")
        return self

    def point_codes(self) -> dict[str, str]:
        """Each gathering point's short code by its id: its own, else P and its number."""
        points = (p for v in self.villages for p in v.points)
        return {p.id: p.code or f"P{n}" for n, p in enumerate(points, start=1)}

    def depot_of(self, team: Team) -> Depot:
        """A crew's depot: its own, else the commune office."""
        return team.depot or Depot(lat=self.commune.latitude, lon=self.commune.longitude)

    def devices(self) -> Iterator[DeviceRef]:
        for village in self.villages:
            for lane in village.lanes:
                for lamp in lane.lamps:
                    yield DeviceRef(
                        id=lamp.id,
                        kind="lamp",
                        village_id=village.id,
                        place_id=lane.id,
                        lat=lamp.lat,
                        lon=lamp.lon,
                    )
            for point in village.points:
                for bin_ in point.bins:
                    yield DeviceRef(
                        id=bin_.id,
                        kind="bin",
                        village_id=village.id,
                        place_id=point.id,
                        lat=point.lat,
                        lon=point.lon,
                    )


def _place_ids(village: Village) -> list[str]:
    return [lane.id for lane in village.lanes] + [point.id for point in village.points]


def _no_duplicates(what: str, values: Iterator[str]) -> None:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValueError(f"duplicate {what}: {', '.join(repeated)}")


class RegistryFileError(Exception):
    """The registry file cannot be used; the message gives file, line and field."""


Path_ = tuple[str | int, ...]


def _to_python(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], loader: yaml.SafeLoader
) -> Any:
    """Build plain data from the YAML node tree, remembering the line of every path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in result:
                raise RegistryFileError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r}"
                )
            result[key] = _to_python(value_node, (*path, key), lines, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node)
    except ValueError as err:  # a date such as 2026-13-01: YAML's own constructor refuses it
        raise RegistryFileError(
            f"line {node.start_mark.line + 1}: {_describe(path)}: {node.value!r} is not valid: {err}"
        ) from err


def _describe(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_registry(text: str, source: str = "<registry>") -> Commune:
    """Validate the registry text; a bad file raises ``RegistryFileError`` naming line and field.

    A good file is read event by event with no line table (100,000 devices: about 2 s and
    little memory); anything unusual or wrong is read again the careful way, whose messages
    name the line.
    """
    try:
        return Commune.model_validate(_plain_data(text))
    except (_Unusual, yaml.YAMLError, ValidationError, ValueError):
        pass  # ValueError: a scalar YAML cannot construct, such as the date 2026-13-01
    return _parse_with_lines(text, source)


class _Unusual(Exception):
    """The quick reading cannot decide: the careful one does, with the exact message."""


_FAST_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"


def _plain_data(text: str) -> Any:
    """The same plain data as ``_to_python`` gives, built from the parser's events, except that
    each village is already a ``Village`` model.

    No node tree and no line table are kept (they cost about 8 KB per device), and a village's
    plain data is dropped once it is validated. Duplicate keys, keys that are not plain scalars,
    unknown tags, aliases to unfinished nodes and several documents raise ``_Unusual``; YAML
    and validation errors pass through.
    """
    resolver = yaml.SafeLoader("")
    constructors = yaml.SafeLoader.yaml_constructors
    anchors: dict[str, Any] = {}
    open_: list[tuple[dict[str, Any] | list[Any], str | None]] = []  # (container, its anchor)
    keys: list[str | None] = []  # per open mapping: the key waiting for its value
    done: list[Any] = []

    def put(value: Any, anchor: str | None) -> None:
        if anchor is not None:
            anchors[anchor] = value
        if not open_:
            done.append(value)
            return
        container = open_[-1][0]
        if isinstance(container, list):
            top = open_[0][0]
            if len(open_) == 2 and isinstance(top, dict) and keys[0] == "villages":
                # Each village is validated as soon as it is read, so that the plain data of
                # only one village is held next to the models (a ValidationError: see above).
                value = Village.model_validate(value)
            container.append(value)
        else:
            container[keys[-1]] = value  # type: ignore[index]
            keys[-1] = None

    loader = _FAST_LOADER(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            wants_key = bool(open_) and isinstance(open_[-1][0], dict) and keys[-1] is None
            if wants_key and not isinstance(event, yaml.MappingEndEvent):
                if not isinstance(event, yaml.ScalarEvent) or event.anchor is not None:
                    raise _Unusual
                if str(event.value) in open_[-1][0]:
                    raise _Unusual  # a duplicate key: the careful reading names its line
                keys[-1] = sys.intern(str(event.value))
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolver.resolve(  # type: ignore[no-untyped-call]
                        yaml.ScalarNode, event.value, event.implicit
                    )
                if tag == _STR:
                    value: Any = event.value
                elif tag in constructors:
                    # No marks: a constructor's error sends the file to the careful reading.
                    node = yaml.ScalarNode(tag, event.value, None, None, event.style)
                    value = constructors[tag](resolver, node)
                else:
                    raise _Unusual
                put(value, event.anchor)
            elif isinstance(event, yaml.MappingStartEvent):
                open_.append(({}, event.anchor))
                keys.append(None)
            elif isinstance(event, yaml.SequenceStartEvent):
                open_.append(([], event.anchor))
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                container, anchor = open_.pop()
                if isinstance(container, dict):
                    keys.pop()
                put(container, anchor)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise _Unusual
                put(anchors[event.anchor], None)
    finally:
        loader.dispose()
    if len(done) != 1:
        raise _Unusual  # empty, or several documents
    return done[0]


def _parse_with_lines(text: str, source: str) -> Commune:
    """The careful reading: the node tree and the line of every path, for the error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RegistryFileError(f"{source}{where}: not valid YAML: {err}") from err
    if root is None:
        raise RegistryFileError(f"{source}: the file is empty")
    lines: dict[Path_, int] = {}
    try:
        data = _to_python(root, (), lines, yaml.SafeLoader(""))
    except RegistryFileError as err:
        raise RegistryFileError(f"{source}:{str(err).removeprefix('line ')}") from err
    try:
        return Commune.model_validate(data)
    except ValidationError as err:
        messages = []
        for error in err.errors():
            loc = tuple(part for part in error["loc"] if not isinstance(part, str) or part)
            line = _nearest_line(loc, lines)
            messages.append(f"{source}:{line}: {_describe(loc)}: {error['msg']}")
        raise RegistryFileError("\n".join(messages)) from err


def _nearest_line(loc: tuple[int | str, ...], lines: dict[Path_, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def load_registry(path: Path) -> Commune:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RegistryFileError(f"{path}: cannot read the registry file: {err.strerror}") from err
    return parse_registry(text, source=str(path))

"""The devices: a list with their installation data and state (``/thiet-bi``), and a page per
device with its latest readings (``/thiet-bi/{id}``). The village page shows its own devices
through ``device_rows`` too, so a state reads the same on every page.

States come from the one device rule (``domain/rules.py`` ``device_state``), battery levels from
the low-battery alert's threshold (``battery_level``); readings from the readings API's own
function."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from .. import db
from ..alerts.model import AlertType
from ..api.deps import ConnDep, ServicesDep
from ..api.readings import device_readings
from ..domain.readings import FIELDS
from ..domain.rules import Thresholds, battery_level, device_state, sensor_fault_text
from ..firmware import store as firmware
from ..notify.templates import PROBLEMS
from . import devicemap
from .render import active_alerts, local_time, page, pages_router

router = pages_router()

NO_DATA = "Chưa có dữ liệu"
KINDS = {"lamp": "Đèn đường", "bin": "Thùng rác"}
# The map's legend, except a fault, which is said as a clerk would repeat it on the phone.
STATE_LABELS: dict[str, str] = {
    **{state: label for state, (_, label) in devicemap.STATES.items()},
    "fault": "Hỏng – không có dòng điện",
}
FAULT_REPORTED = "Hỏng – đèn báo lỗi"  # the node's own fault flag, whatever the current
BATTERY_LABELS = {"good": "Tốt", "fair": "Trung bình", "low": "Yếu – cần thay"}
# The alert a state points to first, when the device has several open.
STATE_ALERTS: dict[str, tuple[AlertType, ...]] = {
    "fault": (AlertType.LAMP_FAULT,),
    "offline": (AlertType.DEVICE_OFFLINE,),
    "bin_full": (AlertType.BIN_OVERDUE, AlertType.BIN_FULL),
    "bin_overflow": (AlertType.BIN_OVERFLOW, AlertType.BIN_OVERDUE, AlertType.BIN_FULL),
    "bin_unmeasured": (AlertType.SENSOR_FAULT,),
}
READINGS_SHOWN = 50
READINGS_WINDOW_S = 24 * 3600  # the device page reads the day up to the latest reading


@dataclass(frozen=True, slots=True)
class Installed:
    kind: str
    village_id: str
    installed: date | None
    removed: date | None


def installations(commune: Any) -> dict[str, Installed]:
    """Each device's installation data, from the registry file (the database keeps none)."""
    found: dict[str, Installed] = {}
    for village in commune.villages:
        for lane in village.lanes:
            for lamp in lane.lamps:
                found[lamp.id] = Installed("lamp", village.id, lamp.installed, lamp.removed)
        for point in village.points:
            for bin_ in point.bins:
                found[bin_.id] = Installed("bin", village.id, bin_.installed, bin_.removed)
    return found


def day_text(day: date | None, absent: str) -> str:
    return absent if day is None else day.strftime("%d/%m/%Y")


def alert_href(alert_id: int) -> str:
    """The alert's own page (the alerts page's: who was texted, who acknowledged, its history)."""
    return f"/canh-bao/{alert_id}"


def _state_label(state: str, latest: dict[str, Any] | None) -> str:
    if state == "fault" and latest and latest.get("fault"):
        return FAULT_REPORTED
    return STATE_LABELS[state]


def _alert_for(state: str, alerts: list[Any]) -> Any | None:
    """The open alert the state's cell links to: the one about that state, else the oldest."""
    for wanted in STATE_ALERTS.get(state, ()):
        for alert in alerts:
            if alert.type is wanted:
                return alert
    return alerts[0] if alerts else None


# What became of the last update offered to a device (backend/firmware/store.py STATES).
UPDATE_LABELS = {
    "offered": "Đang chờ thiết bị tải bản {version}",
    "confirmed": "Đã cập nhật lên bản {version}",
    "rolled_back": "Bản {version} không chạy được, đã quay về bản cũ",
    "failed": "Tải bản {version} bị lỗi",
    "refused": "Thiết bị từ chối bản {version}",
}
UPDATE_PROBLEMS = ("rolled_back", "failed", "refused")


def update_label(rollout: firmware.Rollout | None) -> str | None:
    if rollout is None:
        return None
    label = UPDATE_LABELS.get(rollout.state, rollout.state).format(version=rollout.version)
    return f"{label} ({rollout.reason})" if rollout.reason else label


def _number(values: dict[str, Any] | None, name: str) -> float | None:
    value = (values or {}).get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def device_rows(services: Any, village_id: str | None = None) -> list[dict[str, Any]]:
    """Every device (or a village's) with its place, installation data, state by the one rule,
    battery level, latest reading and the open alert its state links to."""
    d, s, p = db.devices, db.device_state, db.places
    query = (
        select(d.c.id, d.c.kind, d.c.village_id, p.c.name.label("place_name"), s.c.online,
               s.c["values"].label("latest"), s.c.ts, s.c.fw)
        .join(p, p.c.id == d.c.place_id)
        .outerjoin(s, s.c.device_id == d.c.id)
        .order_by(d.c.village_id, d.c.kind.desc(), d.c.id)
    )  # fmt: skip
    query = query.where(
        d.c.village_id == village_id
        if village_id is not None
        else d.c.village_id.in_(services.village_ids)  # the commune in view's (a province)
    )
    with services.engine.connect() as conn:
        found = [dict(row._mapping) for row in conn.execute(query)]
    thresholds = services.scores.rules.thresholds
    names = {v.id: v.name for v in services.commune.villages}
    installed = installations(services.commune)
    rollouts = {r.device_id: r for r in firmware.rollouts(services.engine)}
    open_alerts: dict[str, list[Any]] = defaultdict(list)
    for alert in sorted(active_alerts(services), key=lambda a: (a.opened_at, a.id)):
        open_alerts[alert.device_id].append(alert)
    rows = []
    for row in found:
        th = thresholds[row["village_id"]]
        state = device_state(row["kind"], row["online"], row["latest"], th)
        battery = _number(row["latest"], "battery_v")
        level = None if battery is None else battery_level(battery, th)
        alert = _alert_for(state, open_alerts[row["id"]])
        place = installed.get(row["id"])
        rollout = rollouts.get(row["id"])
        rows.append({
            **row,
            "kind_label": KINDS.get(row["kind"], row["kind"]),
            "village_name": names.get(row["village_id"], row["village_id"]),
            "installed": day_text(place.installed if place else None, "Chưa ghi"),
            "removed": day_text(place.removed if place else None, "Chưa tháo"),
            "state": state,
            "state_label": _state_label(state, row["latest"]),
            "sensor_fault": sensor_fault_text(row["latest"]),
            "when": local_time(row["ts"]) or NO_DATA,
            "current_a": _number(row["latest"], "current_a"),
            "fill_pct": _number(row["latest"], "fill_pct"),
            "battery_v": battery,
            "battery_level": level,
            "battery_label": None if level is None else BATTERY_LABELS[level],
            "alert": alert,
            "alert_label": None if alert is None else PROBLEMS.get(alert.type.value),
            "alert_href": None if alert is None else alert_href(alert.id),
            "fw_label": row["fw"] or NO_DATA,
            "update_label": update_label(rollout),
            "update_problem": rollout is not None and rollout.state in UPDATE_PROBLEMS,
            "update_pending": rollout is not None and rollout.state == "offered",
        })  # fmt: skip
    return rows


def _choice(value: str, allowed: Iterable[str], name: str) -> str:
    """A filter's value, or a 422 naming the parameter (the error page lists the reason)."""
    if value and value not in allowed:
        error = {"type": "value_error", "loc": ("query", name), "input": value,
                 "msg": f"không có lựa chọn {value!r}"}  # fmt: skip
        raise RequestValidationError([error])
    return value


@router.get("/thiet-bi", response_class=HTMLResponse)
def devices(
    request: Request, services: ServicesDep, thon: str = "", loai: str = "", trang_thai: str = ""
) -> HTMLResponse:
    villages = {v.id: v.name for v in services.commune.villages}
    chosen = {
        "thon": _choice(thon, villages, "thon"),
        "loai": _choice(loai, KINDS, "loai"),
        "trang_thai": _choice(trang_thai, STATE_LABELS, "trang_thai"),
    }
    everything = device_rows(services, chosen["thon"] or None)
    counts: dict[str, int] = defaultdict(int)
    for row in everything:
        counts[row["state"]] += 1
    shown = [
        row for row in everything
        if (not loai or row["kind"] == loai) and (not trang_thai or row["state"] == trang_thai)
    ]  # fmt: skip
    return page(
        request, "devices.html", "Thiết bị", services, devices=shown, total=len(everything),
        counts=counts, villages=villages, kinds=KINDS, states=STATE_LABELS, chosen=chosen,
    )  # fmt: skip


@router.get("/thiet-bi/{device_id}", response_class=HTMLResponse)
def device(request: Request, device_id: str, services: ServicesDep, conn: ConnDep) -> HTMLResponse:
    known = conn.execute(select(db.devices.c.village_id).where(db.devices.c.id == device_id))
    village_id = known.scalar()
    if village_id is None or not services.sees(village_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"không có thiết bị {device_id!r}")
    row = next(r for r in device_rows(services, village_id) if r["id"] == device_id)
    start = None if row["ts"] is None else max(0, row["ts"] - READINGS_WINDOW_S)
    found = device_readings(device_id, services, conn, start=start, end=None, limit=10_000)
    latest = list(reversed(found[-READINGS_SHOWN:]))
    th = services.scores.rules.thresholds[village_id]
    readings = [
        {**dict.fromkeys(FIELDS[r.kind]), **r.values, "when": local_time(r.ts),
         "battery_label": _battery_label(_number(r.values, "battery_v"), th),
         "sensor_fault": sensor_fault_text(r.values)}
        for r in latest
    ]  # fmt: skip
    alerts = [
        {"id": a.id, "label": PROBLEMS.get(a.type.value, a.type.value), "href": alert_href(a.id),
         "opened": local_time(a.opened_at), "acked_by": a.acked_by}
        for a in active_alerts(services) if a.device_id == device_id
    ]  # fmt: skip
    title = f"{KINDS[row['kind']]} {device_id}"
    return page(
        request, "device.html", title, services, device=row, readings=readings, alerts=alerts,
        shown=READINGS_SHOWN,
    )  # fmt: skip


def _battery_label(volts: float | None, th: Thresholds) -> str | None:
    return None if volts is None else BATTERY_LABELS[battery_level(volts, th)]

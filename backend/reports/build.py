"""Build a report: scores per village against targets, the ranking, and alert statistics."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy import Engine, select

from sangsach.registry_file import Commune

from ..alerts import tables
from ..registry.census import effective
from ..scores.compute import commune_scores
from ..timeseries.port import TimeSeriesStore
from .period import Period


@dataclass(frozen=True, slots=True)
class AlertStats:
    opened: int
    acknowledged: int
    cleared: int
    mean_ack_h: float | None
    mean_clear_h: float | None


@dataclass(frozen=True, slots=True)
class Report:
    commune: str
    period: Period
    scores: dict[str, Any]
    alerts: dict[str, AlertStats]  # per village id


def build_report(
    engine: Engine, store: TimeSeriesStore, commune: Commune, period: Period
) -> Report:
    census = {v: view.census for v, view in effective(engine, commune).items()}
    scores = commune_scores(store, commune, period.start, period.end, census)
    return Report(commune.commune.name, period, scores, _alert_stats(engine, commune, period))


def _alert_stats(engine: Engine, commune: Commune, period: Period) -> dict[str, AlertStats]:
    table = tables.alerts
    query = select(
        table.c.village_id,
        table.c.raised_at,
        table.c.acked_at,
        table.c.opened_at,
        table.c.cleared_at,
    ).where(table.c.opened_at >= period.start, table.c.opened_at < period.end)
    rows: dict[str, list[Any]] = {v.id: [] for v in commune.villages}
    with engine.connect() as conn:
        for row in conn.execute(query):
            rows.setdefault(row.village_id, []).append(row)
    stats = {}
    for village_id, found in rows.items():
        acks = [r.acked_at - r.raised_at for r in found if r.acked_at is not None]
        clears = [r.cleared_at - r.opened_at for r in found if r.cleared_at is not None]
        stats[village_id] = AlertStats(
            opened=len(found),
            acknowledged=len(acks),
            cleared=len(clears),
            mean_ack_h=sum(acks) / len(acks) / 3600 if acks else None,
            mean_clear_h=sum(clears) / len(clears) / 3600 if clears else None,
        )
    return stats


COLUMNS = (
    ("village_id", "Mã thôn"),
    ("name", "Thôn"),
    ("rank", "Xếp hạng"),
    ("score", "Điểm"),
    ("sang_percent", "Sáng (%)"),
    ("sang_target", "Mục tiêu Sáng (%)"),
    ("sang_meets", "Đạt Sáng"),
    ("sang_unknown_minutes", "Phút không rõ"),
    ("collection_percent", "Thu gom đúng hạn (%)"),
    ("overflow_hours", "Giờ tràn rác"),
    ("coverage_percent", "Hộ có thùng rác chuẩn (%)"),
    ("sach_meets", "Đạt Sạch"),
    ("alerts_opened", "Số cảnh báo"),
    ("alerts_mean_ack_h", "TB giờ đến khi nhận"),
    ("alerts_mean_clear_h", "TB giờ đến khi xong"),
)


def rows(scores: dict[str, Any], alert_stats: dict[str, AlertStats]) -> list[dict[str, Any]]:
    """One row per village in rank order, as the report and the pages show it."""
    ranks = {row["village_id"]: row for row in scores["ranking"]}
    out = []
    for village in scores["villages"]:
        vid, sang, sach = village["village_id"], village["sang"], village["sach"]
        alerts = alert_stats.get(vid)
        out.append(
            {
                "village_id": vid,
                "name": village["name"],
                "rank": ranks[vid]["rank"],
                "score": ranks[vid]["score"],
                "sang_percent": _round(sang["percent"]),
                "sang_target": sang["target"],
                "sang_meets": _yes_no(sang["meets"]),
                "sang_unknown_minutes": _round(sang["unknown_minutes"]),
                "collection_percent": _round(sach["collection"]["percent"]),
                "overflow_hours": _round(sach["overflow"]["hours"]),
                "coverage_percent": _round(sach["coverage"]["percent"]),
                "sach_meets": _yes_no(sach["meets"]),
                "alerts_opened": alerts.opened if alerts else 0,
                "alerts_mean_ack_h": _round(alerts.mean_ack_h) if alerts else None,
                "alerts_mean_clear_h": _round(alerts.mean_clear_h) if alerts else None,
            }
        )
    return sorted(out, key=lambda r: r["rank"])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _yes_no(value: bool | None) -> str:
    return {True: "Đạt", False: "Chưa đạt", None: "Chưa đủ dữ liệu"}[value]


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title for _, title in COLUMNS])
    for row in rows(report.scores, report.alerts):
        writer.writerow(["" if row[key] is None else row[key] for key, _ in COLUMNS])
    return buffer.getvalue()


def render_html(report: Report) -> str:
    """A page made for printing (A4 landscape), in Vietnamese, with no outside resources."""
    head = "".join(f"<th>{escape(title)}</th>" for _, title in COLUMNS[1:])
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(row[key]))}</td>" for key, _ in COLUMNS[1:]) + "</tr>"
        for row in rows(report.scores, report.alerts)
    )
    title = f"Báo cáo kết quả Sáng – Sạch, {report.period.title}"
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 3px 5px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
th {{ background: #eee; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<p>Xã {escape(report.commune)}. Số liệu đo bằng thiết bị; phút không rõ (thiết bị mất kết nối)
được tính là không sáng.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Cách xếp hạng thi đua</h2>
<p>{escape(report.scores["formula"])}</p>
</body></html>
"""


def _cell(value: object) -> str:
    return "" if value is None else str(value)

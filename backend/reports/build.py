"""Build a report: scores per village against targets, the ranking, and alert statistics."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import Engine, select

from sangsach.registry_file import Commune
from sangsach.sun import VIETNAM

from ..alerts import tables
from ..scores.service import PeriodScores, Scores
from ..scores.verdict import VERDICT_VI
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
    scores: PeriodScores
    alerts: dict[str, AlertStats]  # per village id


def build_report(engine: Engine, scores: Scores, commune: Commune, period: Period) -> Report:
    result = scores.period(period.start, period.end)
    return Report(commune.commune.name, period, result, _alert_stats(engine, commune, period))


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
    ("sang_percent", "Sáng (% thời gian đo được)"),
    ("sang_coverage", "Đo được – đèn (%)"),
    ("sang_verdict", "Đạt Sáng"),
    ("collection_percent", "Thu gom đúng hạn (%)"),
    ("collection_events", "Lần đầy: đúng hạn/tổng"),
    ("overflow_hours", "Giờ tràn rác"),
    ("overflow_allowed", "Giờ tràn cho phép"),
    ("bin_coverage", "Đo được – thùng rác (%)"),
    ("census_percent", "Hộ có thùng rác chuẩn (%)"),
    ("sach_verdict", "Đạt Sạch"),
    ("note", "Ghi chú"),
    ("alerts_opened", "Số cảnh báo"),
    ("alerts_mean_ack_h", "TB giờ đến khi nhận"),
    ("alerts_mean_clear_h", "TB giờ đến khi xong"),
)


def rows(result: PeriodScores, alert_stats: dict[str, AlertStats]) -> list[dict[str, Any]]:
    """One row per village, ranked ones in rank order then the unranked, as the report and the
    pages show them (numbers rounded, verdicts in Vietnamese)."""
    out = []
    for v in result.villages:
        alerts = alert_stats.get(v.village_id)
        p = v.parts
        out.append(
            {
                "village_id": v.village_id,
                "name": v.name,
                "rank": v.rank,
                "score": v.score,
                "sang_percent": _round(v.sang.value),
                "sang_target": v.sang.target,
                "sang_coverage": _round(v.sang.coverage),
                "sang_verdict": VERDICT_VI[v.sang.verdict],
                "sang_unknown_minutes": p.lamp_unknown_s / 60,
                "collection_percent": _round(v.collection.value),
                "collection_events": (
                    f"{p.full_on_time}/{p.full_on_time + p.full_late}"
                    if v.collection.verdict != "not_measured" else None
                ),
                "overflow_hours": _round(v.overflow.value),
                "overflow_allowed": _round(v.overflow.target)
                if v.overflow.verdict != "not_measured" else None,
                "bin_coverage": _round(v.overflow.coverage),
                "census_percent": _round(v.census.value),
                "sach_verdict": VERDICT_VI[v.sach],
                "note": "" if v.rank is not None else f"Chưa xếp hạng: {v.unranked_reason}",
                "alerts_opened": alerts.opened if alerts else 0,
                "alerts_mean_ack_h": _round(alerts.mean_ack_h) if alerts else None,
                "alerts_mean_clear_h": _round(alerts.mean_clear_h) if alerts else None,
            }
        )  # fmt: skip
    if not result.has_data:
        for row in out:
            row["rank"] = None
            row["note"] = NO_DATA
    return sorted(out, key=lambda r: (r["rank"] is None, r["rank"] or 0))


NO_DATA = "Không có số liệu trong kỳ này"


def status_line(result: PeriodScores) -> str:
    """What the figures are: no data, provisional up to a moment, or final."""
    if not result.has_data:
        return NO_DATA + "."
    if result.in_progress:
        return f"Tạm tính đến {_when(result.upto)}."
    return "Số liệu cả kỳ."


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([title for _, title in COLUMNS])
    for row in rows(report.scores, report.alerts):
        writer.writerow(["" if row[key] is None else row[key] for key, _ in COLUMNS])
    writer.writerow([])
    writer.writerow([status_line(report.scores)])
    writer.writerow([report.scores.formula_text])
    # A BOM, so that Excel on Windows reads the file as UTF-8.
    return "\ufeff" + buffer.getvalue()


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
<p>Xã {escape(report.commune)}. {escape(status_line(report.scores))} Số liệu đo bằng thiết bị;
thời gian thiết bị mất kết nối là "không đo được": không tính là đạt, cũng không tính là hỏng,
và được ghi thành tỉ lệ "đo được" của mỗi chỉ tiêu.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Cách xếp hạng thi đua</h2>
<p>{escape(report.scores.formula_text)}</p>
</body></html>
"""


def _cell(value: object) -> str:
    return "" if value is None else str(value)

"""Build a report: scores per village against targets, the ranking, and alert statistics."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from sangsach import formats
from sangsach.registry_file import Commune
from sangsach.sun import VIETNAM

from ..alerts import tables
from ..campaigns import Campaign, in_period, per_village
from ..citizens.service import counts_by_village
from ..scores.parts import added
from ..scores.service import PeriodScores, Scores
from ..scores.verdict import VERDICT_VI, VillageResult, judge
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
    commune: Commune
    period: Period
    scores: PeriodScores
    alerts: dict[str, AlertStats]  # per village id
    alerts_total: AlertStats  # every village's
    made_at: float  # when the report was made (Unix seconds): its date line
    campaigns: tuple[Campaign, ...] = ()  # Green Sundays and clean-up days with a day in it
    # citizens' reports made in the period per village id ("": naming no village)
    citizen_counts: dict[str, int] = field(default_factory=dict)

    @property
    def campaign_counts(self) -> dict[str, int]:
        """How many of the period's campaigns each village took part in."""
        return per_village(self.campaigns, [v.id for v in self.commune.villages])


def build_report(engine: Engine, scores: Scores, commune: Commune, period: Period) -> Report:
    result = scores.period(period.start, period.end)
    per_village, total = _alert_stats(engine, commune, period)
    mine = {v.id for v in commune.villages}
    # In a province the tables hold every commune's: the report is of this commune's villages.
    found = tuple(c for c in in_period(engine, period) if mine.intersection(c.village_ids))
    reports = {
        village_id: n
        for village_id, n in counts_by_village(engine, period.start, period.end).items()
        if village_id in mine or village_id == ""  # "": naming no village (the total only)
    }
    return Report(commune, period, result, per_village, total, scores.clock(), found, reports)


def _alert_stats(
    engine: Engine, commune: Commune, period: Period
) -> tuple[dict[str, AlertStats], AlertStats]:
    """Per village, and for the whole commune."""
    table = tables.alerts
    query = select(
        table.c.village_id,
        table.c.raised_at,
        table.c.acked_at,
        table.c.opened_at,
        table.c.cleared_at,
    ).where(
        table.c.opened_at >= period.start,
        table.c.opened_at < period.end,
        table.c.village_id.in_([v.id for v in commune.villages]),  # a province's: this commune's
    )
    rows: dict[str, list[Any]] = {v.id: [] for v in commune.villages}
    with engine.connect() as conn:
        for row in conn.execute(query):
            rows.setdefault(row.village_id, []).append(row)
    every = [row for found in rows.values() for row in found]
    return {village_id: _stats(found) for village_id, found in rows.items()}, _stats(every)


def _stats(found: list[Any]) -> AlertStats:
    acks = [r.acked_at - r.raised_at for r in found if r.acked_at is not None]
    clears = [r.cleared_at - r.opened_at for r in found if r.cleared_at is not None]
    return AlertStats(
        opened=len(found),
        acknowledged=len(acks),
        cleared=len(clears),
        mean_ack_h=sum(acks) / len(acks) / 3600 if acks else None,
        mean_clear_h=sum(clears) / len(clears) / 3600 if clears else None,
    )


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    decimals: int | None = None  # a number shown with this many decimals; None: text
    # The row's key whose words stand in for a missing value on the pages and in the printed
    # report ("Không phát sinh", "Không đo"): an empty cell would not say why. The CSV keeps
    # the cell empty, for the spreadsheet's sums.
    missing: str | None = None


COLUMNS = (
    Column("village_id", "Mã thôn"),
    Column("name", "Thôn"),
    Column("rank", "Xếp hạng", 0),
    Column("score", "Điểm", 2),
    Column("sang_percent", "Sáng (% thời gian đo được)", 1, "sang_verdict"),
    Column("sang_coverage", "Đo được – đèn (%)", 1),
    Column("sang_verdict", "Đạt Sáng"),
    Column("collection_percent", "Thu gom đúng hạn (%)", 1, "collection_verdict"),
    Column("collection_on_time", "Lần đầy thu gom đúng hạn", 0),
    Column("collection_events", "Tổng số lần đầy", 0),
    Column("overflow_hours", "Giờ tràn rác", 1, "overflow_verdict"),
    Column("overflow_allowed", "Giờ tràn cho phép", 1),
    Column("bin_coverage", "Đo được – thùng rác (%)", 1),
    Column("census_percent", "Hộ có thùng rác chuẩn (%)", 1, "census_verdict"),
    Column("sach_verdict", "Đạt Sạch"),
    # beside the indicators, outside the score's formula (docs/reports.md)
    Column("campaigns", "Số đợt ra quân vệ sinh", 0),
    Column("citizen_reports", "Số phản ánh của người dân", 0),
    Column("note", "Ghi chú"),
    Column("alerts_opened", "Số cảnh báo", 0),
    Column("alerts_mean_ack_h", "TB giờ đến khi nhận", 1),
    Column("alerts_mean_clear_h", "TB giờ đến khi xong", 1),
)
# The work lists' planned visits judged by the readings (docs/scores.md): their own table in
# the document and on the page, after the indicators in the CSV; outside the score.
ROUND_COLUMNS = (
    Column("planned_visits", "Lượt thu gom theo kế hoạch", 0),
    Column("planned_collected", "Đã thu gom (cảm biến ghi nhận)", 0),
    Column("planned_unknown", "Không đo được", 0),
    Column("planned_percent", "Thu gom theo kế hoạch (% lượt đo được)", 1),
    Column("planned_reported", "Tổ báo xong (XONG)", 0),
    Column("unplanned", "Thu gom ngoài kế hoạch", 0),
    Column("tet_percent", "Tổng thu gom trước Tết (% lượt đo được)", 1),
)
CSV_COLUMNS = (*COLUMNS, *ROUND_COLUMNS)
ROUNDS_TITLE = "Thu gom theo kế hoạch hằng ngày của tổ thu gom"
NO_ROUNDS = "Trong kỳ này không có danh sách thu gom nào của tổ thu gom."
TOTAL = "Toàn xã"


def shown(column: Column, row: Mapping[str, Any]) -> str:
    """A cell of ``row`` as the pages and the printed report show it: ``1.234,5``, text as it
    is, a missing indicator as the words of its verdict."""
    value = row[column.key]
    if value is None and column.missing is not None:
        return str(row[column.missing])
    return _cell(column, value, formats.number)


def _cell(column: Column, value: object, number: Callable[[float, int], str]) -> str:
    if value is None:
        return ""
    if column.decimals is None:
        return str(value)
    assert isinstance(value, int | float), (column.key, value)
    return number(value, column.decimals)


def _row(
    result: VillageResult,
    alerts: AlertStats | None,
    campaigns: int | None = None,
    citizen_reports: int | None = None,
) -> dict[str, Any]:
    p = result.parts
    bins_measured = result.collection.verdict != "not_measured"
    return {
        "village_id": result.village_id,
        "name": result.name,
        "rank": result.rank,
        "score": result.score,
        "sang_percent": result.sang.value,
        "sang_coverage": result.sang.coverage,
        "sang_verdict": VERDICT_VI[result.sang.verdict],
        "collection_percent": result.collection.value,
        "collection_verdict": VERDICT_VI[result.collection.verdict],
        "collection_on_time": p.full_on_time if bins_measured else None,
        "collection_events": p.full_on_time + p.full_late if bins_measured else None,
        "overflow_hours": result.overflow.value,
        "overflow_verdict": VERDICT_VI[result.overflow.verdict],
        "overflow_allowed": result.overflow.target
        if result.overflow.verdict != "not_measured" else None,
        "bin_coverage": result.overflow.coverage,
        "census_percent": result.census.value,
        "census_verdict": VERDICT_VI[result.census.verdict],
        "sach_verdict": VERDICT_VI[result.sach],
        "campaigns": campaigns,
        "citizen_reports": citizen_reports,
        "note": "" if result.rank is not None else f"Chưa xếp hạng: {result.unranked_reason}",
        "alerts_opened": alerts.opened if alerts else 0,
        "alerts_mean_ack_h": alerts.mean_ack_h if alerts else None,
        "alerts_mean_clear_h": alerts.mean_clear_h if alerts else None,
        "planned_visits": p.rounds_planned,
        "planned_collected": p.rounds_collected,
        "planned_unknown": p.rounds_unknown,
        "planned_percent": result.planned.value,
        "planned_reported": p.rounds_reported,
        "unplanned": p.rounds_unplanned,
        "tet_percent": result.tet.value,
    }  # fmt: skip


def rows(
    result: PeriodScores,
    alert_stats: dict[str, AlertStats],
    campaign_counts: dict[str, int] | None = None,
    citizen_counts: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One row per village, ranked ones in rank order then the unranked, as the report and the
    pages show them (figures unrounded: ``shown`` rounds them once, verdicts in Vietnamese); the
    number of campaigns each took part in when ``campaign_counts`` is given."""
    out = [
        _row(v, alert_stats.get(v.village_id),
             None if campaign_counts is None else campaign_counts.get(v.village_id, 0),
             None if citizen_counts is None else citizen_counts.get(v.village_id, 0))
        for v in result.villages
    ]  # fmt: skip
    if not result.has_data:
        for row in out:
            row["rank"] = None
            row["note"] = NO_DATA
    return sorted(out, key=lambda r: (r["rank"] is None, r["rank"] or 0))


def total_row(report: Report) -> dict[str, Any]:
    """The commune as a whole: every village's parts added up and judged by the same formula
    (its shares are of the commune's summed seconds and counts, not a mean of the villages'),
    with no score or rank, and the alerts of every village."""
    parts = added(v.parts for v in report.scores.villages)
    judged = replace(judge("", TOTAL, parts, report.scores.formula), score=None)
    row = _row(
        judged, report.alerts_total, len(report.campaigns), sum(report.citizen_counts.values())
    )
    row["note"] = ""
    return row


def coverage_notes(report: Report) -> list[str]:
    """What the reader of the report must know about how much was measured."""
    result, formula = report.scores, report.scores.formula
    if not result.has_data:
        return [NO_DATA + "."]
    total = total_row(report)
    notes = [
        "Số liệu do thiết bị đo tự động. Thời gian thiết bị mất kết nối hoặc mất điện là"
        " “không đo được”: không tính là đạt, cũng không tính là hỏng, và được ghi thành tỉ lệ"
        " “đo được” của mỗi chỉ tiêu.",
    ]
    measured = [
        f"{what} đo được {formats.number(value)}% thời gian"
        for what, value in (("đèn", total["sang_coverage"]), ("thùng rác", total["bin_coverage"]))
        if value is not None
    ]
    if measured:
        notes.append(f"Toàn xã: {'; '.join(measured)}.")
    notes.append(
        f"Dưới {formats.number(formula.coverage_floor_pct)}% thời gian đo được, chỉ tiêu ghi"
        " “Chưa đủ số liệu” và thôn không được xếp hạng."
    )
    by_reason: dict[str | None, list[str]] = {}
    for village in result.unranked:
        by_reason.setdefault(village.unranked_reason, []).append(village.name)
    notes += [
        f"Chưa xếp hạng vì {reason}: {', '.join(names)}." for reason, names in by_reason.items()
    ]
    return notes


NO_DATA = "Không có số liệu trong kỳ này"


def status_line(result: PeriodScores) -> str:
    """What the figures are: no data, provisional up to a moment, or final."""
    if not result.has_data:
        return NO_DATA + "."
    if result.in_progress:
        return f"Tạm tính đến {formats.moment_on(result.upto)}."
    return "Số liệu cả kỳ."


def period_dates(period: Period) -> str:
    """The period's title with its first and last local day: ``6 tháng đầu năm 2026
    (01/01/2026 – 30/06/2026)``; a run of days already names them."""
    first = datetime.fromtimestamp(period.start, VIETNAM).date()
    last = datetime.fromtimestamp(period.end - 1, VIETNAM).date()
    if period.title.startswith("từ ngày"):
        return period.title
    return f"{period.title} ({formats.day(first)} – {formats.day(last)})"


def csv_cell(column: Column, value: object) -> str:
    """A cell as the CSV for Excel has it: a decimal comma, no thousands dots."""
    return _cell(column, value, formats.spreadsheet_number)


CSV_SEPARATOR = ";"


def render_csv(report: Report) -> str:
    """The table for a spreadsheet as Excel with Vietnamese settings opens it: fields separated
    by ``;``, decimal commas, UTF-8 with a byte-order mark (docs/decisions.md); below it the
    period's campaigns, then the status and the formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=CSV_SEPARATOR)
    writer.writerow([c.title for c in CSV_COLUMNS])
    for row in [
        *rows(report.scores, report.alerts, report.campaign_counts, report.citizen_counts),
        total_row(report),
    ]:
        writer.writerow([csv_cell(c, row[c.key]) for c in CSV_COLUMNS])
    writer.writerow([])
    writer.writerow([CAMPAIGNS_TITLE])
    writer.writerow(CAMPAIGN_CSV_TITLES)
    for line in campaign_rows(report):
        writer.writerow([line["first_day"], line["last_day"], line["name"], line["kind"],
                         line["villages"], formats.spreadsheet_number(line["participants"], 0),
                         line["note"]])  # fmt: skip
    if not report.campaigns:
        writer.writerow([NO_CAMPAIGNS])
    writer.writerow([])
    writer.writerow([status_line(report.scores)])
    writer.writerow([report.scores.formula_text])
    # A BOM, so that Excel on Windows reads the file as UTF-8.
    return "\ufeff" + buffer.getvalue()


CAMPAIGNS_TITLE = "Các đợt ra quân vệ sinh môi trường (Chủ nhật xanh, tổng vệ sinh)"
NO_CAMPAIGNS = "Không có đợt nào được ghi nhận trong kỳ."
CAMPAIGN_CSV_TITLES = ("Từ ngày", "Đến ngày", "Hoạt động", "Loại", "Thôn tham gia",
                       "Số người tham gia", "Ghi chú")  # fmt: skip


def campaign_rows(report: Report) -> list[dict[str, Any]]:
    """The period's campaigns in the order of their days, as the report lists them."""
    names = {v.id: v.name for v in report.commune.villages}
    return [
        {"days": c.days_text, "first_day": formats.day(c.first_day),
         "last_day": formats.day(c.last_day), "name": c.name, "kind": c.kind_vi,
         "villages": c.villages_text(names), "participants": c.participants,
         "participants_text": formats.integer(c.participants), "note": c.note or ""}
        for c in report.campaigns
    ]  # fmt: skip

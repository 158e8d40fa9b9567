"""The report as a document the Fatherland Front can file: heading, place and date line, the
period's dates, the table with a commune total, notes on coverage, the formula and the
signatures; printable from a browser (A4), and as a PDF made by WeasyPrint.

The template and the stylesheet sit with the pages' (``backend/web``) because the backend
serves the stylesheet as a static file: the pages' security policy allows no inline style. The
file that ``sangsach report`` writes and the PDF carry the same stylesheet inline, so that they
stand alone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sangsach import formats
from sangsach.sun import VIETNAM

from .build import (
    CAMPAIGNS_TITLE,
    COLUMNS,
    NO_CAMPAIGNS,
    NO_ROUNDS,
    ROUND_COLUMNS,
    ROUNDS_TITLE,
    Report,
    campaign_rows,
    coverage_notes,
    period_dates,
    rows,
    shown,
    status_line,
    total_row,
)

WEB = Path(__file__).parents[1] / "web"
STYLESHEET = WEB / "static" / "report.css"
STYLESHEET_URL = "/static/report.css"
_env = Environment(
    loader=FileSystemLoader(WEB / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
)


def title(report: Report) -> str:
    return f"Báo cáo kết quả Sáng – Sạch, {report.period.title}"


def render_html(report: Report, *, stylesheet_url: str | None = None) -> str:
    """The document as HTML: linking ``stylesheet_url`` (a served page), or with the stylesheet
    inline (a file, the PDF). Nothing is loaded from outside."""
    heading = report.commune.report
    made_on = datetime.fromtimestamp(report.made_at, VIETNAM).date()
    return _env.get_template("report_document.html").render(
        title=title(report),
        stylesheet_url=stylesheet_url,
        # our own file, inline as it is (escaping would break its quoted font names)
        stylesheet=None if stylesheet_url else STYLESHEET.read_text(encoding="utf-8"),
        commune=report.commune,
        heading=heading,
        date_line=formats.date_line(heading.place_of(report.commune.commune), made_on),
        period_dates=period_dates(report.period),
        status=status_line(report.scores),
        # The village id is for machines; a village's note is under "Ghi chú" below the table.
        columns=[c for c in COLUMNS if c.key not in ("village_id", "note")],
        rows=rows(report.scores, report.alerts, report.campaign_counts, report.citizen_counts),
        total=total_row(report),
        shown=shown,
        notes=coverage_notes(report),
        formula=report.scores.formula_text,
        campaigns=campaign_rows(report),
        campaigns_title=CAMPAIGNS_TITLE,
        no_campaigns=NO_CAMPAIGNS,
        round_columns=ROUND_COLUMNS,
        rounds_title=ROUNDS_TITLE,
        no_rounds=NO_ROUNDS,
    )


def render_pdf(report: Report) -> bytes:
    """The document as a PDF (A4 landscape), fonts embedded. WeasyPrint lays it out with
    Pango; the Vietnamese needs a font with its letters, DejaVu Sans (``fonts-dejavu-core``)."""
    from weasyprint import HTML  # a second to import: only the commands that make a PDF pay it

    pdf: bytes = HTML(string=render_html(report)).write_pdf()
    return pdf

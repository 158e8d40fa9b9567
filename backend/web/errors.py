"""The pages' own error pages: in Vietnamese, in the site's layout, with what happened, what to
do and a link home; never a traceback or a store's address.

``backend/api/errors.py`` decides which answers are pages and calls ``error_page``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from ..reports.period import PERIOD_HINT
from .pages import templates

# status: (title, what happened and what to do)
WORDING: Mapping[int, tuple[str, str]] = {
    400: ("Yêu cầu không hợp lệ", "Trình duyệt gửi một yêu cầu máy chủ không hiểu được. "
          "Tải lại trang rồi thử lại."),
    401: ("Cần đăng nhập", "Trang này cần đăng nhập. Đăng nhập bằng mã truy cập rồi thử lại."),
    403: ("Không được phép", "Tài khoản đang dùng không có quyền làm việc này, hoặc biểu mẫu đã "
          "hết hạn. Tải lại trang rồi thử lại; nếu cần quyền xử lý, đăng nhập bằng mã của "
          "cán bộ văn phòng xã."),
    404: ("Không tìm thấy", "Không có trang, thôn, cảnh báo hay báo cáo nào ở địa chỉ này: có "
          "thể địa chỉ bị gõ sai hoặc cảnh báo đã đóng. Kiểm tra lại địa chỉ, hoặc quay về "
          "trang Tổng quan."),
    405: ("Không làm được theo cách này", "Địa chỉ này không nhận kiểu yêu cầu đó. Quay về "
          "trang Tổng quan rồi dùng các nút trên trang."),
    413: ("Dữ liệu gửi lên quá lớn", "Biểu mẫu gửi lên vượt quá giới hạn của máy chủ. Gửi ít "
          "dữ liệu hơn rồi thử lại."),
    422: ("Giá trị không hợp lệ", "Một giá trị trong địa chỉ hoặc biểu mẫu không dùng được (xem "
          "bên dưới). Sửa lại rồi thử lại, hoặc chọn kỳ có sẵn trên trang Tổng quan."),
    429: ("Quá nhiều lần thử", "Máy chủ nhận quá nhiều yêu cầu từ máy này. Chờ một lát rồi "
          "thử lại."),
    500: ("Lỗi máy chủ", "Máy chủ gặp lỗi không lường trước khi làm việc này; lỗi đã được ghi "
          "vào nhật ký. Thử lại sau ít phút; nếu vẫn lỗi, báo người quản trị hệ thống."),
    503: ("Tạm thời chưa đọc được số liệu", "Kho số liệu đo (InfluxDB hoặc SQLite) đang không "
          "trả lời, nên trang chưa hiện được. Thử lại sau ít phút; nếu kéo dài, báo người "
          "quản trị hệ thống kiểm tra kho số liệu."),
}  # fmt: skip
OTHER = ("Không làm được yêu cầu này", "Máy chủ không làm được yêu cầu này. Quay về trang "
         "Tổng quan rồi thử lại.")  # fmt: skip

# Where a refused value was, as a person reads it: FastAPI's ``loc`` names the part first.
PLACES = {
    "query": "tham số {} trong địa chỉ",
    "path": "phần {} của đường dẫn",
    "body": "ô {} của biểu mẫu",
    "header": "tiêu đề {}",
    "cookie": "cookie {}",
}
# The names a period goes by (the picker's ``ky``, a report file's name, the alerts history's
# run of days ``ngay``); reports.period.PERIOD_HINT gives the forms it takes.
PERIOD_NAMES = frozenset({"ky", "period", "ngay"})
# Pydantic's reasons, by their type, as a clerk reads them; its own wording is English.
REASONS: Mapping[str, str] = {
    "missing": "chưa có giá trị",
    "int_parsing": "phải là một số nguyên",
    "int_from_float": "phải là một số nguyên",
    "float_parsing": "phải là một số",
    "bool_parsing": "phải là có hoặc không (true/false)",
    "date_parsing": "phải là một ngày, viết YYYY-MM-DD",
    "date_from_datetime_parsing": "phải là một ngày, viết YYYY-MM-DD",
    "greater_than": "phải lớn hơn {gt}",
    "greater_than_equal": "phải từ {ge} trở lên",
    "less_than": "phải nhỏ hơn {lt}",
    "less_than_equal": "phải không quá {le}",
    "string_too_short": "phải có ít nhất {min_length} ký tự",
    "string_too_long": "chỉ được tối đa {max_length} ký tự",
    "string_pattern_mismatch": "có ký tự không được dùng",
    "literal_error": "phải là một trong: {expected}",
    "enum": "phải là một trong: {expected}",
}
OTHER_REASON = "giá trị không dùng được"


def reason(error: Mapping[str, Any]) -> str:
    """Why a value was refused, in Vietnamese: by pydantic's error type, with its limits."""
    wording = REASONS.get(str(error.get("type", "")), OTHER_REASON)
    try:
        return wording.format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return OTHER_REASON


def problem(error: Mapping[str, Any]) -> str:
    """One validation error of FastAPI, as a line naming the parameter and the reason."""
    loc = [str(part) for part in error.get("loc", ())]
    place, name = (loc[0], ".".join(loc[1:])) if loc else ("", "")
    where = PLACES[place].format(name) if place in PLACES and name else ".".join(loc)
    if name in PERIOD_NAMES:
        return f"{where}: không đọc được kỳ {str(error.get('input', ''))!r}. {PERIOD_HINT}"
    return f"{where}: {reason(error)}"


def error_page(
    request: Request,
    status_code: int,
    problems: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The error page for ``status_code``, listing ``problems`` (reasons fit to show) if any."""
    title, what = WORDING.get(status_code, OTHER)
    services = getattr(request.app.state, "services", None)
    commune = services.commune.commune.name if services is not None else ""
    context = {
        "title": title,
        "commune": commune,
        "what": what,
        "problems": list(problems),
        "status_code": status_code,
    }
    return templates.TemplateResponse(
        request, "error.html", context, status_code=status_code, headers=dict(headers or {})
    )

"""Server-rendered pages, one module each: overview, village (with the census form), devices,
alerts (with acknowledge) and reports. What they share (templates, the picker, the page frame)
is in ``render.py``."""

from __future__ import annotations

from . import (
    alerts_page,
    calendar_page,
    campaigns_page,
    citizens_page,
    devices,
    overview,
    province_page,
    reports_page,
    village,
    worklist_page,
)
from .render import HERE, templates

__all__ = ["HERE", "routers", "templates"]

routers = (
    overview.router,
    village.router,
    devices.router,
    alerts_page.router,
    reports_page.router,
    worklist_page.router,
    calendar_page.router,
    campaigns_page.router,
    citizens_page.public_router,  # the citizens' report form: no sign-in
    citizens_page.router,
    province_page.router,
)

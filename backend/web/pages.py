"""Server-rendered pages, one module each: overview, village, alerts (with acknowledge) and
reports. What they share (templates, the picker, the page frame) is in ``render.py``."""

from __future__ import annotations

from . import alerts_page, overview, reports_page, village
from .render import HERE, templates

__all__ = ["HERE", "routers", "templates"]

routers = (overview.router, village.router, alerts_page.router, reports_page.router)

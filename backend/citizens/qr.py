"""QR codes of the report form's address, as inline SVG, with segno (a maintained QR library)."""

from __future__ import annotations

from functools import lru_cache

import segno


@lru_cache(maxsize=4096)
def qr_svg(url: str, scale: int = 3) -> str:
    """The QR code of ``url`` as an ``<svg>`` element (error correction M: a smudged sticker
    still reads), with its quiet zone, dark on white."""
    code = segno.make(url, error="m", micro=False)
    return str(code.svg_inline(scale=scale, dark="#000", light="#fff", border=4, omitsize=False))

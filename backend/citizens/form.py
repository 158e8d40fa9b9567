"""The public form's guards, without a third-party service: no sign-in, so each post proves
that a person opened the form on this site a little while ago, and each address gets a share.

- a signed timestamp (``t``): the form carries ``<unix seconds>.<nonce>.<HMAC>``, keyed by a
  secret derived from the admin token. A post is taken when the stamp is ours, at least
  ``min_fill_s`` old (a script posting at once is refused) and at most ``max_age_s``, and used
  once (a replay cache). It is also the form's CSRF defence: a page on another site cannot read
  the form, so cannot get a stamp; and a post whose ``Origin`` is another site is refused.
- a honeypot (``website``): a field hidden from people, which bots fill in.
- a rate per client address (a token bucket): ``burst`` posts at once, then ``per_hour``. A
  flood is answered 429 before any database work, so it does not slow the office's pages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Final

from ..auth.ratelimit import RateLimiter
from ..notify.webhook import ReplayCache

STAMP_FIELD: Final = "t"
HONEYPOT_FIELD: Final = "website"
MIN_FILL_S: Final = 3.0
MAX_AGE_S: Final = 2 * 3600.0
BURST: Final = 5
PER_HOUR: Final = 12.0


class FormRefused(Exception):
    """A post the guards refuse; ``field`` names the form field, the message says why in
    Vietnamese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def form_key(secret: str) -> bytes:
    """The stamps' key, derived from a server secret (never the secret itself)."""
    return hmac.new(secret.encode(), b"sangsach citizen form stamp", hashlib.sha256).digest()


@dataclass
class FormGuard:
    key: bytes
    min_fill_s: float = MIN_FILL_S
    max_age_s: float = MAX_AGE_S
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(PER_HOUR / 3600, BURST))
    used: ReplayCache = field(default_factory=ReplayCache)

    def stamp(self, now: float) -> str:
        issued = f"{int(now)}.{secrets.token_hex(8)}"
        return f"{issued}.{self._mac(issued)}"

    def _mac(self, issued: str) -> str:
        return hmac.new(self.key, issued.encode(), hashlib.sha256).hexdigest()[:32]

    def admit(self, address: str) -> float:
        """0 when this address may post now, else the seconds to wait."""
        return self.limiter.take(address, 1)

    def check(self, stamp: str, honeypot: str, now: float) -> None:
        """Raise FormRefused unless the post carries a fresh stamp of ours, used for the first
        time, and an empty honeypot."""
        if honeypot.strip():
            raise FormRefused(HONEYPOT_FIELD, "ô “website” phải để trống")
        issued, _, mac = stamp.rpartition(".")
        seconds, _, nonce = issued.partition(".")
        if not (seconds.isdigit() and nonce and len(stamp) <= 80):
            raise FormRefused(STAMP_FIELD, "biểu mẫu không hợp lệ: mở lại trang phản ánh rồi gửi")
        if not hmac.compare_digest(mac.encode(), self._mac(issued).encode()):
            raise FormRefused(STAMP_FIELD, "biểu mẫu không hợp lệ: mở lại trang phản ánh rồi gửi")
        age = now - int(seconds)
        if age < self.min_fill_s:
            raise FormRefused(
                STAMP_FIELD, "gửi quá nhanh sau khi mở trang: đợi vài giây rồi bấm Gửi lại"
            )
        if age > self.max_age_s:
            raise FormRefused(STAMP_FIELD, "biểu mẫu đã mở quá lâu: tải lại trang rồi gửi")
        if not self.used.first_use(mac, int(seconds) + self.max_age_s, now):
            raise FormRefused(STAMP_FIELD, "phản ánh này đã được gửi rồi (không gửi lại hai lần)")

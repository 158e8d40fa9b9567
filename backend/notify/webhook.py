"""The SMS carrier's webhook proves itself: an HMAC-SHA256 of a timestamp and the body.

The carrier sends ``X-Sangsach-Timestamp: <unix seconds>`` and ``X-Sangsach-Signature:
sha256=<hex>``, the HMAC-SHA256 with the shared secret of ``<timestamp>.`` followed by the raw
body. A request is taken when its timestamp is within the allowed skew of our clock and its
signature was not seen before: a captured request cannot be replayed, neither later (its
timestamp is then too old) nor at once (its signature is then in the replay cache).

The replay cache lives in the process. With several backend replicas each keeps its own, so a
request replayed to another replica within the skew would pass there (issue 20 shares it).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re
import threading
from typing import Final

TIMESTAMP_HEADER: Final = "X-Sangsach-Timestamp"
SIGNATURE_HEADER: Final = "X-Sangsach-Signature"
SECRET_HEADER: Final = "X-Sangsach-Webhook-Secret"  # noqa: S105 - a header name
PREFIX: Final = "sha256="
MAX_REMEMBERED: Final = 100_000  # signed calls within one skew window, far above a commune's

_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,12}")


class WebhookRefused(Exception):
    """A call that does not prove itself; the message names the header and the reason."""


class ReplayCacheFull(Exception):
    """More signed calls within the skew window than the cache remembers: try again later."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` with the shared secret."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    """The two headers a sender adds to a call carrying ``body`` (tests, a carrier adapter)."""
    timestamp = str(int(now))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: PREFIX + signature(secret, timestamp, body),
    }


class ReplayCache:
    """Signatures already used, each kept until its timestamp leaves the skew window.

    Bounded and thread-safe. When full of signatures still in their window it refuses new ones
    (``ReplayCacheFull``) rather than forget one that could then be replayed.
    """

    def __init__(self, max_entries: int = MAX_REMEMBERED) -> None:
        self.max_entries = max_entries
        self._until: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []  # a heap: the first to expire on top
        self._lock = threading.Lock()

    def first_use(self, key: str, until: float, now: float) -> bool:
        """Remember ``key`` until ``until``; False when it is remembered already."""
        with self._lock:
            while self._expiry and self._expiry[0][0] < now:
                _, old = heapq.heappop(self._expiry)
                del self._until[old]
            if key in self._until:
                return False
            if len(self._until) >= self.max_entries:
                raise ReplayCacheFull(
                    f"{len(self._until)} signed webhook calls within the skew window: "
                    "try again in a minute"
                )
            self._until[key] = until
            heapq.heappush(self._expiry, (until, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._until)


def verify(
    secret: str,
    timestamp: str | None,
    signed: str | None,
    body: bytes,
    *,
    now: float,
    max_skew_s: float,
    replays: ReplayCache,
) -> None:
    """Raise WebhookRefused unless this call is signed with ``secret``, recent and new."""
    if not secret:
        raise WebhookRefused("SANGSACH_SMS_WEBHOOK_SECRET is empty: every call is refused")
    if not timestamp:
        raise WebhookRefused(f"missing {TIMESTAMP_HEADER} (unix seconds, signed with the body)")
    if not _UNIX_SECONDS.fullmatch(timestamp.strip()):
        raise WebhookRefused(f"{TIMESTAMP_HEADER} must be unix seconds (digits): {timestamp!r}")
    timestamp = timestamp.strip()
    skew = abs(now - int(timestamp))
    if skew > max_skew_s:
        raise WebhookRefused(
            f"{TIMESTAMP_HEADER} is {skew:.0f} s away from the server's clock, more than the "
            f"{max_skew_s:g} s allowed (SANGSACH_SMS_WEBHOOK_MAX_SKEW_S): a stale or replayed "
            "request, or a clock to set right"
        )
    if not signed:
        raise WebhookRefused(f"missing {SIGNATURE_HEADER} ({PREFIX}<hex>)")
    expected = PREFIX + signature(secret, timestamp, body)
    given = signed.strip().lower().encode()
    if not hmac.compare_digest(given, expected.encode()):
        raise WebhookRefused(
            f"wrong {SIGNATURE_HEADER}: it must be {PREFIX}<hex of the HMAC-SHA256, with the "
            f"shared secret, of the {TIMESTAMP_HEADER} value, a dot and the raw body>"
        )
    if not replays.first_use(expected, int(timestamp) + max_skew_s, now):
        raise WebhookRefused(
            f"{SIGNATURE_HEADER} already used: a replayed request is refused (sign every call "
            "with its own timestamp)"
        )

"""The keys and signatures of update offers.

Each node holds its own key (``ota_key`` in its settings.json), derived from the installation's
``SANGSACH_FIRMWARE_KEY`` and the node's id: a key read out of one node's flash signs nothing
for another. An offer is the release as JSON text and HMAC-SHA256 of that text under the node's
key; the node checks it with ``firmware/lib/ota.py``'s ``hmac_sha256`` (the same RFC 2104
construction, byte for byte).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

_CONTEXT = b"sangsach-ota-v1:"


def device_key(master: str, device_id: str) -> bytes:
    """The 32-byte key of one node."""
    return hmac.new(master.encode(), _CONTEXT + device_id.encode(), hashlib.sha256).digest()


def sign(key: bytes, release_text: str) -> str:
    return hmac.new(key, release_text.encode(), hashlib.sha256).hexdigest()


def release_text(release: dict[str, Any]) -> str:
    """The release as the node reads and the signature covers it: compact, keys in order."""
    return json.dumps(release, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def offer(master: str, device_id: str, release: dict[str, Any]) -> bytes:
    """The retained ``.../update`` payload for one device."""
    text = release_text(release)
    body = {"release": text, "sig": sign(device_key(master, device_id), text)}
    return json.dumps(body, separators=(",", ":")).encode()

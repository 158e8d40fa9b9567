"""The webhook's replay cache: a signature is taken once within its window, forgotten after,
and a full cache refuses rather than forgets; threads racing on one signature let one through."""

from __future__ import annotations

import threading

import pytest

from sangsach.backend.notify.webhook import (
    ReplayCache,
    ReplayCacheFull,
    WebhookRefused,
    signed_headers,
    verify,
)

SECRET = "a-shared-secret"
NOW = 1_780_000_000.0


def test_a_signature_is_taken_once_until_its_window_ends() -> None:
    cache = ReplayCache()
    assert cache.first_use("a", NOW + 300, NOW)
    assert not cache.first_use("a", NOW + 300, NOW + 299)
    assert cache.first_use("a", NOW + 900, NOW + 301)  # its timestamp would be refused by now
    assert len(cache) == 1


def test_a_full_cache_refuses_new_signatures_and_frees_the_expired() -> None:
    cache = ReplayCache(max_entries=3)
    for key in "abc":
        assert cache.first_use(key, NOW + 10, NOW)
    with pytest.raises(ReplayCacheFull):
        cache.first_use("d", NOW + 10, NOW)
    assert not cache.first_use("a", NOW + 10, NOW)  # still remembered
    assert cache.first_use("d", NOW + 30, NOW + 11)  # a, b and c expired
    assert len(cache) == 1


def test_of_threads_racing_with_one_signature_one_gets_through() -> None:
    cache = ReplayCache()
    taken: list[bool] = []
    start = threading.Barrier(8)

    def use() -> None:
        start.wait()
        taken.append(cache.first_use("same", NOW + 300, NOW))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 7 + [True]


def test_verify_takes_a_fresh_signature_once() -> None:
    body = b'{"from": "+84912000181", "text": "OK 1"}'
    headers = signed_headers(SECRET, body, NOW)
    timestamp, signature = headers["X-Sangsach-Timestamp"], headers["X-Sangsach-Signature"]
    cache = ReplayCache()
    verify(SECRET, timestamp, signature.upper().replace("SHA256=", "sha256="), body,
           now=NOW + 5, max_skew_s=300, replays=cache)  # fmt: skip
    with pytest.raises(WebhookRefused, match="already used"):
        verify(SECRET, timestamp, signature, body, now=NOW + 6, max_skew_s=300, replays=cache)
    with pytest.raises(WebhookRefused, match="301 s away"):
        verify(SECRET, timestamp, signature, body, now=NOW + 301, max_skew_s=300, replays=cache)

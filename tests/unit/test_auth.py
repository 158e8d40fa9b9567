"""Auth without I/O: the ingest rate limiter's bucket, the roles, and the secrets refused in
production."""

from __future__ import annotations

import secrets

import pytest

from sangsach.backend.auth import ratelimit
from sangsach.backend.auth.csrf import csrf_ok, csrf_token
from sangsach.backend.auth.ratelimit import RateLimiter
from sangsach.backend.auth.roles import Role, allows
from sangsach.config import DEV_ADMIN_TOKEN, BackendSettings, SettingsError, load


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_admits_the_burst_then_the_rate_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    assert limiter.take("gw-1", 20) == 0
    assert limiter.take("gw-1", 5) == pytest.approx(0.5)  # 5 missing at 10/s
    assert limiter.take("gw-2", 20) == 0  # its own bucket
    clock.now += 0.5
    assert limiter.take("gw-1", 5) == 0
    clock.now += 100
    assert limiter.take("gw-1", 21) == 0  # refilled, but never above the burst...
    assert limiter.take("gw-1", 1) > 0


def test_a_batch_larger_than_the_burst_passes_once_full_and_leaves_a_debt() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    assert limiter.take("gw-1", 50) == 0  # never refused for ever
    assert limiter.take("gw-1", 1) == pytest.approx(3.1)  # 30 owed plus the one asked
    clock.now += 3.1
    assert limiter.take("gw-1", 1) == 0


def test_full_buckets_are_forgotten_when_keys_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 3)
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    for key in ("a", "b", "c"):
        limiter.take(key, 20)
    clock.now += 1  # "a" to "c" are half refilled: still remembered
    limiter.take("d", 1)
    assert limiter.take("a", 20) == pytest.approx(1.0)
    clock.now += 100  # all full again: forgotten for the next newcomer
    limiter.take("e", 1)
    assert set(limiter._buckets) == {"e"}


def test_a_zero_rate_turns_the_limit_off() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.take("gw-1", 10_000) == 0 for _ in range(5))


def test_staff_roles_are_ranked_and_the_gateway_stands_apart() -> None:
    assert allows(Role.ADMIN, Role.OPERATOR) and allows(Role.OPERATOR, Role.VIEWER)
    assert not allows(Role.VIEWER, Role.OPERATOR) and not allows(Role.OPERATOR, Role.ADMIN)
    assert allows(Role.GATEWAY, Role.GATEWAY)
    assert not allows(Role.ADMIN, Role.GATEWAY)  # only gateways ingest
    assert not allows(Role.GATEWAY, Role.VIEWER)


def test_csrf_tokens_belong_to_one_session() -> None:
    token = csrf_token("session-a")
    assert csrf_ok("session-a", token)
    assert not csrf_ok("session-b", token)
    assert not csrf_ok("session-a", "")


def test_production_refuses_a_default_empty_short_or_guessable_admin_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SANGSACH_ENV", "production")
    monkeypatch.setenv("SANGSACH_INGEST_TOKEN", secrets.token_hex(32))
    monkeypatch.setenv("SANGSACH_SMS_WEBHOOK_SECRET", secrets.token_urlsafe(32))
    monkeypatch.setenv("SANGSACH_FIRMWARE_KEY", secrets.token_hex(32))
    refused = {
        DEV_ADMIN_TOKEN: "must be set",
        "": "must be set",
        "too-short": "9 characters",
        "a" * 16: "16 characters",
        "a" * 40: "different characters",
        "admin-secret" * 4: "repeats a pattern of 12",
        "0123456789abcdef" * 3: "repeats a pattern of 16",
        "x" * 12 + "0123456789abcdefghijklmn": "more than a quarter",
    }
    for value, reason in refused.items():
        monkeypatch.setenv("SANGSACH_ADMIN_TOKEN", value)
        with pytest.raises(SettingsError, match=f"SANGSACH_ADMIN_TOKEN .*{reason}"):
            load(BackendSettings)
    for good in (secrets.token_hex(32), secrets.token_urlsafe(32), secrets.token_hex(16)):
        if len(set(good)) < 10:  # one 32-hex secret in a few hundred: rare, and refused
            continue
        monkeypatch.setenv("SANGSACH_ADMIN_TOKEN", good)
        assert load(BackendSettings).admin_token.get_secret_value() == good


def test_the_admin_and_gateway_secrets_must_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANGSACH_ADMIN_TOKEN", "one-secret-for-both-roles")
    monkeypatch.setenv("SANGSACH_INGEST_TOKEN", "one-secret-for-both-roles")
    with pytest.raises(SettingsError, match="must differ"):
        load(BackendSettings)

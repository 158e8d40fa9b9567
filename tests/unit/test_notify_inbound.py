"""Reading SMS replies: OK and XONG with a code, in the ways people type them."""

from __future__ import annotations

import pytest

from sangsach.backend.notify.inbound import Refused, Reply, normalize_phone, parse_reply


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("OK 123", Reply("ack", "123")),
        ("ok123", Reply("ack", "123")),
        ("Ok  123", Reply("ack", "123")),
        ("  oK 7\n", Reply("ack", "7")),
        ("OK: 4711.", Reply("ack", "4711")),
        ("XONG 123", Reply("done", "123")),
        ("xong 123", Reply("done", "123")),
        ("Xong 123!", Reply("done", "123")),
        ("XONG#000123", Reply("done", "000123")),
    ],
)
def test_replies_are_read(text: str, reply: Reply) -> None:
    assert parse_reply(text) == reply


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty message"),
        ("   ", "empty message"),
        ("Xông 123", "starts with OK or XONG"),
        ("Chào anh", "starts with OK or XONG"),
        ("OKE 123", "starts with OK or XONG"),
        ("123 OK", "starts with OK or XONG"),
        ("OK", "followed by the code"),
        ("OK abc", "followed by the code"),
        ("OK 1234567", "followed by the code"),
        ("XONG 123 chưa xong", "and nothing else"),
        ("OK 123 456", "and nothing else"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, reason: str) -> None:
    refused = parse_reply(text)
    assert isinstance(refused, Refused)
    assert reason in refused.reason


@pytest.mark.parametrize(
    "raw", ["+84912000107", "84912000107", "0912000107", "0912 000 107", "091.200.0107"]
)
def test_phone_numbers_are_read_as_e164(raw: str) -> None:
    assert normalize_phone(raw) == "+84912000107"

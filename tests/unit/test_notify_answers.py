"""Answers to SMS replies: one GSM-7 segment without diacritics, one per reply, none to a
stranger; the same reply delivered twice has the same answer id."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sangsach.backend.notify.answers import ANSWERS, answer_id, answer_text, answers_table
from sangsach.backend.notify.inbound import Outcome
from sangsach.backend.notify.text import fits_one_segment, to_gsm7

DOCS = Path(__file__).parents[2] / "docs" / "sms.md"
PHONE = "+84912000181"


@pytest.mark.parametrize(
    ("outcome", "text", "answer"),
    [
        (Outcome(1, "accepted", "", "done", "3"), "XONG 3", "Da ghi nhan XONG 3. Cam on."),
        (Outcome(1, "accepted", "", "ack", "3"), "ok3",
         "Da ghi nhan OK 3. Khi xong, gui XONG 3."),
        (Outcome(1, "unparseable", ""), "Chào anh",
         "Khong hieu tin nhan. Gui: OK <ma> khi nhan viec, XONG <ma> khi xong."),
        (Outcome(1, "unparseable", ""), "Xong 3 rồi",
         "Khong hieu tin nhan. Neu da xong, chi gui: XONG 3"),
        (Outcome(1, "unparseable", ""), "ok: 12 nhé", "Khong hieu tin nhan. Neu nhan viec, chi gui: OK 12"),
        (Outcome(1, "unknown_alert", "", "done", "999"), "XONG 999",
         "Khong co canh bao ma 999. Xem lai ma trong tin da nhan."),
        (Outcome(1, "not_recipient", "", "done", "5"), "XONG 5",
         "Canh bao 5 khong giao cho so may nay nen chua duoc ghi nhan."),
    ],
)  # fmt: skip
def test_each_outcome_has_its_answer(outcome: Outcome, text: str, answer: str) -> None:
    assert answer_text(outcome, text) == answer


def test_a_stranger_gets_no_answer() -> None:
    assert answer_text(Outcome(1, "unknown_sender", "not in the registry"), "XONG 3") is None


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_every_answer_fits_one_gsm7_segment_without_diacritics(name: str) -> None:
    sent = to_gsm7(ANSWERS[name].format(code="999999"))  # the longest code
    assert fits_one_segment(sent, "gsm7")
    assert len(sent) <= 160 and sent.isascii() and "?" not in sent


def test_docs_list_every_answer() -> None:
    assert answers_table() in DOCS.read_text(), "docs/sms.md: paste answers_table() again"


def test_the_same_reply_delivered_again_has_the_same_answer_id() -> None:
    at = 1_780_000_000.0
    first = answer_id(PHONE, "XONG 3", at, None)
    assert answer_id(PHONE, "XONG 3", at + 120, None) == first  # a carrier's repeat
    assert answer_id(PHONE, "XONG 4", at, None) != first
    assert answer_id("+84912000182", "XONG 3", at, None) != first
    assert answer_id(PHONE, "XONG 3", at + 86_400, None) != first  # the next day: answered again
    by_carrier = answer_id(PHONE, "XONG 3", at, "msg-77")
    assert answer_id(PHONE, "XONG 3", at + 86_400, "msg-77") == by_carrier
    assert answer_id(PHONE, "XONG 3", at, "msg-78") != by_carrier
    assert re.fullmatch(r"answer:\+84912000181:[0-9a-f]{20}", first)

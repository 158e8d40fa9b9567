"""A gateway's batch that names the one it follows is stored only after it, and refused when
that one failed or never came (backend/batchorder.py)."""

from __future__ import annotations

import threading
import time

import pytest

from sangsach.backend.batchorder import BatchOrder, OutOfOrder


def _later(order: BatchOrder, after: str | None) -> tuple[threading.Thread, list[str]]:
    outcome: list[str] = []

    def follow() -> None:
        try:
            order.wait_for("gw-1", after)
            outcome.append("go")
        except OutOfOrder as err:
            outcome.append(f"refused: {err}")

    thread = threading.Thread(target=follow)
    thread.start()
    return thread, outcome


def test_a_batch_waits_until_the_one_before_it_is_stored() -> None:
    order = BatchOrder(unseen_wait_s=5.0)
    order.begin("gw-1", "aa")
    thread, outcome = _later(order, "aa")
    time.sleep(0.2)
    assert outcome == [], "it went before the batch it follows was stored"
    order.end("gw-1", "aa", stored=True)
    thread.join(timeout=5)
    assert outcome == ["go"]


def test_a_batch_that_arrives_first_waits_for_the_one_sent_before_it() -> None:
    order = BatchOrder(unseen_wait_s=5.0)
    thread, outcome = _later(order, "aa")  # "aa" not seen yet: sent together, a moment behind
    time.sleep(0.1)
    order.begin("gw-1", "aa")
    time.sleep(0.1)
    assert outcome == []
    order.end("gw-1", "aa", stored=True)
    thread.join(timeout=5)
    assert outcome == ["go"]


def test_a_batch_behind_one_not_stored_is_refused_at_once() -> None:
    order = BatchOrder(busy_wait_s=30.0)
    order.begin("gw-1", "aa")
    thread, outcome = _later(order, "aa")
    order.end("gw-1", "aa", stored=False)
    thread.join(timeout=5)
    assert len(outcome) == 1 and "'aa', sent before this one, was not stored" in outcome[0]


@pytest.mark.parametrize("seen", [False, True])
def test_a_batch_behind_one_not_seen_or_stuck_is_refused_after_a_while(seen: bool) -> None:
    order = BatchOrder(busy_wait_s=0.4, unseen_wait_s=0.2)
    if seen:
        order.begin("gw-1", "aa")
    start = time.monotonic()
    with pytest.raises(OutOfOrder, match="is still being stored" if seen else "never arrived"):
        order.wait_for("gw-1", "aa")
    assert time.monotonic() - start >= (0.4 if seen else 0.2)


def test_batches_are_told_apart_by_gateway_and_one_naming_none_goes_at_once() -> None:
    order = BatchOrder(unseen_wait_s=0.1)
    order.begin("gw-1", "aa")
    order.end("gw-1", "aa", stored=True)
    order.wait_for("gw-1", "aa")
    order.wait_for("gw-2", None)
    with pytest.raises(OutOfOrder):
        order.wait_for("gw-2", "aa")  # another gateway's batch of the same name


def test_only_the_latest_outcomes_are_kept() -> None:
    order = BatchOrder(remember=3, unseen_wait_s=0.05)
    for n in range(5):
        order.begin("gw-1", f"{n}")
        order.end("gw-1", f"{n}", stored=True)
    order.wait_for("gw-1", "4")
    with pytest.raises(OutOfOrder):
        order.wait_for("gw-1", "0")


def test_a_batch_that_names_itself_as_the_one_before_is_refused_at_once() -> None:
    order = BatchOrder(busy_wait_s=30.0)
    start = time.monotonic()
    with pytest.raises(OutOfOrder, match="names itself"):
        order.begin("gw-1", "ab", after="ab")
    assert time.monotonic() - start < 1.0
    order.begin("gw-1", "ab", after="cd")  # another name: as usual

"""Campaigns without a database: the checks of a recorded campaign, how its days and villages
read, the count per village, and a day typed in a form."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from sangsach.backend.api.campaigns import CampaignIn, entry
from sangsach.backend.campaigns import Campaign, per_village
from sangsach.backend.web.render import form_day

KNOWN = ["dong-ha", "phu-khe", "lac-duc"]
NAMES = {"dong-ha": "Thôn Đông Hạ", "phu-khe": "Thôn Phú Khê", "lac-duc": "Thôn Lạc Dục"}


def campaign(first: date, last: date, villages: tuple[str, ...], whole: bool = False) -> Campaign:
    return Campaign(
        name="Chủ nhật xanh", kind="chu_nhat_xanh", first_day=first, last_day=last,
        village_ids=villages, all_villages=whole, participants=None, note=None, entered_by="x",
        id=1, entered_at=0.0, corrected_at=None,
    )  # fmt: skip


def refused(**body: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        CampaignIn.model_validate(body)
    return {str(e["loc"][0]): e["type"] for e in caught.value.errors()}


def test_defaults_name_the_campaign_after_its_kind_and_keep_every_village_for_all() -> None:
    sunday = CampaignIn.model_validate({"first_day": "2026-06-14", "villages": ["phu-khe"]})
    kept = entry(sunday, KNOWN, "Chị Lan")
    assert (kept.name, kept.kind, kept.last_day) == ("Chủ nhật xanh", "chu_nhat_xanh",
                                                     date(2026, 6, 14))  # fmt: skip
    assert (kept.village_ids, kept.entered_by) == (("phu-khe",), "Chị Lan")
    whole = CampaignIn.model_validate(
        {
            "kind": "tong_ve_sinh",
            "first_day": "2026-03-01",
            "all_villages": True,
            "name": "  ",
            "entered_by": "MTTQ xã",
        }
    )
    kept = entry(whole, KNOWN, "Chị Lan")
    assert (kept.name, kept.village_ids, kept.entered_by) == (
        "Tổng vệ sinh môi trường", tuple(KNOWN), "MTTQ xã",
    )  # fmt: skip


def test_each_check_names_its_field() -> None:
    day = {"first_day": "2026-06-14", "villages": ["dong-ha"]}
    assert refused(**{**day, "last_day": "2026-06-13"}) == {"last_day": "campaign_ends_before"}
    assert refused(**{**day, "last_day": "2026-07-15"}) == {"last_day": "campaign_too_long"}
    assert CampaignIn.model_validate({**day, "last_day": "2026-07-14"})  # 31 days, both counted
    assert refused(**{**day, "kind": "other"}) == {"name": "campaign_name_missing"}
    assert refused(**{**day, "villages": []}) == {"villages": "campaign_no_village"}
    assert refused(**{**day, "first_day": "1999-12-31"}) == {"first_day": "greater_than_equal"}
    assert refused(**{**day, "participants": 0}) == {"participants": "greater_than_equal"}
    assert refused(**{**day, "extra": 1}) == {"extra": "extra_forbidden"}


def test_days_and_villages_read_as_the_office_writes_them() -> None:
    one = campaign(date(2026, 6, 14), date(2026, 6, 14), ("phu-khe", "dong-ha"))
    assert one.days_text == "Chủ nhật, 14/06/2026"
    assert one.villages_text(NAMES) == "Thôn Đông Hạ, Thôn Phú Khê"  # the registry's order
    run = campaign(date(2026, 6, 30), date(2026, 7, 1), tuple(KNOWN), whole=True)
    assert (run.days_text, run.villages_text(NAMES)) == ("30/06/2026 – 01/07/2026", "Cả xã")
    gone = campaign(date(2026, 6, 14), date(2026, 6, 14), ("dong-ha", "old-village"))
    assert gone.villages_text(NAMES) == "Thôn Đông Hạ, old-village"  # taken out of the registry
    assert per_village([one, run], KNOWN) == {"dong-ha": 2, "phu-khe": 2, "lac-duc": 1}


@pytest.mark.parametrize(
    ("typed", "read"),
    [("14/6/2026", "2026-06-14"), (" 01/12/2026 ", "2026-12-01"), ("", None), ("  ", None),
     ("2026-06-14", "2026-06-14"), ("31/02/2026", "2026-02-31"), ("mai", "mai")],
)  # fmt: skip
def test_a_day_typed_in_a_form_is_read_as_the_api_reads_it(typed: str, read: str | None) -> None:
    assert form_day(typed) == read

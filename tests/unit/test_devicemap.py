"""The overview map's village names: over each village's own devices, inside the drawing."""

from __future__ import annotations

from sangsach.backend.web.devicemap import HEIGHT, LABEL_GAP, LABEL_HALF, MARGIN, WIDTH, Dot, labels

NAMES = {"dong-ha": "Thôn Đông Hạ", "phu-khe": "Thôn Phú Khê", "lac-duc": "Thôn Lạc Dục"}


def dot(village: str, x: float, y: float) -> Dot:
    return Dot(f"lamp-{village}-{x}-{y}", x, y, "never", village)


def test_a_name_is_centred_over_its_villages_devices_just_above_the_topmost() -> None:
    placed = [dot("dong-ha", 300, 200), dot("dong-ha", 340, 260), dot("phu-khe", 600, 400)]
    dong_ha, phu_khe = labels(placed, NAMES)
    assert (dong_ha.village_id, dong_ha.name) == ("dong-ha", "Thôn Đông Hạ")
    assert (dong_ha.x, dong_ha.y) == (320, 200 - LABEL_GAP)
    assert (phu_khe.name, phu_khe.x, phu_khe.y) == ("Thôn Phú Khê", 600, 400 - LABEL_GAP)


def test_names_stay_inside_the_drawing_and_only_villages_with_devices_get_one() -> None:
    placed = [dot("dong-ha", 0, MARGIN), dot("phu-khe", WIDTH, HEIGHT - MARGIN)]
    shown = {label.village_id: label for label in labels(placed, NAMES)}
    assert set(shown) == {"dong-ha", "phu-khe"}  # lac-duc has no located device
    assert (shown["dong-ha"].x, shown["dong-ha"].y) == (LABEL_HALF, MARGIN)
    assert shown["phu-khe"].x == WIDTH - LABEL_HALF
    assert labels([dot("moi", 450, 300)], NAMES)[0].name == "moi"  # a name missing: its id

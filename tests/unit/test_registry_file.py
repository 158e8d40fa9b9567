"""The registry file: the sample loads; every error names the file, the line and the field."""

from __future__ import annotations

import pytest

from sangsach.registry_file import SAMPLE_REGISTRY, RegistryFileError, load_registry, parse_registry

SAMPLE = SAMPLE_REGISTRY.read_text(encoding="utf-8")


def test_sample_commune_has_the_promised_size() -> None:
    commune = load_registry(SAMPLE_REGISTRY)
    devices = list(commune.devices())
    assert len(commune.villages) == 10
    assert sum(d.kind == "lamp" for d in devices) == 300
    assert sum(d.kind == "bin" for d in devices) == 80
    assert {t.role for t in commune.teams} == {"collection", "lighting"}
    assert all(v.head.phone.startswith("+84") for v in commune.villages)


def test_a_commune_without_a_district_loads() -> None:
    """Since 2025 a commune belongs directly to its province: the district is optional."""
    text = SAMPLE.replace("  district: Thanh Miện\n", "", 1)
    assert "district" not in text.split("villages:", 1)[0]
    commune = parse_registry(text, "commune.yaml")
    assert commune.commune.district is None
    assert commune.commune.province == load_registry(SAMPLE_REGISTRY).commune.province


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def error_for(text: str) -> str:
    with pytest.raises(RegistryFileError) as err:
        parse_registry(text, "commune.yaml")
    return str(err.value)


def test_out_of_range_value_names_line_and_field() -> None:
    text = SAMPLE.replace("lat: 20.69686", "lat: 120.69686", 1)
    message = error_for(text)
    assert message.startswith(f"commune.yaml:{line_of(text, 'lat: 120.69686')}: ")
    assert "villages[0].lanes[0].lamps[0].lat: Input should be less than or equal to 90" in message


def test_missing_field_points_at_its_parent() -> None:
    text = SAMPLE.replace("    census: {households: 446,", "    censu: {households: 446,", 1)
    message = error_for(text)
    assert "villages[0].census: Field required" in message
    assert "villages[0].censu: Extra inputs are not permitted" in message


def test_bad_phone_number() -> None:
    text = SAMPLE.replace('phone: "0912000107"', 'phone: "12345"', 1)
    message = error_for(text)
    assert f"commune.yaml:{line_of(text, '12345')}: villages[0].head.phone" in message
    assert "not a Vietnamese mobile number" in message


def test_duplicate_device_id() -> None:
    text = SAMPLE.replace("id: lamp-dong-ha-002", "id: lamp-dong-ha-001", 1)
    assert "duplicate device id: lamp-dong-ha-001" in error_for(text)


def test_duplicate_key_and_bad_yaml() -> None:
    assert "duplicate key 'name'" in error_for("commune:\n  name: a\n  name: b\n")
    assert error_for("villages: [\n").startswith("commune.yaml:2: not valid YAML")


def test_team_serving_unknown_village() -> None:
    text = SAMPLE.replace("villages: [dong-ha,", "villages: [atlantis,", 1)
    assert "team thu-gom-1 serves unknown village(s) atlantis" in error_for(text)


def test_installed_and_removed_dates_are_read_and_checked() -> None:
    dated = "{id: lamp-dong-ha-001, installed: 2026-03-01, removed: 2026-09-01, lat: 20.69686,"
    commune = parse_registry(SAMPLE.replace("{id: lamp-dong-ha-001, lat: 20.69686,", dated, 1))
    lamp = commune.villages[0].lanes[0].lamps[0]
    assert (str(lamp.installed), str(lamp.removed)) == ("2026-03-01", "2026-09-01")
    backwards = "{id: lamp-dong-ha-001, installed: 2026-09-01, removed: 2026-03-01, lat: 20.69686,"
    text = SAMPLE.replace("{id: lamp-dong-ha-001, lat: 20.69686,", backwards, 1)
    message = error_for(text)
    assert message.startswith(f"commune.yaml:{line_of(text, 'installed: 2026-09-01')}: ")
    assert "lamps[0]: Value error, removed 2026-03-01 is not after installed 2026-09-01" in message
    # YAML itself refuses the date (the first wave crashed with a traceback here).
    bad_date = SAMPLE.replace("lat: 20.69686,", "installed: 2026-13-01, lat: 20.69686,", 1)
    assert error_for(bad_date) == (
        f"commune.yaml:{line_of(bad_date, '2026-13-01')}: villages[0].lanes[0].lamps[0].installed:"
        " '2026-13-01' is not valid: month must be in 1..12"
    )
    assert "installed: Input should be a valid date" in error_for(
        SAMPLE.replace("lat: 20.69686,", "installed: soon, lat: 20.69686,", 1)
    )


def test_the_score_formula_is_the_communes_and_checked() -> None:
    tuned = "  timezone: Asia/Ho_Chi_Minh\nscores: {sang_target_pct: 90, coverage_floor_pct: 70}\n"
    commune = parse_registry(SAMPLE.replace("  timezone: Asia/Ho_Chi_Minh\n", tuned, 1))
    assert (commune.scores.sang_target_pct, commune.scores.coverage_floor_pct) == (90, 70)
    assert commune.scores.collection_target_pct == 90.0  # a default kept
    wrong = "  timezone: Asia/Ho_Chi_Minh\nscores: {sang_weight: 60, sach_weight: 50}\n"
    message = error_for(SAMPLE.replace("  timezone: Asia/Ho_Chi_Minh\n", wrong, 1))
    assert "scores: Value error, sang_weight + sach_weight must be 100, got 60 + 50" in message
    floor = "  timezone: Asia/Ho_Chi_Minh\nscores: {coverage_floor_pct: 120}\n"
    assert "scores.coverage_floor_pct: Input should be less than or equal to 100" in error_for(
        SAMPLE.replace("  timezone: Asia/Ho_Chi_Minh\n", floor, 1)
    )

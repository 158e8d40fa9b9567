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

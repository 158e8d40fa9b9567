"""The registry's optional ``report`` mapping: the printed report's heading and signatures."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sangsach.cli import main
from sangsach.registry_file import SAMPLE_REGISTRY, parse_registry

SAMPLE = SAMPLE_REGISTRY.read_text(encoding="utf-8")


def test_defaults_come_from_the_commune() -> None:
    commune = parse_registry(SAMPLE)
    heading = commune.report
    assert heading.issuer_of(commune.commune) == (
        "ỦY BAN MẶT TRẬN TỔ QUỐC VIỆT NAM XÃ CHI LĂNG BẮC"
    )
    assert heading.place_of(commune.commune) == "Chi Lăng Bắc"
    assert (heading.issuer_unit, heading.signer_title, heading.signer_role) == (
        "BAN THƯỜNG TRỰC", "TM. BAN THƯỜNG TRỰC", "CHỦ TỊCH"
    )  # fmt: skip
    assert (heading.motto, heading.signer, heading.preparer) == (True, None, None)


def test_a_heading_of_its_own() -> None:
    text = SAMPLE + (
        "report:\n  issuer: ỦY BAN MTTQ VIỆT NAM PHƯỜNG AN LẠC\n  place: An Lạc\n"
        "  signer: Trần Văn Bình\n  preparer: Lê Thị Hoa\n  issuer_unit: null\n"
    )
    commune = parse_registry(text)
    assert commune.report.issuer_of(commune.commune) == "ỦY BAN MTTQ VIỆT NAM PHƯỜNG AN LẠC"
    assert commune.report.place_of(commune.commune) == "An Lạc"
    assert (commune.report.signer, commune.report.issuer_unit) == ("Trần Văn Bình", None)


def test_registry_check_names_the_line_of_a_bad_heading(tmp_path: Path) -> None:
    lines = SAMPLE.count("\n")
    bad = tmp_path / "xa.yaml"
    bad.write_text(SAMPLE + 'report:\n  issuer: "  "\n  place: "Chi\\nLăng"\n  seal: yes\n')
    result = CliRunner().invoke(main, ["registry", "check", str(bad)])
    assert result.exit_code != 0
    assert f"xa.yaml:{lines + 2}: report.issuer: String should match pattern" in result.output
    assert f"xa.yaml:{lines + 3}: report.place: String should match pattern" in result.output
    assert "report.seal: Extra inputs are not permitted" in result.output

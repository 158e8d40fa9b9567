"""The central broker's bridges ACL without a broker: its blocks, its refusals, its command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sangsach.broker import bridges
from sangsach.cli import main
from sangsach.registry_file import SAMPLE_REGISTRY
from sangsach.registry_gen import generate

ROOT = Path(__file__).parents[2]


def test_each_bridge_gets_its_communes_devices_only() -> None:
    text = bridges.render({"xa-b": ["lamp-b-1"], "xa-a": ["lamp-a-2", "lamp-a-1"]})
    blocks = [block.splitlines() for block in text.split("\n\n")[1:]]
    assert blocks == [
        ["user bridge-xa-a"]
        + [
            f"topic {mode} sangsach/v1/{device}/{channel}"
            for device in ("lamp-a-1", "lamp-a-2")
            for mode, channel in bridges.BRIDGE_ACCESS
        ],
        ["user bridge-xa-b"]
        + [
            f"topic {mode} sangsach/v1/lamp-b-1/{channel}"
            for mode, channel in bridges.BRIDGE_ACCESS
        ],
    ]
    assert {channel: mode for mode, channel in bridges.BRIDGE_ACCESS} == {
        "telemetry": "write",
        "status": "write",
        "cmd": "read",
        "config": "read",
        "update": "read",
    }


def test_a_device_of_two_communes_and_a_bad_commune_id_are_refused() -> None:
    with pytest.raises(bridges.BridgeError, match=r"lamp-1 có trong cả hai xã.*xa-a và xa-b"):
        bridges.render({"xa-a": ["lamp-1"], "xa-b": ["lamp-1"]})
    for bad in ("Xa-A", "xa a", "-xa", "xa-", "x" * 41, "xa/#"):
        with pytest.raises(bridges.BridgeError, match="commune id"):
            bridges.bridge_user(bad)
    assert bridges.bridge_user("x" * 40) == "bridge-" + "x" * 40


def test_bridges_acl_command_writes_the_file_or_names_the_error(tmp_path: Path) -> None:
    other = tmp_path / "xa-b.yaml"
    other.write_text(generate(1, 2, 1, seed=3), encoding="utf-8")
    out = tmp_path / "auth" / "acl-bridges"
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["bridges", "acl", f"chi-lang-bac={SAMPLE_REGISTRY}", f"xa-b={other}", "--out", str(out)],
    )
    assert done.exit_code == 0, done.output
    assert "2 xã, 383 thiết bị" in done.output
    assert out.stat().st_mode & 0o777 == 0o640  # the broker reads it through its group
    text = out.read_text(encoding="utf-8")
    assert "user bridge-xa-b\ntopic write sangsach/v1/bin-thon-1-01/telemetry\n" in text
    assert "topic write sangsach/v1/lamp-thon-1-001/telemetry\n" in text

    for args, says in (
        ([str(SAMPLE_REGISTRY)], "expected COMMUNE=REGISTRY_FILE"),
        (["xa-a=" + str(SAMPLE_REGISTRY), "xa-b=" + str(SAMPLE_REGISTRY)], "cả hai xã"),
        (["xa-a=" + str(other), "xa-a=" + str(other)], "given twice"),
        (["Xa=" + str(other)], "commune id"),
        (["xa-a=" + str(tmp_path / "none.yaml")], "cannot read the registry file"),
    ):
        refused = runner.invoke(main, ["bridges", "acl", *args, "--out", str(out)])
        assert refused.exit_code == 2 and says in refused.output, (args, refused.output)


def test_make_bridge_cert_refuses_a_bad_commune_and_a_missing_ca(tmp_path: Path) -> None:
    script = ROOT / "deploy" / "make-bridge-cert.sh"
    bad = subprocess.run([script, tmp_path, "Xã A"], capture_output=True, text=True)
    assert bad.returncode == 2 and "COMMUNE must be a-z" in bad.stderr
    missing = subprocess.run([script, tmp_path, "xa-a"], capture_output=True, text=True)
    assert missing.returncode == 2 and "make the central broker's CA first" in missing.stderr

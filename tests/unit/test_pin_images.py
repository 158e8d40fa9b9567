"""scripts/pin-images.sh on copies of the real files, with a stand-in for the registry.

The registry is out of reach here: a fake ``docker`` answers ``buildx imagetools inspect``
with a digest derived from the reference it is asked about, so the test sees which tag the
script resolved and where it wrote the answer.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ("docker-compose.yml", "Dockerfile")
PINNED = re.compile(r"(?:image:|FROM)\s+([a-z0-9./-]+:[^@\s]+)@sha256:[0-9a-f]{64}")
DIGESTS = re.compile(r"([a-z0-9./-]+:[^@\s]+)@(sha256:[0-9a-f]{64})")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")

FAKE_DOCKER = """#!/bin/sh
# buildx version | buildx imagetools inspect <ref> --format ...
[ "$1 $2" = "buildx version" ] && exit 0
[ "$1 $2 $3" = "buildx imagetools inspect" ] || exit 1
[ -n "$FAKE_DIGEST" ] && { echo "$FAKE_DIGEST"; exit 0; }
printf 'sha256:%s\\n' "$(printf '%s' "$4" | sha256sum | cut -d' ' -f1)"
"""


def digest_of(tagged: str) -> str:
    return "sha256:" + hashlib.sha256(tagged.encode()).hexdigest()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "pin-images.sh", tmp_path / "scripts")
    for name in FILES:
        shutil.copy2(ROOT / name, tmp_path / name)
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(FAKE_DOCKER)
    fake.chmod(0o755)
    return tmp_path


def pin(checkout: Path, *args: str, digest: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "pin-images.sh"), *args],
        capture_output=True, text=True, timeout=60,
        env={"PATH": f"{checkout / 'bin'}:/usr/bin:/bin", "FAKE_DIGEST": digest},
    )  # fmt: skip


def texts(folder: Path) -> dict[str, str]:
    return {name: (folder / name).read_text(encoding="utf-8") for name in FILES}


def pinned_tags(folder: Path) -> list[str]:
    return sorted(tag for text in texts(folder).values() for tag in PINNED.findall(text))


def test_every_tag_is_pinned_to_the_digest_the_registry_gives_and_nothing_else_moves(
    checkout: Path,
) -> None:
    before = texts(checkout)
    run = pin(checkout)
    assert run.returncode == 0, run.stderr
    tags = pinned_tags(checkout)
    assert len(tags) == 4, tags  # mosquitto, influxdb, grafana, the python base
    after = texts(checkout)
    found = [(tag, digest) for text in after.values() for tag, digest in DIGESTS.findall(text)]
    assert found and all(digest == digest_of(tag) for tag, digest in found), found
    assert {n: DIGEST.sub("", t) for n, t in after.items()} == {
        n: DIGEST.sub("", t) for n, t in before.items()
    }
    again = pin(checkout)
    assert again.returncode == 0, again.stderr
    assert "0 image reference(s) changed" in again.stdout


def test_a_new_tag_moves_that_image_only(checkout: Path) -> None:
    run = pin(checkout, "grafana/grafana:13.9.9")
    assert run.returncode == 0, run.stderr
    compose = texts(checkout)["docker-compose.yml"]
    assert f"image: grafana/grafana:13.9.9@{digest_of('grafana/grafana:13.9.9')}\n" in compose
    assert compose.count("grafana/grafana:") == 1


@pytest.mark.parametrize(
    ("args", "digest", "says"),
    [
        (("nginx:1.27.0",), "", "nginx is not an image of"),
        (("grafana/grafana",), "", "give name:tag"),
        ((), "sha256:not-a-digest", "no digest"),
    ],
)
def test_a_wrong_request_or_answer_changes_no_file(
    checkout: Path, args: tuple[str, ...], digest: str, says: str
) -> None:
    before = texts(checkout)
    run = pin(checkout, *args, digest=digest)
    assert run.returncode == 2
    assert says in run.stderr
    assert texts(checkout) == before

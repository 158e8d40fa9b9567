"""The image as the Dockerfile builds it (Docker itself does not run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
# What every pulled image must be (here and in docker-compose.yml): an exact release, three
# numbers and an optional variant such as `-slim-trixie`, with the digest of its multi-platform
# index; never a floating `3.11`, `2.0`, `1.8` or `latest`. scripts/pin-images.sh keeps them so.
PINNED_IMAGE = re.compile(r"[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?@sha256:[0-9a-f]{64}")


def instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


def test_the_data_folder_is_the_service_users_alone() -> None:
    """/data holds the databases and the spool: the service user's, 0700. A new volume
    mounted there starts with this owner and mode."""
    (final_stage_run,) = [run for run in instructions("RUN") if "useradd" in run]
    commands = [command.strip() for command in final_stage_run.split("&&")]
    assert "mkdir -p /data /broker" in commands
    assert "chown sangsach:broker /data /broker" in commands
    assert "chmod 0700 /data" in commands
    assert instructions("USER") == ["sangsach"]
    assert instructions("VOLUME") == ['["/data"]']


def test_every_process_of_the_image_is_the_sangsach_command() -> None:
    """The command sets the umask 077 for itself and what it starts (sangsach/cli.py)."""
    (entrypoint,) = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["sangsach"]


def test_the_base_image_is_an_exact_release_pinned_by_digest() -> None:
    """One pinned base; both stages start from it, so they cannot drift apart."""
    froms = [line.split() for line in instructions("FROM")]
    assert froms[0][1:] == ["AS", "base"]
    assert PINNED_IMAGE.fullmatch(froms[0][0]), froms[0][0]
    assert [f[0] for f in froms[1:]] == ["base", "base"]

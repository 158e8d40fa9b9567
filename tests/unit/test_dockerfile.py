"""The image as the Dockerfile builds it (Docker itself does not run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


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

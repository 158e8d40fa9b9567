"""The installed ``sangsach`` command, run as a person runs it: from any folder it says which data
directory and database it opened, and a command that reads refuses a database that does not
exist rather than create an empty one and answer zeros."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SANGSACH = Path(sys.executable).with_name("sangsach")

READERS = [
    ["report", "--period", "2026-H1"],
    ["rollup", "--from", "2026-01-01", "--to", "2026-01-02"],
    ["tokens", "list"],
    ["tokens", "revoke", "van-phong"],
    ["db", "current"],
]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANGSACH_")}
    return subprocess.run(
        [str(SANGSACH), *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reading_command_in_an_empty_folder_names_the_missing_database(
    tmp_path: Path, args: list[str]
) -> None:
    done = run(args, tmp_path)
    assert done.returncode != 0, done.stdout
    database = tmp_path / "var" / "sangsach.sqlite"
    assert f"không có cơ sở dữ liệu {database}" in done.stderr, done.stderr
    assert "SANGSACH_DATA_DIR" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created, not even the folder
    assert done.stdout == ""


def test_commands_say_which_data_directory_and_database_they_opened(tmp_path: Path) -> None:
    data = tmp_path / "du-lieu"
    elsewhere = tmp_path / "noi-khac"
    elsewhere.mkdir()
    opened = f"thư mục dữ liệu (data directory): {data}; cơ sở dữ liệu (database): {data}"

    added = run(["tokens", "add", "--name", "van-phong", "--role", "operator"], elsewhere,
                SANGSACH_DATA_DIR=str(data))  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stderr.startswith(f"sangsach: {opened}/sangsach.sqlite"), added.stderr
    assert added.stdout.splitlines()[-1].startswith("ss_")  # the secret alone on stdout's end

    listed = run(["tokens", "list"], elsewhere, SANGSACH_DATA_DIR=str(data))
    assert listed.returncode == 0, listed.stderr
    assert opened in listed.stderr and "van-phong" in listed.stdout

    # the token database exists, the readings do not: the report still refuses, naming them
    report = run(["report", "--period", "2026-H1"], elsewhere, SANGSACH_DATA_DIR=str(data))
    assert report.returncode != 0
    assert f"số liệu đo (readings): {data}/timeseries.sqlite" in report.stderr
    assert f"không có cơ sở dữ liệu {data}/timeseries.sqlite" in report.stderr
    assert not (data / "timeseries.sqlite").exists()
    assert list(elsewhere.iterdir()) == []

"""The README's first command: the demo runs on the embedded defaults and shows data flowing."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sangsach.config import DEV_ADMIN_TOKEN

pytestmark = pytest.mark.e2e


def test_demo_runs_and_reports_stored_readings(tmp_path: Path) -> None:
    # The demo prints its counts every 10 s and stops at the first print past --minutes: 0.3
    # (18 s) gives two prints, at 10 and 20 s, the two the test compares.
    done = subprocess.run(
        [sys.executable, "-m", "sangsach", "demo", "--minutes", "0.3", "--port", "0",
         "--data-dir", str(tmp_path / "demo")],
        env={**os.environ}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "bản chạy thử (demo) đang chạy" in out
    assert re.search(r"http://127\.0\.0\.1:\d+/docs", out)
    # how to sign in, Vietnamese first, with the development admin token that works
    assert re.search(r"Đăng nhập trang web \(sign in\): +http://127\.0\.0\.1:\d+/dang-nhap", out)
    assert f"quyền quản trị / admin role): {DEV_ADMIN_TOKEN}" in out
    stored = [int(n) for n in re.findall(r"đã lưu (\d+) bản tin đèn", out)]
    assert len(stored) >= 2 and stored[-1] > stored[0] > 0, out
    assert "380 thiết bị trực tuyến" in out
    assert (tmp_path / "demo" / "sangsach.sqlite").exists()
    assert (tmp_path / "demo" / "timeseries.sqlite").exists()
    # the commands it prints open the demo's data, from the folder it ran in
    [line] = re.findall(r"\(tokens issued\): +(SANGSACH_DATA_DIR=.*)", out)
    assignment, *command = shlex.split(line)
    listed = subprocess.run(
        command, env={**os.environ, **dict([assignment.split("=", 1)])},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert f"(database): {tmp_path / 'demo' / 'sangsach.sqlite'}" in listed.stderr

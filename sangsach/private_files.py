"""Files only the service's own account reads: the data folders, the databases, the spool.

The registry database holds names and phone numbers, the outbox the text of every SMS, the spool
and the time series every reading. Every process the ``sangsach`` command starts runs with the
umask 077 (``private_process``), and the code that creates the data folders and the SQLite files
sets their modes itself as well, so that a process started another way (an import, a test, a
server started by hand under umask 022) keeps them private too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600
# SQLite creates these beside a database with the database file's own mode, so they are private
# once it is; those left by an earlier crash keep whatever mode they had and are tightened too.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_process() -> None:
    """Whatever this process and its children create is for their own account only."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (with its parents) and leave it 0700.

    An existing folder of ours is tightened too (an installation from before), but never a
    folder of another account, nor a shared sticky one such as /tmp.
    """
    path.mkdir(parents=True, exist_ok=True)
    info = path.stat()
    if not info.st_mode & stat.S_ISVTX:
        _restrict(path, info, DIR_MODE)
    return path


def private_sqlite_file(path: Path) -> Path:
    """Make the folder and the SQLite file ``path`` private before SQLite opens it.

    An empty file is an empty database to SQLite, so creating it here, 0600, is what gives the
    database and its -wal and -shm files their mode whatever the umask.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE)
    try:
        _restrict(path, os.fstat(fd), FILE_MODE, fd=fd)
    finally:
        os.close(fd)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _restrict(side, side.stat(), FILE_MODE)
    return path


def _restrict(path: Path, info: os.stat_result, mode: int, fd: int | None = None) -> None:
    """Set ``mode`` on a file or folder this account owns; leave another account's alone."""
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) == mode:
        return
    if fd is None:
        path.chmod(mode)
    else:
        os.fchmod(fd, mode)

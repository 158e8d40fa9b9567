"""Mosquitto password files: ``user:$7$iterations$salt$hash`` lines (Mosquitto 2.0).

``$7$`` is PBKDF2-HMAC-SHA512 over the password with a random 12-byte salt, 101 iterations and
a 64-byte result, salt and result in standard base64: what ``mosquitto_passwd`` writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
HASH_BYTES = 64


class PasswordFileError(ValueError):
    """A password file line that is not ``user:$7$...``; the message names the line."""


def new_password() -> str:
    """A random password of 24 URL-safe characters (144 bits), easy to type into a settings file."""
    return secrets.token_urlsafe(18)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, HASH_BYTES)
    return f"$7${ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        raise PasswordFileError(f"not a $7$ (PBKDF2-SHA512) hash: {encoded[:12]}...")
    salt = base64.b64decode(parts[3])
    expected = base64.b64decode(parts[4])
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(expected))
    return hmac.compare_digest(digest, expected)


def parse(text: str, source: str = "<password file>") -> dict[str, str]:
    """User name -> encoded hash, in file order."""
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith("$"):
            raise PasswordFileError(f"{source}:{number}: expected `user:$7$...`")
        if user in users:
            raise PasswordFileError(f"{source}:{number}: user {user!r} appears twice")
        users[user] = encoded
    return users


def render(users: dict[str, str]) -> str:
    return "".join(f"{user}:{encoded}\n" for user, encoded in sorted(users.items()))


def write_atomically(path: Path, text: str, mode: int = 0o640) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, fsync, rename.

    Group-readable (0640): in docker-compose the broker reads it through a shared group, and
    nobody else may (see docs/deploy.md). A folder made here is 0750 for the same reason,
    whatever the umask (the ``sangsach`` command runs with 077).
    """
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True)
        path.parent.chmod(0o750)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

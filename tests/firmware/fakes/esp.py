"""Fake ``esp``, for boot.py."""


def osdebug(level: object) -> None:
    pass
